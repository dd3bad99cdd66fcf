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


def check_finite(*tensors: torch.Tensor) -> None:
    """Posterior means and KLs are finite numbers: a model whose are not has failed, and UDR says nothing of it."""
    if not all(torch.isfinite(tensor).all() for tensor in tensors):
        raise ValueError("posterior means and KL per unit must be finite numbers")


def pair_score(mu_a: torch.Tensor, kl_a: torch.Tensor, mu_b: torch.Tensor, kl_b: torch.Tensor,
               threshold: float = KL_THRESHOLD) -> float:
    """UDR of two models from their posterior means of the same images [N, D] and mean KL per unit [D].

    A model without any unit above the threshold (posterior collapse) shares nothing: the pair scores 0.
    """
    check_finite(mu_a, kl_a, mu_b, kl_b)
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


# --- Chance level and a bootstrap over seeds ---------------------------------------------------------------
#
# UDR's relative strength is well above 0 for two codes that hold the same information in unaligned axes,
# and more so the fewer units they have. Its chance level is what the same pair would score if each model's
# axes were arbitrary: one model's active posterior means against random rotations of the other's, each
# unit standardised first so that a rotation mixes the units evenly (UDR only sees ranks, so standardising
# changes nothing else). docs/sweep.md argues the choice.

CHANCE_ROTATIONS = 50  # random rotations per direction of each pair
BOOTSTRAP_DRAWS = 2000
INTERVAL = 0.95


def random_rotation(dim: int, generator: torch.Generator) -> torch.Tensor:
    """An orthogonal [dim, dim] matrix drawn uniformly (Haar): QR of a Gaussian matrix, signs fixed by R's diagonal."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def standardize(values: torch.Tensor) -> torch.Tensor:
    """Each column to mean 0 and sd 1 (a constant column stays 0): [N, D] -> [N, D] float64."""
    check_finite(values)
    values = values.double()
    sd = values.std(dim=0)
    return (values - values.mean(dim=0)) / torch.where(sd > 0, sd, torch.ones_like(sd))


def chance_pair_score(mu_a: torch.Tensor, kl_a: torch.Tensor, mu_b: torch.Tensor, kl_b: torch.Tensor,
                      rotations: int = CHANCE_ROTATIONS, seed: int = 0, threshold: float = KL_THRESHOLD) -> float:
    """The pair's UDR if each model held what it holds in arbitrary axes: each one's standardised active
    posterior means against `rotations` random rotations of the other's, averaged over both directions."""
    check_finite(mu_a, kl_a, mu_b, kl_b)
    active_a, active_b = kl_a > threshold, kl_b > threshold
    if not active_a.any() or not active_b.any():
        return 0.0
    a, b = standardize(mu_a[:, active_a]), standardize(mu_b[:, active_b])
    generator = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(rotations):
        scores.append(relative_strength(spearman_matrix(a, b @ random_rotation(b.shape[1], generator))))
        scores.append(relative_strength(spearman_matrix(a @ random_rotation(a.shape[1], generator), b)))
    return sum(scores) / len(scores)


def _median_over_resampled_pairs(scores: dict[tuple[int, int], float], resample: list[int]) -> float | None:
    """Median over every pair of positions in the resample that holds two different models (None if none)."""
    values = [scores[min(i, j), max(i, j)] for i, j in combinations(resample, 2) if i != j]
    return median(values) if values else None


def _percentiles(values: list[float], level: float) -> list[float]:
    ordered = sorted(values)
    tail = (1 - level) / 2
    return [ordered[round(tail * (len(ordered) - 1))], ordered[round((1 - tail) * (len(ordered) - 1))]]


def bootstrap_over_seeds(pair_scores: dict[tuple[int, int], float], pair_chance: dict[tuple[int, int], float],
                         count: int, draws: int = BOOTSTRAP_DRAWS, seed: int = 0, level: float = INTERVAL) -> dict:
    """Percentile intervals of UDR, its chance level and their difference, from resampling the models
    (seeds) with replacement: every pair a resample holds counts, so pairs that share a model move together.

    Resamples with one distinct model have no pair and are left out; `resamples` says how many were kept.
    """
    generator = torch.Generator().manual_seed(seed)
    kept: dict[str, list[float]] = {"udr": [], "chance": [], "above_chance": []}
    above = {pair: pair_scores[pair] - pair_chance[pair] for pair in pair_scores}
    for _ in range(draws):
        resample = torch.randint(count, (count,), generator=generator).tolist()
        score = _median_over_resampled_pairs(pair_scores, resample)
        if score is None:
            continue
        kept["udr"].append(score)
        kept["chance"].append(_median_over_resampled_pairs(pair_chance, resample))
        kept["above_chance"].append(_median_over_resampled_pairs(above, resample))
    return {"level": level, "draws": draws, "resamples": len(kept["udr"]),
            **{name: _percentiles(values, level) for name, values in kept.items()}}


def udr_with_chance(representations: list[tuple[torch.Tensor, torch.Tensor]], rotations: int = CHANCE_ROTATIONS,
                    draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> dict:
    """udr() with, per pair, its chance level, and for UDR, chance and UDR − chance a bootstrap interval over seeds."""
    pairs = list(combinations(range(len(representations)), 2))
    scores = {(i, j): pair_score(*representations[i], *representations[j]) for i, j in pairs}
    chance = {(i, j): chance_pair_score(*representations[i], *representations[j], rotations=rotations, seed=seed)
              for i, j in pairs}
    return udr_from_pairs(scores, chance, len(representations), draws, seed)


def udr_from_pairs(scores: dict[tuple[int, int], float], chance: dict[tuple[int, int], float], count: int,
                   draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> dict:
    """UDR, its chance level and UDR − chance of `count` models from every pair's score and chance score (pairs
    (i, j), i < j): the medians over pairs, each model's median, and bootstrap intervals over seeds. A seed
    group records its pairs as each model is trained (studies/seed_group.py); this puts them together."""
    if count < 2:
        raise ValueError("UDR compares models with each other: it needs at least two")
    missing = [pair for pair in combinations(range(count), 2) if pair not in scores or pair not in chance]
    if missing:
        raise ValueError(f"UDR needs every pair of the {count} models; missing {missing[:3]}")
    models = [median(score for pair, score in scores.items() if i in pair) for i in range(count)]
    above = {pair: scores[pair] - chance[pair] for pair in scores}
    return {"udr": median(scores.values()), "model_scores": models,
            "pair_scores": {f"{i}-{j}": score for (i, j), score in scores.items()},
            "chance": median(chance.values()), "above_chance": median(above.values()),
            "pair_chance": {f"{i}-{j}": value for (i, j), value in chance.items()},
            "bootstrap": bootstrap_over_seeds(scores, chance, count, draws, seed)}
