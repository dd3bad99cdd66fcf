"""The statistics of comparing two groups of seeds, metric by metric, from scipy.stats.

For each metric: the difference of the means with Welch's 95% interval (the two sides may have different
seed sd), the probability that a seed of B scores above a seed of A (Mann-Whitney U / (k_A k_B)) with a
bootstrap interval, and a verdict that holds a family-wise error rate over every metric tested together:

- both sides with at least PERMUTATION_FROM seeds: a permutation max-t test (Westfall and Young's single
  step). The seeds of both sides are pooled and dealt out again in every way (or, past EXACT_UP_TO ways, in
  RESAMPLES random ways); each metric's adjusted p is the share of deals whose largest |Welch t| over all the
  tested metrics reaches the metric's own |t|. It uses the metrics' correlations, assumes no normal law, and
  holds the family-wise rate whatever the seeds' distribution, the two sides being exchangeable under "no
  difference".
- fewer seeds: Welch's t test per metric, Holm's step-down correction over the metrics.
- one run against a group: the run as one more draw of the group's law, a prediction interval (t = (x - mean)
  / (sd sqrt(1 + 1/k)), k - 1 degrees of freedom), Holm over the metrics.

`resolvable_difference` and `seeds_needed` say what a comparison could see: the difference it resolves at
80% power with these seeds, and the seeds a side it would need for a given difference (Welch's normal-theory
approximation at the Bonferroni level alpha / m, which the permutation test beats a little).
"""

from __future__ import annotations

import bisect
import contextlib
import math
import warnings
from dataclasses import dataclass
from math import comb
from typing import Iterator, Sequence, Sized

import numpy as np
from scipy import stats

PERMUTATION_FROM = 5  # seeds a side from which the permutation max-t test is used
EXACT_UP_TO = 20_000  # deals of the pooled seeds enumerated exactly; more are sampled
RESAMPLES = 9_999
TIES = 1e-12  # relative: a |t| this close to the observed one ties with it
BOOTSTRAP_RESAMPLES = 2_000
LEVEL = 0.95  # of the intervals
POWER = 0.8


@dataclass(frozen=True)
class Summary:
    """One side's values of one metric."""

    count: int
    mean: float
    sd: float  # sample standard deviation (nan for a single value)

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary":
        values = np.asarray(values, dtype=float)
        if len(values) == 0:
            raise ValueError("a side without values has no summary")
        return cls(len(values), float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan)


def _two_seeds_each(a: Sized, b: Sized) -> None:
    """Welch's t needs each side's sample sd, so at least two seeds a side."""
    if min(len(a), len(b)) < 2:
        raise ValueError(f"Welch's t needs at least 2 seeds a side, not {len(a)} and {len(b)}")


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> tuple[float, float, float, float]:
    """mean(b) - mean(a), its Welch interval (low, high) and degrees of freedom. Two sides without spread
    give a point interval."""
    _two_seeds_each(a, b)
    a, b = np.asarray(a, float), np.asarray(b, float)
    difference = float(b.mean() - a.mean())
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        return difference, difference, difference, math.inf
    with _one_side_may_agree():
        result = stats.ttest_ind(b, a, equal_var=False)
        interval = result.confidence_interval(level)
    return difference, float(interval.low), float(interval.high), float(result.df)


def welch_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Welch's t of b against a along the seeds' axis (-2) for each metric (last axis): [..., k, m] -> [..., m].
    A difference between two sides without spread is infinitely many standard errors; no difference is 0; a
    value that is not a number gives no t (nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = b.mean(axis=-2) - a.mean(axis=-2)
        error = np.sqrt(a.var(axis=-2, ddof=1) / a.shape[-2] + b.var(axis=-2, ddof=1) / b.shape[-2])
        t = difference / error
    return np.where(error == 0, np.where(difference == 0, 0.0, np.copysign(np.inf, difference)), t)


def permutation_max_t(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Adjusted p of each metric (columns of a [k_a, m] and b [k_b, m]) by the permutation max-t test."""
    _two_seeds_each(a, b)
    pooled = np.vstack([a, b])

    def largest_t(first: np.ndarray, second: np.ndarray, axis: int = -1) -> np.ndarray:
        # first, second: indices of the seeds dealt to each side, [..., k]
        return np.abs(welch_t(pooled[first], pooled[second])).max(axis=-1)

    exact = comb(len(pooled), len(a)) <= EXACT_UP_TO
    result = stats.permutation_test((np.arange(len(a)), np.arange(len(a), len(pooled))), largest_t,
                                    permutation_type="independent", vectorized=True,
                                    n_resamples=EXACT_UP_TO if exact else resamples,
                                    alternative="greater", random_state=np.random.default_rng(seed))
    return p_from_null(np.abs(welch_t(a, b)), result.null_distribution, exact)


def p_from_null(observed: np.ndarray, null: np.ndarray, exact: bool) -> np.ndarray:
    """Each observed |t|'s p from the largest |t| of the deals: the share that reach it. Every deal (exact, the
    observed one among them), or random ones with the observed deal counted in, (count + 1) / (deals + 1).
    A |t| within TIES of the observed one reaches it: the same deal's t, summed in another order, rounds apart."""
    reached = np.array([np.count_nonzero(null >= t * (1 - TIES)) for t in observed])
    return reached / len(null) if exact else (reached + 1) / (len(null) + 1)


def smallest_permutation_p(count_a: int, count_b: int) -> float:
    """The smallest adjusted p a permutation test of these side sizes can give: 1 / (RESAMPLES + 1) from random
    deals; from every deal, the observed one's share, two deals' for equal sides (it and its mirror image)."""
    _two_seeds_each(range(count_a), range(count_b))
    deals = comb(count_a + count_b, count_a)
    if deals > EXACT_UP_TO:
        return 1 / (RESAMPLES + 1)
    return (2 if count_a == count_b else 1) / deals


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    _two_seeds_each(a, b)
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        return 1.0 if a.mean() == b.mean() else 0.0
    with _one_side_may_agree():
        return float(stats.ttest_ind(b, a, equal_var=False).pvalue)


@contextlib.contextmanager
def _one_side_may_agree() -> Iterator[None]:
    """A side whose seeds all agree (a count such as active units, often) has no spread, which Welch's test
    takes as it is; scipy warns of lost precision for it, which says nothing here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        yield


def prediction_p(group: Sequence[float], run: float) -> float:
    """Two-sided p of one run as one more draw of the group's normal law (a prediction interval's t)."""
    group = np.asarray(group, float)
    sd = group.std(ddof=1)
    if sd == 0:
        return 1.0 if run == group.mean() else 0.0
    t = (run - group.mean()) / (sd * math.sqrt(1 + 1 / len(group)))
    return float(2 * stats.t.sf(abs(t), len(group) - 1))


def prediction_interval(difference: float, sd: float, count: int, alpha: float,
                        level: float = LEVEL, power: float = POWER) -> tuple[tuple[float, float], float]:
    """For one run against a group of `count` seeds: the interval of run - mean (level), and the difference the
    prediction test at level alpha resolves with the given power."""
    scale = sd * math.sqrt(1 + 1 / count)
    half = stats.t.ppf(0.5 + level / 2, count - 1) * scale
    resolvable = (stats.t.ppf(1 - alpha / 2, count - 1) + stats.t.ppf(power, count - 1)) * scale
    return (difference - half, difference + half), resolvable


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p values, in the input's order: the i-th smallest p times (m - i), each at
    least the one before it, at most 1."""
    pvalues = np.asarray(pvalues, float)
    order = np.argsort(pvalues, kind="stable")
    scaled = pvalues[order] * (len(pvalues) - np.arange(len(pvalues)))
    adjusted = np.empty_like(pvalues)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def probability_of_superiority(a: Sequence[float], b: Sequence[float]) -> float:
    """P(a seed of B scores above a seed of A), ties counting half: Mann-Whitney's U of B / (k_A k_B)."""
    return float(stats.mannwhitneyu(b, a).statistic / (len(a) * len(b)))


def _superiority(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """probability_of_superiority along the last axis, for many resamples at once: [..., k_a], [..., k_b]."""
    above = b[..., :, None] > a[..., None, :]
    ties = b[..., :, None] == a[..., None, :]
    return (above + 0.5 * ties).mean(axis=(-2, -1))


def superiority_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL,
                         seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of probability_of_superiority, each side resampled on its own."""
    result = stats.bootstrap((np.asarray(a, float), np.asarray(b, float)), _superiority, paired=False,
                             vectorized=True,
                             confidence_level=level, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                             random_state=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _welch_df(sd_a: float, sd_b: float, count_a: int, count_b: int) -> float:
    va, vb = sd_a ** 2 / count_a, sd_b ** 2 / count_b
    denominator = va ** 2 / (count_a - 1) + vb ** 2 / (count_b - 1)
    return (va + vb) ** 2 / denominator if denominator != 0 else math.inf  # nan for an sd that is not a number


def resolvable_difference(sd_a: float, sd_b: float, count_a: int, count_b: int, alpha: float,
                          power: float = POWER) -> float:
    """The difference of means a two-sided Welch test at level alpha detects with the given power:
    (t(1 - alpha/2) + t(power)) times its standard error, on Welch's degrees of freedom."""
    error = math.sqrt(sd_a ** 2 / count_a + sd_b ** 2 / count_b)
    df = _welch_df(sd_a, sd_b, count_a, count_b)
    return (stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * error


def seeds_needed(difference: float, sd_a: float, sd_b: float, alpha: float, power: float = POWER,
                 most: int = 1000) -> int | None:
    """The fewest seeds a side (the same on both) at which `difference` is resolvable; None past `most`."""
    def resolves(count: int) -> bool:
        return resolvable_difference(sd_a, sd_b, count, count, alpha, power) <= abs(difference)
    if difference == 0 or not resolves(most):
        return None
    counts = range(2, most + 1)  # Welch's test needs 2 a side; what it resolves shrinks as the seeds grow
    return counts[bisect.bisect_left(counts, True, key=resolves)]
