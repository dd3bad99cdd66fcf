"""The two terms of the beta-VAE objective, per image (sums over pixels or latent dimensions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kl_divergence_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_j, exp(logvar_j)) || N(0, 1)) of each latent dimension: [B, D] -> [B, D], in nats.

    Closed form from Kingma & Welling (2014), Appendix B:
    -KL = 1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row: [B, D] -> [B], in nats."""
    return kl_divergence_per_dimension(mu, logvar).sum(dim=1)


def bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) under independent Bernoulli pixels: [B, 1, H, W] -> [B], in nats."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(dim=1)


def squared_error(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Sum of squared pixel errors of sigmoid(logits): [B, 1, H, W] -> [B]."""
    return (torch.sigmoid(logits) - images).pow(2).flatten(1).sum(dim=1)


RECONSTRUCTION_LOSSES = {"bce": bernoulli_nll, "mse": squared_error}


def reconstruction_loss(kind: str, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-image reconstruction loss of the kind named in train.loss."""
    return RECONSTRUCTION_LOSSES[kind](logits, images)
