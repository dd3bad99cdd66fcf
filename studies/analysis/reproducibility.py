"""Is a re-run's result the committed one? Exact on the same platform, within the seed spread on another.

Training is chaotic: on another CPU, other kernels round differently from the first step on, and the run
ends where a run with other seeds would. So across platforms the committed run and the re-run are two draws
of the seed-to-seed distribution, and the check is a test that they are: a family-wise t test.

For each of the m compared metrics, the difference new - committed has a standard deviation of sqrt(2)*sd,
where sd is the metric's sample standard deviation over n healthy seeds (studies/seed_spread.py). Its
t statistic, difference / (sqrt(2) * sd), follows Student's t with n - 1 degrees of freedom when the metric
is normal across seeds. Each metric is tested at FAMILY_WISE_ALPHA / m (Bonferroni), so that the chance of
any false alarm among the m is at most FAMILY_WISE_ALPHA. The reasons and the measured false-alarm rate and
power are in docs/reproducibility.md.

Collapse is a verdict of its own: a re-run with no active latent unit fails as "training collapsed", and a
collapsed seed is reported but sets no tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from scipy import stats

from betavae.errors import BetaVAEError

FAMILY_WISE_ALPHA = 0.01  # the designed chance that a healthy re-run fails on any metric
# The per-dimension KL is compared as the KL of the largest unit and of the two largest together, as
# evaluate reports it (betavae.evaluation.KL_LARGEST_UNITS says why two). Records made before evaluate
# reported it so hold the KL of every unit by index instead: the same sums are derived from those.
# The count is evaluate's, repeated here (a test holds them equal): importing betavae.evaluation would cost
# every study command torch and torchvision's import, about 3 s of CPU
KL_LARGEST_UNITS = 2
KL_PER_DIMENSION = "kl_per_dimension."
KL_TOP = "kl_largest_units."
# Counts move in whole steps: their tolerance is at least one step.
COUNTS = ("active_units",)
COLLAPSE_FLAG = "posterior_collapse"
FileMetrics = Mapping[str, Mapping[str, Any]]  # {metrics file: its content}


@dataclass(frozen=True)
class Comparison:
    metric: str
    committed: Any
    new: Any
    allowed: float | None  # None: no allowance could be derived
    passed: bool
    note: str = ""

    @property
    def difference(self) -> float | None:
        numbers = _is_number(self.committed) and _is_number(self.new)
        return self.new - self.committed if numbers else None


@dataclass(frozen=True)
class SeedSpread:
    """Sample standard deviation (and mean) of each metric over the healthy seeds, and which seeds those were."""

    sd: dict[str, float]
    seeds: tuple[str, ...]
    collapsed: tuple[str, ...]
    mean: dict[str, float] = field(default_factory=dict)

    def critical_t(self, metrics: int, alpha: float = FAMILY_WISE_ALPHA) -> float:
        return critical_t(len(self.seeds), metrics, alpha)

    def tolerance(self, metric: str, metrics: int, alpha: float = FAMILY_WISE_ALPHA) -> float | None:
        """The largest |new - committed| allowed for the metric when `metrics` metrics are tested together."""
        if metric not in self.sd:
            return None
        allowed = self.critical_t(metrics, alpha) * math.sqrt(2) * self.sd[metric]
        return max(allowed, 1.0) if metric in COUNTS else allowed


@lru_cache(maxsize=None)
def critical_t(seeds: int, metrics: int, alpha: float = FAMILY_WISE_ALPHA) -> float:
    """The two-sided t quantile, n - 1 degrees of freedom from n seeds, that holds the family-wise error rate
    alpha over `metrics` tests (Bonferroni: alpha / metrics each)."""
    return float(stats.t.ppf(1 - alpha / (2 * metrics), seeds - 1))


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    rows: list[Comparison]
    collapsed: bool = False  # the re-run's training collapsed: the rows do not matter


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: metric names as `dvc metrics show` prints them."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def order_free(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics with a per-dimension KL by unit index (older records) replaced by the KL of its largest
    units (kl_largest_units.1, .2), as evaluate now reports it."""
    kept = {name: value for name, value in flat.items() if not name.startswith(KL_PER_DIMENSION)}
    per_dimension = sorted((value for name, value in flat.items() if name.startswith(KL_PER_DIMENSION)),
                           reverse=True)
    for units in range(1, min(KL_LARGEST_UNITS, len(per_dimension)) + 1):
        kept[f"{KL_TOP}{units}"] = sum(per_dimension[:units])
    return kept


def comparable(files: FileMetrics) -> dict[str, Any]:
    """{metrics file: its content} -> one order-free mapping of metric name to value."""
    merged: dict[str, Any] = {}
    for path, content in files.items():
        flat = flatten(content)
        clashes = merged.keys() & flat.keys()
        if clashes:
            raise BetaVAEError(f"metric {sorted(clashes)[0]} appears in {path} and in another metrics file")
        merged.update(flat)
    return order_free(merged)


def is_collapsed(metrics: Mapping[str, Any]) -> bool:
    """Whether a run's comparable metrics say that its posterior collapsed (no active latent unit)."""
    return metrics.get(COLLAPSE_FLAG) is True or metrics.get("active_units") == 0


def seed_spread(seeds: Mapping[str, FileMetrics], leave_out: tuple[str, ...] = ()) -> SeedSpread:
    """Sample standard deviation over the healthy seeds, {seed: {file: content}} -> SeedSpread; collapsed
    seeds and those in leave_out set nothing."""
    runs = {seed: comparable(files) for seed, files in seeds.items() if seed not in leave_out}
    collapsed = tuple(seed for seed, run in runs.items() if is_collapsed(run))
    healthy = [run for seed, run in runs.items() if seed not in collapsed]
    if len(healthy) < 3:
        raise BetaVAEError(f"a seed spread needs at least 3 healthy seeds, got {len(healthy)}"
                           + (f" ({len(collapsed)} collapsed)" if collapsed else ""))
    names = set.intersection(*(set(run) for run in healthy))
    numbers = [name for name in sorted(names) if all(_is_number(run[name]) for run in healthy)]
    sd = {name: _sample_sd([float(run[name]) for run in healthy]) for name in numbers}
    means = {name: sum(float(run[name]) for run in healthy) / len(healthy) for name in numbers}
    return SeedSpread(sd, tuple(seed for seed in runs if seed not in collapsed), collapsed, means)


def compare(committed: Mapping[str, Any], new: Mapping[str, Any], spread: SeedSpread,
            alpha: float = FAMILY_WISE_ALPHA) -> list[Comparison]:
    """Each metric of either side against its tolerance; a metric on one side only fails."""
    tested = sum(1 for metric in committed.keys() | new.keys() if metric in spread.sd)
    rows = []
    for metric in sorted(committed.keys() | new.keys()):
        old_value, new_value = committed.get(metric), new.get(metric)
        allowed = spread.tolerance(metric, tested, alpha)
        if metric not in new:
            rows.append(Comparison(metric, old_value, None, allowed, False, "missing from the re-run"))
        elif metric not in committed:
            rows.append(Comparison(metric, None, new_value, allowed, False, "not in the committed results"))
        elif not (_is_number(old_value) and _is_number(new_value)):
            rows.append(Comparison(metric, old_value, new_value, 0.0, old_value == new_value, "not a number"))
        elif allowed is None:
            rows.append(Comparison(metric, old_value, new_value, None, False,
                                   "no measured seed spread: run studies/seed_spread.py"))
        else:
            difference = abs(float(new_value) - float(old_value))
            rows.append(Comparison(metric, old_value, new_value, allowed, difference <= allowed))
    return rows


def judge(committed: Mapping[str, Any], new: Mapping[str, Any], spread: SeedSpread,
          alpha: float = FAMILY_WISE_ALPHA) -> Verdict:
    """The statistical verdict on a re-run: collapsed, or every metric within its tolerance."""
    rows = compare(committed, new, spread, alpha)
    if is_collapsed(new) and not is_collapsed(committed):
        return Verdict(False, f"training collapsed: {new.get('active_units')} active latent units", rows, True)
    failed = [row.metric for row in rows if not row.passed]
    if failed:
        return Verdict(False, f"{len(failed)} of {len(rows)} metrics beyond their tolerance: {', '.join(failed)}",
                       rows)
    return Verdict(True, "every metric within its tolerance", rows)


# --- Another rule, under test: the re-run against the seeds' law, not against one committed run ------------
#
# On another platform the re-run is one more draw of the seed-to-seed law, and so is the committed run. Judged
# against the healthy seeds' mean, its difference has sd sd·sqrt(1 + 1/n) (a prediction interval), not
# sd·sqrt(2): about a quarter tighter with ten seeds, at the same family-wise rate. studies/check_proof.py
# measures its false alarms and power beside judge's; the check uses it only once those are measured.


def prediction_tolerance(spread: SeedSpread, metric: str, metrics: int, alpha: float = FAMILY_WISE_ALPHA) -> float | None:
    """The largest |new - mean of the seeds| allowed: t(1 - alpha/(2m), n - 1) * sd * sqrt(1 + 1/n)."""
    if metric not in spread.sd:
        return None
    n = len(spread.seeds)
    allowed = spread.critical_t(metrics, alpha) * math.sqrt(1 + 1 / n) * spread.sd[metric]
    return max(allowed, 1.0) if metric in COUNTS else allowed


def judge_against_spread(new: Mapping[str, Any], spread: SeedSpread, alpha: float = FAMILY_WISE_ALPHA) -> Verdict:
    """The re-run as one more draw of the spread's healthy seeds: every metric within its prediction
    tolerance of their mean, or collapsed. Rows show the seeds' mean where judge shows the committed run."""
    tested = sum(1 for metric in new if metric in spread.sd)
    rows = []
    for metric in sorted(new.keys() | spread.sd.keys()):
        value, allowed = new.get(metric), prediction_tolerance(spread, metric, tested, alpha)
        center = spread.mean.get(metric)
        if metric not in new:
            rows.append(Comparison(metric, center, None, allowed, False, "missing from the re-run"))
        elif allowed is None:
            rows.append(Comparison(metric, None, value, None, not _is_number(value),
                                   "no measured seed spread" if _is_number(value) else "not a number"))
        elif not _is_number(value):
            rows.append(Comparison(metric, center, value, allowed, False, "not a number"))
        else:
            rows.append(Comparison(metric, center, value, allowed, abs(float(value) - center) <= allowed))
    if is_collapsed(new):
        return Verdict(False, f"training collapsed: {new.get('active_units')} active latent units", rows, True)
    failed = [row.metric for row in rows if not row.passed]
    if failed:
        return Verdict(False, f"{len(failed)} of {len(rows)} metrics beyond their tolerance: {', '.join(failed)}",
                       rows)
    return Verdict(True, "every metric within its tolerance", rows)


def compare_exactly(committed: Mapping[str, Any], new: Mapping[str, Any]) -> list[Comparison]:
    """Each metric of either side, equal to the last bit or failed."""
    return [Comparison(metric, committed.get(metric), new.get(metric), 0.0,
                       metric in committed and metric in new and committed[metric] == new[metric])
            for metric in sorted(committed.keys() | new.keys())]


def format_table(rows: list[Comparison]) -> str:
    """A Markdown table: metric, committed, new, difference, allowed difference, verdict."""
    lines = ["| metric | committed | new | difference | allowed | verdict |", "|---|---|---|---|---|---|"]
    for row in rows:
        verdict = "pass" if row.passed else "FAIL"
        if row.note:
            verdict += f" ({row.note})"
        cells = [row.metric, _show(row.committed), _show(row.new), _show(row.difference), _show(row.allowed),
                 verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _sample_sd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((value - mean) ** 2 for value in values) / (len(values) - 1))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)
