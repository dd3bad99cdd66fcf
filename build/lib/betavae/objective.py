"""What training minimises, per image, read top to bottom.

    loss(x) = reconstruction(x, decode(z)) + w · β · KL(q(z|x) ‖ N(0, I)),   z ~ q(z|x)

- The β-VAE objective: Higgins et al., "β-VAE: Learning basic visual concepts with a constrained
  variational framework", ICLR 2017, eq. 4. At β = 1 and w = 1, where the reconstruction is a true
  −log p(x|z), it is the negative ELBO of Kingma & Welling, "Auto-encoding variational Bayes", ICLR 2014.
- reconstruction, picked by `train.loss`, on the decoder's logits η (λ = sigmoid(η) per pixel):
  - `bce` (the default): the Bernoulli cross-entropy −Σ x log λ + (1 − x) log(1 − λ). On binary pixels it
    is −log p(x|z) of a Bernoulli. On grey levels it is not: that "density" integrates to 1/C(λ) < 1 per
    pixel, so it is a training objective, not a likelihood.
  - `continuous_bernoulli`: −log p(x|z) under the continuous Bernoulli, the Bernoulli renormalised into a
    density on [0, 1] by C(λ) (Loaiza-Ganem & Cunningham, "The continuous Bernoulli: fixing a pervasive
    error in variational autoencoders", NeurIPS 2019).
  - `mse`: the sum of squared pixel errors of λ (no density).
- KL: in closed form for a diagonal Gaussian posterior against the standard normal prior.
- w: the KL warm-up weight (Bowman et al., "Generating sentences from a continuous space", CoNLL 2016),
  rising linearly from 0 to 1 over the first `train.kl_warmup_epochs` epochs of training, then 1; every
  validation pass uses w = 1.

`beta_vae_loss` is that line for a batch, each term averaged over its images; the torchbearer glue in
betavae.training calls it, and so do the benchmark's reference loop and the diagnostics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) under independent Bernoulli pixels: [B, 1, H, W] -> [B], in nats."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(dim=1)


def continuous_bernoulli_log_normalizer(logits: torch.Tensor) -> torch.Tensor:
    """log C(λ) of the continuous Bernoulli, elementwise, from the logits η = log(λ / (1 − λ)).

    C(λ) = 2 atanh(1 − 2λ) / (1 − 2λ) (Loaiza-Ganem & Cunningham 2019, eq. 7); with 1 − 2λ = −tanh(η/2)
    it is η / tanh(η/2). Written in η it stays finite where λ rounds to 0 or 1 (C grows like |η|);
    near λ = 1/2 (η = 0, where the closed form is 0/0) a Taylor series takes over: with u = η/2,
    log C = log 2 + u²/3 − 7u⁴/90 + 62u⁶/2835 + O(u⁸).
    """
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 is too coarse for it
    u = logits / 2
    near_half = u.abs() < _TAYLOR_BELOW
    safe = torch.where(near_half, torch.ones_like(u), u)  # keeps the unused branch (and its gradient) finite
    closed_form = torch.log(2 * safe.abs()) - torch.log(torch.tanh(safe.abs()))
    u2 = u * u
    taylor = math.log(2.0) + u2 * (1 / 3 + u2 * (-7 / 90 + u2 * 62 / 2835))
    return torch.where(near_half, taylor, closed_form)


def continuous_bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) under independent continuous Bernoulli pixels: [B, 1, H, W] -> [B], in nats.

    A true density on [0, 1]^pixels: the Bernoulli cross-entropy minus log C(λ) of each pixel.
    """
    log_density = -F.binary_cross_entropy_with_logits(logits.float(), images, reduction="none") \
        + continuous_bernoulli_log_normalizer(logits)
    return -log_density.flatten(1).sum(dim=1)


def continuous_bernoulli_mean(logits: torch.Tensor) -> torch.Tensor:
    """E[x] under the continuous Bernoulli: λ/(2λ − 1) + 1/(2 atanh(1 − 2λ)), elementwise, in [0, 1].

    In u = η/2 it is (1 + L(u)) / 2 with the Langevin function L(u) = coth u − 1/u, whose series
    u/3 − u³/45 + 2u⁵/945 takes over near λ = 1/2, where the closed form is ∞ − ∞.
    """
    u = logits.to(torch.promote_types(logits.dtype, torch.float32)) / 2
    near_half = u.abs() < _TAYLOR_BELOW
    safe = torch.where(near_half, torch.ones_like(u), u)
    closed_form = 1 / torch.tanh(safe) - 1 / safe
    u2 = u * u
    taylor = u * (1 / 3 + u2 * (-1 / 45 + u2 * 2 / 945))
    return (1 + torch.where(near_half, taylor, closed_form)) / 2


def squared_error(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Sum of squared pixel errors of sigmoid(logits): [B, 1, H, W] -> [B]."""
    return (torch.sigmoid(logits) - images).pow(2).flatten(1).sum(dim=1)


RECONSTRUCTION_LOSSES = {"bce": bernoulli_nll, "continuous_bernoulli": continuous_bernoulli_nll, "mse": squared_error}
_TAYLOR_BELOW = 0.1  # |η/2| below which the series are used; their first omitted term is < 1e-8 there


def reconstruction_loss(kind: str, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-image reconstruction loss of the kind named in train.loss: [B, 1, H, W] -> [B]."""
    return RECONSTRUCTION_LOSSES[kind](logits, images)


def is_log_likelihood(loss: str, binary_pixels: bool) -> bool:
    """Whether the reconstruction loss is −log p(x|z) of a normalised density (or mass) on the data."""
    return loss == "continuous_bernoulli" or (loss == "bce" and binary_pixels)


def decoder_mean(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """The image the decoder stands for: the mean of its pixel distribution, in [0, 1]."""
    if loss == "continuous_bernoulli":
        return continuous_bernoulli_mean(logits)
    return torch.sigmoid(logits)


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


@dataclass(frozen=True)
class LossParts:
    """The β-VAE loss of a batch and its parts, each a scalar mean over the batch's images."""

    loss: torch.Tensor  # reconstruction + kl_term: what the optimiser minimises
    reconstruction: torch.Tensor
    kl: torch.Tensor  # KL(q(z|x) ‖ N(0, I)), unweighted
    kl_term: torch.Tensor  # w · β · KL


def beta_vae_loss(kind: str, logits: torch.Tensor, images: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                  beta: float, kl_weight: float = 1.0) -> LossParts:
    """loss = reconstruction + w · β · KL (module docstring), averaged over the batch.

    logits and images [B, 1, H, W], mu and logvar [B, D]; kind is train.loss, kl_weight the warm-up's w.
    """
    reconstruction = reconstruction_loss(kind, logits, images).mean()
    kl = kl_divergence(mu, logvar).mean()
    weighted = kl_term(kl, beta, kl_weight)
    return LossParts(reconstruction + weighted, reconstruction, kl, weighted)
