"""UDR, a label-free disentanglement score: how alike the latents of models that differ only in their seed are.

Duan et al., "Unsupervised Model Selection for Variational Disentangled Representation Learning", ICLR
2020, ported from google-research/disentanglement_lib (evaluation/udr/metrics/udr.py, the Spearman
variant): for two models, the absolute Spearman correlations R between every latent unit of one and
every unit of the other, over the posterior means of the same images, with the units whose mean KL is
below 0.01 left out. Each unit's relative strength is max(R)² / sum(R) along its row (or column); the
pair's score is the mean of the two directions' averages, 1 when the units match one to one (up to
order and sign), near 0 when they are unrelated. A model's score is the median over its pairs.
"""

from __future__ import annotations

from itertools import combinations
from statistics import median

import torch

KL_THRESHOLD = 0.01  # nats; below it a unit is switched off and left out (the paper's and the library's value)


def ranks(values: torch.Tensor) -> torch.Tensor:
    """Rank of each value within its column (0 .. N-1): [N, D] -> [N, D] float64. Ties get distinct ranks."""
    order = values.argsort(dim=0)
    ranked = torch.empty_like(order)
    ranked.scatter_(0, order, torch.arange(len(values)).unsqueeze(1).expand_as(order))
    return ranked.double()


def spearman_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|Spearman correlation| of every column of a [N, Da] with every column of b [N, Db]: [Da, Db]."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"the representations must be of the same images, got {a.shape[0]} and {b.shape[0]} rows")
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(0), rb - rb.mean(0)
    covariance = ra.T @ rb
    return (covariance / torch.outer(ra.norm(dim=0), rb.norm(dim=0))).abs()


def relative_strength(correlations: torch.Tensor) -> float:
    """The library's relative_strength_disentanglement: mean over both directions of max(R)² / sum(R)."""
    def one_direction(dim: int) -> float:
        strength = correlations.max(dim=dim).values.pow(2) / correlations.sum(dim=dim)
        return torch.nan_to_num(strength, nan=0.0).mean().item()  # a unit correlated with nothing scores 0
    return (one_direction(0) + one_direction(1)) / 2


def pair_score(mu_a: torch.Tensor, kl_a: torch.Tensor, mu_b: torch.Tensor, kl_b: torch.Tensor,
               threshold: float = KL_THRESHOLD) -> float:
    """UDR of two models from their posterior means of the same images [N, D] and mean KL per unit [D].

    A model without any unit above the threshold (posterior collapse) shares nothing: the pair scores 0.
    """
    active_a, active_b = kl_a > threshold, kl_b > threshold
    if not active_a.any() or not active_b.any():
        return 0.0
    return relative_strength(spearman_matrix(mu_a[:, active_a], mu_b[:, active_b]))


def udr(representations: list[tuple[torch.Tensor, torch.Tensor]]) -> dict:
    """UDR of models that differ only in their seed, from (posterior means [N, D], mean KL per unit [D]).

    Returns the score of every pair, every model's median over its pairs, and the median over the pairs.
    """
    if len(representations) < 2:
        raise ValueError("UDR compares models with each other: it needs at least two")
    pairs = {(i, j): pair_score(*representations[i], *representations[j])
             for i, j in combinations(range(len(representations)), 2)}
    models = [median(score for pair, score in pairs.items() if i in pair) for i in range(len(representations))]
    return {"udr": median(pairs.values()), "model_scores": models,
            "pair_scores": {f"{i}-{j}": score for (i, j), score in pairs.items()}}
