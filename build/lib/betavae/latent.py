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


def slerp_latents(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation (Shoemake, 1985), both ends included: [D], [D] -> [steps, D].

    Walks the great circle between the two directions, so midpoints keep a norm typical of
    N(0, I) samples instead of shrinking towards the origin as a straight line does.
    """
    cosine = torch.dot(start, end) / (start.norm() * end.norm()).clamp_min(1e-12)
    omega = torch.arccos(cosine.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:  # (nearly) parallel: the straight line is the same path
        return interpolate_latents(start, end, steps)
    t = torch.linspace(0.0, 1.0, steps).unsqueeze(1)
    return (torch.sin((1 - t) * omega) * start + torch.sin(t * omega) * end) / torch.sin(omega)


INTERPOLATIONS = {"linear": interpolate_latents, "slerp": slerp_latents}


def class_pairs(count: int, classes: int = 10) -> list[tuple[int, int]]:
    """count pairs of distinct classes, spread over all of them."""
    pairs = list(itertools.combinations(range(classes), 2))
    return [pairs[i * len(pairs) // count] for i in range(count)]


@torch.no_grad()
def interpolation_rows(model: BetaVAE, images: torch.Tensor, labels: torch.Tensor, pairs: int,
                       steps: int, method: str = "linear") -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """For each class pair, the first test image of each class with the decoded walk between
    their posterior means: [pairs, steps + 2, 1, 28, 28] (originals at both ends), and the pairs."""
    chosen = class_pairs(pairs)
    rows = []
    for a, b in chosen:
        ends = torch.stack([images[labels == a][0], images[labels == b][0]])
        mu, _ = model.encode(ends)
        walk = model.decode(INTERPOLATIONS[method](mu[0], mu[1], steps))
        rows.append(torch.cat([ends[:1], walk, ends[1:]]))
    return torch.stack(rows), chosen


@torch.no_grad()
def traverse(model: BetaVAE, mu: torch.Tensor, dimensions: list[int], steps: int, span: float) -> torch.Tensor:
    """Decode mu with one dimension at a time swept over [-span, span]: [D] -> [len(dims), steps, 1, 28, 28]."""
    values = torch.linspace(-span, span, steps)
    rows = []
    for dimension in dimensions:
        z = mu.repeat(steps, 1)
        z[:, dimension] = values
        rows.append(model.decode(z))
    return torch.stack(rows)


def pca_2d(points: torch.Tensor) -> torch.Tensor:
    """Project [N, D] onto its two principal axes: [N, 2] (signs fixed so the result is deterministic)."""
    centred = points - points.mean(0)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = vh[:2]
    axes = axes * torch.sign(axes[torch.arange(2), axes.abs().argmax(1)]).unsqueeze(1)
    return centred @ axes.T


def first_of_each_class(labels: torch.Tensor, per_class: int, classes: int = 10) -> torch.Tensor:
    """Indices of the first per_class items of every class, class by class."""
    return torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(classes)])
