"""What training minimises, per image, read top to bottom.

    loss(x) = reconstruction(x, decode(z)) + w · β · KL(q(z|x) ‖ N(0, I)),   z ~ q(z|x)

- The β-VAE objective: Higgins et al., "β-VAE: Learning basic visual concepts with a constrained
  variational framework", ICLR 2017, eq. 4. At β = 1 and w = 1 it is the negative ELBO of Kingma &
  Welling, "Auto-encoding variational Bayes", ICLR 2014.
- reconstruction: −log p(x|z) under independent Bernoulli pixels on the decoder's logits (`bce`, the
  default), or the sum of squared pixel errors (`mse`); `train.loss` picks one.
- KL: in closed form for a diagonal Gaussian posterior against the standard normal prior.
- w: the KL warm-up weight (Bowman et al., "Generating sentences from a continuous space", CoNLL 2016),
  rising linearly from 0 to 1 over the first `train.kl_warmup_epochs` epochs of training, then 1; every
  validation pass uses w = 1.

Training averages each term over the batch; the torchbearer glue in betavae.training calls these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) under independent Bernoulli pixels: [B, 1, H, W] -> [B], in nats."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(dim=1)


def squared_error(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Sum of squared pixel errors of sigmoid(logits): [B, 1, H, W] -> [B]."""
    return (torch.sigmoid(logits) - images).pow(2).flatten(1).sum(dim=1)


RECONSTRUCTION_LOSSES = {"bce": bernoulli_nll, "mse": squared_error}


def reconstruction_loss(kind: str, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-image reconstruction loss of the kind named in train.loss: [B, 1, H, W] -> [B]."""
    return RECONSTRUCTION_LOSSES[kind](logits, images)


def kl_divergence_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_j, exp(logvar_j)) || N(0, 1)) of each latent dimension: [B, D] -> [B, D], in nats.

    Closed form from Kingma & Welling (2014), Appendix B:
    -KL = 1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row: [B, D] -> [B], in nats."""
    return kl_divergence_per_dimension(mu, logvar).sum(dim=1)


def kl_weight(epoch: int, batch: int, steps_per_epoch: int, warmup_epochs: int) -> float:
    """w at a training step: rises linearly from 0 to 1 over warmup_epochs, batch by batch, then stays 1."""
    if warmup_epochs == 0:
        return 1.0
    return min(1.0, (epoch + batch / steps_per_epoch) / warmup_epochs)


def kl_term(kl: torch.Tensor, beta: float, weight: float = 1.0) -> torch.Tensor:
    """The KL term of the loss, w · β · KL."""
    return beta * weight * kl
