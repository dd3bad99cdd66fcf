"""Test-set metrics of a trained model, per image over the 784 real pixels."""

from __future__ import annotations

import torch

from betavae.losses import bernoulli_nll, kl_divergence
from betavae.model import BetaVAE, reparameterize


@torch.no_grad()
def evaluate(model: BetaVAE, images: torch.Tensor, batch_size: int, seed: int) -> dict[str, float]:
    """MSE of the posterior-mean reconstruction; Bernoulli reconstruction loss, KL and ELBO in nats.

    The ELBO is the beta = 1 bound, log p(x) >= E_q[log p(x|z)] - KL(q(z|x) || p(z)), estimated
    with one seeded sample of z per image.
    """
    generator = torch.Generator().manual_seed(seed)
    totals = {"squared_error": 0.0, "reconstruction": 0.0, "kl": 0.0}
    for batch in images.split(batch_size):
        mu, logvar = model.encode(batch)
        mean_reconstruction = model.decode(mu)
        z = reparameterize(mu, logvar, generator)
        totals["squared_error"] += (mean_reconstruction - batch).pow(2).sum().item()
        totals["reconstruction"] += bernoulli_nll(model.decode_logits(z), batch).sum().item()
        totals["kl"] += kl_divergence(mu, logvar).sum().item()
    count = len(images)
    reconstruction, kl = totals["reconstruction"] / count, totals["kl"] / count
    return {
        "test_mse": totals["squared_error"] / images[0].numel() / count,
        "reconstruction_nats": reconstruction,
        "kl_nats": kl,
        "elbo_nats": -(reconstruction + kl),
        "test_images": count,
    }
