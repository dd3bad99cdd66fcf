"""Two sides, each one run or a group of seeds, compared metric by metric: the rows of `make diff`.

A side is {label: comparable metrics} (studies.analysis.reproducibility.comparable: the per-dimension KL as
the KL of the largest units). The test chosen for the sides' sizes, the correction over the metrics tested
together and the statistics are studies.analysis.groups'. Shown and not tested: a metric that is the same on
every run of both sides, a metric of a stage that the params the sides differ in cannot reach (the
classifier's accuracy under a change to train), and what is not a number.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from studies.analysis import groups
from studies.analysis.reproducibility import COUNTS, is_collapsed

FAMILY_WISE_ALPHA = 0.05
# The metrics of a stage that reads only these params sections: other changed params cannot move them
STAGE_SECTIONS = {"classifier_test_accuracy": ("classifier.", "compute.")}



class Method(enum.Enum):
    """The test the sides' sizes allow (groups.PERMUTATION_FROM seeds a side for the permutation test)."""

    PERMUTATION = "permutation max-t"
    WELCH = "Welch t, Holm"
    PREDICTION = "one run against the group's prediction interval, Holm"
    TOO_FEW = "too few seeds"


PERMUTATION, WELCH, PREDICTION, TOO_FEW = Method
NOT_A_NUMBER = "not a number"


@dataclass(frozen=True)
class Row:
    metric: str
    a: groups.Summary | None
    b: groups.Summary | None
    difference: float | None = None
    interval: tuple[float, float] | None = None  # of the difference of means
    in_sd: float | None = None  # the difference in pooled seed sd
    sd_ratio: float | None = None  # sd(B) / sd(A)
    superiority: float | None = None  # P(a seed of B scores above a seed of A)
    superiority_interval: tuple[float, float] | None = None
    p: float | None = None  # adjusted for the metrics tested together
    verdict: str = ""  # "YES", "no", "too few seeds", or why it is not tested
    resolvable: float | None = None  # the difference these seeds resolve at 80% power
    seeds_needed: int | None = None  # seeds a side that would resolve the difference seen


@dataclass(frozen=True)
class Comparison:
    method: Method
    alpha: float
    tested: list[str]
    rows: list[Row]
    collapsed: dict[str, list[str]] = field(default_factory=dict)  # side -> its collapsed runs

    @property
    def beyond(self) -> list[str]:
        return [row.metric for row in self.rows if row.verdict == "YES"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def method_for(count_a: int, count_b: int) -> Method:
    if min(count_a, count_b) >= groups.PERMUTATION_FROM:
        return PERMUTATION
    if min(count_a, count_b) >= 2:
        return WELCH
    if max(count_a, count_b) >= 3:
        return PREDICTION
    return TOO_FEW


def untested_reason(metric: str, a: Sequence[Any], b: Sequence[Any], changed: Sequence[str]) -> str | None:
    """Why a metric is shown but not tested, or None."""
    if not all(_is_number(value) for value in [*a, *b]):
        return NOT_A_NUMBER
    if len(set(a) | set(b)) == 1:
        return "the same on every run"
    sections = STAGE_SECTIONS.get(metric)
    if sections and changed and not any(key.startswith(sections) for key in changed):
        return "the params compared cannot move it"
    return None


def adjusted_p(method: Method, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each metric's p (columns of a [k_a, m] and b [k_b, m]), adjusted for the m tested together."""
    if method is PERMUTATION:
        return groups.permutation_max_t(a, b)
    if method is WELCH:
        return groups.holm([groups.welch_p(a[:, j], b[:, j]) for j in range(a.shape[1])])
    if method is PREDICTION:
        group, run = (a, b) if len(b) == 1 else (b, a)
        return groups.holm([groups.prediction_p(group[:, j], run[0, j]) for j in range(a.shape[1])])
    raise ValueError(f"{method.value}: no test")


def _row(metric: str, a: list[float], b: list[float], p: float | None, verdict: str, alpha_each: float) -> Row:
    sa, sb = groups.Summary.of(a), groups.Summary.of(b)
    difference = sb.mean - sa.mean
    interval = in_sd = ratio = superiority = superiority_interval = resolvable = needed = None
    floor = 1.0 if metric in COUNTS else 0.0  # a count resolves no less than one unit
    if method_for(sa.count, sb.count) is PREDICTION:
        group = sb if sa.count == 1 else sa
        interval, resolvable = groups.prediction_interval(difference, group.sd, group.count, alpha_each)
        in_sd = difference / group.sd if group.sd else None
        resolvable = max(resolvable, floor)
    elif min(sa.count, sb.count) >= 2:
        _, low, high, _ = groups.welch_interval(a, b)
        interval = (low, high)
        pooled = math.sqrt((sa.sd ** 2 + sb.sd ** 2) / 2)
        in_sd = difference / pooled if pooled else None
        ratio = sb.sd / sa.sd if sa.sd else None
        superiority = groups.probability_of_superiority(a, b)
        superiority_interval = groups.superiority_interval(a, b)
        if pooled:
            resolvable = max(groups.resolvable_difference(sa.sd, sb.sd, sa.count, sb.count, alpha_each), floor)
            needed = groups.seeds_needed(difference, sa.sd, sb.sd, alpha_each)
    return Row(metric, sa, sb, difference, interval, in_sd, ratio, superiority, superiority_interval, p, verdict,
               resolvable, needed)


def compare_sides(a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]],
                  changed: Sequence[str] = (), alpha: float = FAMILY_WISE_ALPHA) -> Comparison:
    """Every metric both sides report, with the test their sizes allow, at a family-wise level alpha.

    a, b: {run label: comparable metrics}; changed: the params keys the two sides differ in (from their
    settings), which decide what a stage's metrics can be moved by.
    """
    metrics = sorted(set.intersection(*(set(run) for run in [*a.values(), *b.values()])))
    values = {metric: ([run[metric] for run in a.values()], [run[metric] for run in b.values()]) for metric in metrics}
    reasons = {metric: untested_reason(metric, *values[metric], changed) for metric in metrics}
    tested = [metric for metric in metrics if reasons[metric] is None]
    method = method_for(len(a), len(b))
    if method is PERMUTATION and groups.smallest_permutation_p(len(a), len(b)) > alpha:
        method = TOO_FEW
    alpha_each = alpha / max(len(tested), 1)
    p = {}
    if tested and method is not TOO_FEW:
        matrix = [np.array([values[m][side] for m in tested], dtype=float).T for side in (0, 1)]
        p = dict(zip(tested, adjusted_p(method, *matrix)))
    rows = []
    for metric in metrics:
        reason = reasons[metric]
        if reason is NOT_A_NUMBER:
            rows.append(Row(metric, None, None, verdict=f"not tested: {reason}"))
            continue
        verdict = (f"not tested: {reason}" if reason else TOO_FEW.value if method is TOO_FEW
                   else "YES" if p[metric] <= alpha else "no")
        rows.append(_row(metric, *values[metric], None if metric not in p else float(p[metric]), verdict, alpha_each))
    collapsed = {side: [label for label, run in runs.items() if is_collapsed(run)] for side, runs in (("A", a), ("B", b))}
    return Comparison(method, alpha, tested, rows, {side: runs for side, runs in collapsed.items() if runs})
