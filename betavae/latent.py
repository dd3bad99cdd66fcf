"""Walks in latent space: prior samples and interpolations between posterior means."""

from __future__ import annotations

import itertools

import torch

from betavae.model import BetaVAE


@torch.no_grad()
def sample_prior(model: BetaVAE, count: int, seed: int) -> torch.Tensor:
    """Decode count draws z ~ N(0, I): images [count, 1, 28, 28]."""
    generator = torch.Generator().manual_seed(seed)
    return model.decode(torch.randn(count, model.config.latent_dim, generator=generator))


def interpolate_latents(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """Evenly spaced points from start to end, both included: [D], [D] -> [steps, D]."""
    weights = torch.linspace(0.0, 1.0, steps).unsqueeze(1)
    return (1.0 - weights) * start + weights * end


def class_pairs(count: int, classes: int = 10) -> list[tuple[int, int]]:
    """count pairs of distinct classes, spread over all of them."""
    pairs = list(itertools.combinations(range(classes), 2))
    return [pairs[i * len(pairs) // count] for i in range(count)]


@torch.no_grad()
def interpolation_rows(model: BetaVAE, images: torch.Tensor, labels: torch.Tensor, pairs: int,
                       steps: int) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """For each class pair, the first test image of each class with the decoded walk between
    their posterior means: [pairs, steps + 2, 1, 28, 28] (originals at both ends), and the pairs."""
    chosen = class_pairs(pairs)
    rows = []
    for a, b in chosen:
        ends = torch.stack([images[labels == a][0], images[labels == b][0]])
        mu, _ = model.encode(ends)
        walk = model.decode(interpolate_latents(mu[0], mu[1], steps))
        rows.append(torch.cat([ends[:1], walk, ends[1:]]))
    return torch.stack(rows), chosen
