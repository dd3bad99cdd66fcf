"""Is a re-run's result the committed one? Exact on the same platform, within the seed spread on another.

Training is chaotic: on another CPU, other kernels round differently from the first step on, and the run
ends where a run with other seeds would. So across platforms each metric may move by what seeds move it,
measured by scripts/seed_spread.py, and no more.

The spread is estimated robustly, as 1.4826 times the median absolute deviation from the median (the
standard deviation for normally distributed values): one seed whose training collapsed (no active latent
units) would otherwise widen every tolerance until nothing could fail. A run that collapses fails the check.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Mapping

from betavae.errors import BetaVAEError

ROBUST_SCALE = 1.4826  # MAD -> standard deviation, for normal data
# Allowed |new - committed| in units of the seed-to-seed standard deviation. Both runs are draws of the
# same spread, so their difference has sd sqrt(2)*sd: 4 sd is 2.8 of those (p ~ 0.005 per metric if
# normal), with room for an sd estimated from only a few seeds.
SPREAD_FACTOR = 4.0
# Integer metrics move in whole steps, which an sd from five seeds describes badly: an explicit allowance.
INTEGER_ALLOWANCE = {"active_units": 2}
# Which latent dimension ends up carrying which factor is arbitrary, so the per-dimension KL is compared as
# a sorted list (largest first); below 0.01 nats a unit is off, so differences there do not count.
ORDER_FREE_PREFIX = "kl_per_dimension."
SORTED_PREFIX = "kl_per_dimension.sorted."
SORTED_FLOOR = 0.01


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
        numbers = isinstance(self.committed, (int, float)) and isinstance(self.new, (int, float))
        return self.new - self.committed if numbers else None


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
    """The metrics with the per-dimension KL replaced by its values sorted largest first (.sorted.00, ...)."""
    kept = {name: value for name, value in flat.items() if not name.startswith(ORDER_FREE_PREFIX)}
    per_dimension = sorted((value for name, value in flat.items() if name.startswith(ORDER_FREE_PREFIX)),
                           reverse=True)
    kept.update({f"{SORTED_PREFIX}{rank:02d}": value for rank, value in enumerate(per_dimension)})
    return kept


def comparable(files: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """{metrics file: its content} -> one order-free mapping of metric name to value."""
    merged: dict[str, Any] = {}
    for path, content in files.items():
        flat = flatten(content)
        clashes = merged.keys() & flat.keys()
        if clashes:
            raise BetaVAEError(f"metric {sorted(clashes)[0]} appears in {path} and in another metrics file")
        merged.update(flat)
    return order_free(merged)


def robust_sd(values: list[float]) -> float:
    """1.4826 * median |x - median(x)|: the standard deviation of normal values, deaf to one outlier in five."""
    middle = statistics.median(values)
    return ROBUST_SCALE * statistics.median(abs(value - middle) for value in values)


def seed_spread(seeds: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, float]:
    """Robust standard deviation over seeds of each metric: {seed: {file: content}} -> {metric: sd}."""
    runs = [comparable(files) for files in seeds.values()]
    if len(runs) < 3:
        raise BetaVAEError(f"a seed spread needs at least 3 seeds, got {len(runs)}")
    names = set.intersection(*(set(run) for run in runs))
    return {name: robust_sd([float(run[name]) for run in runs]) for name in sorted(names)
            if all(_is_number(run[name]) for run in runs)}


def allowed_difference(metric: str, spread: Mapping[str, float]) -> float | None:
    if metric in INTEGER_ALLOWANCE:
        return float(INTEGER_ALLOWANCE[metric])
    if metric not in spread:
        return None
    floor = SORTED_FLOOR if metric.startswith(SORTED_PREFIX) else 0.0
    return max(SPREAD_FACTOR * spread[metric], floor)


def compare(committed: Mapping[str, Any], new: Mapping[str, Any], spread: Mapping[str, float]) -> list[Comparison]:
    """Each metric of either side against its allowed difference; a metric on one side only fails."""
    rows = []
    for metric in sorted(committed.keys() | new.keys()):
        old_value, new_value = committed.get(metric), new.get(metric)
        allowed = allowed_difference(metric, spread)
        if metric not in new:
            rows.append(Comparison(metric, old_value, None, allowed, False, "missing from the re-run"))
        elif metric not in committed:
            rows.append(Comparison(metric, None, new_value, allowed, False, "not in the committed results"))
        elif not (_is_number(old_value) and _is_number(new_value)):
            rows.append(Comparison(metric, old_value, new_value, 0.0, old_value == new_value, "not a number"))
        elif allowed is None:
            rows.append(Comparison(metric, old_value, new_value, None, False,
                                   "no measured seed spread: run scripts/seed_spread.py"))
        else:
            difference = abs(float(new_value) - float(old_value))
            rows.append(Comparison(metric, old_value, new_value, allowed, difference <= allowed))
    return rows


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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)
