"""A beta x seeds sweep as DVC experiments: the grid and its slices, the sweep's points read back from
`dvc exp show --json`, and their mean and spread per beta.

Two betas differ in a metric when their means differ by more than POOLED_SD_MULTIPLE pooled seed standard
deviations (`exceeds_pooled_sd`): a descriptive rule for the sweep's tables, not the calibrated test of
`studies.analysis.reproducibility` (docs/reproducibility.md, "Two rules")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import mean, stdev
from typing import Any

from betavae.errors import ParamsError
from studies.analysis.experiments import experiment_results

POOLED_SD_MULTIPLE = 2.0


@dataclass(frozen=True)
class SweepPoint:
    """One experiment of a sweep: its beta, seed, git commit and metrics/eval.json (only valid metrics)."""

    name: str
    beta: float
    seed: int
    rev: str
    metrics: dict[str, Any]

    @property
    def kl_nats(self) -> float:
        return self.metrics["kl_nats"]

    @property
    def test_mse(self) -> float:
        return self.metrics["test_mse"]


@dataclass(frozen=True)
class Spread:
    """A metric over the seeds of one beta."""

    mean: float
    sd: float  # sample standard deviation over seeds (0 for one seed)
    count: int


def experiment_name(beta: float, seed: int) -> str:
    return f"sweep-beta-{beta:g}-seed-{seed}"


def grid(betas: list[float], seeds: list[int]) -> list[tuple[float, int]]:
    """Every (beta, seed) of the sweep, in a fixed order."""
    return [(beta, seed) for beta in sorted(set(betas)) for seed in sorted(set(seeds))]


def parse_slice(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3): the second of three slices."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ParamsError(f"--slice must look like 1/2 (this machine's slice / the number of slices), got {text!r}")
    if not 1 <= index <= count:
        raise ParamsError(f"--slice {text}: the slice must lie between 1 and {count}")
    return index, count


def slice_of(cells: list[tuple[float, int]], index: int, count: int) -> list[tuple[float, int]]:
    """Slice `index` of `count` (1-based): every count-th cell, so that slices get betas of every size."""
    return cells[index - 1::count]


def sweep_points(exp_show_json: list[dict[str, Any]], names: list[str]) -> list[SweepPoint]:
    """The named experiments' beta, seed and test metrics, sorted by beta, then seed."""
    results = experiment_results(exp_show_json, names)
    points = [SweepPoint(name, float(result["params"]["train"]["beta"]), int(result["params"]["train"]["seed"]),
                         result["rev"], result["metrics"]) for name, result in results.items()]
    return sorted(points, key=lambda point: (point.beta, point.seed))


def summarize(points: list[SweepPoint]) -> dict[float, dict[str, Spread]]:
    """Mean and standard deviation over seeds of every number in eval.json, per beta.

    The KL per latent dimension is left out: dimension d of one seed is not dimension d of another.
    """
    by_beta: dict[float, list[SweepPoint]] = {}
    for point in points:
        by_beta.setdefault(point.beta, []).append(point)
    summary = {}
    for beta, group in sorted(by_beta.items()):
        names = [name for name, value in group[0].metrics.items() if isinstance(value, (int, float))]
        summary[beta] = {name: _spread([float(point.metrics[name]) for point in group]) for name in names}
    return summary


def summary_of_record(record: dict[str, Any]) -> dict[float, dict[str, Spread]]:
    """The summary back out of metrics/beta_sweep.json (its "summary": {beta: {metric: mean, sd, count}})."""
    return {float(beta): {name: Spread(**spread) for name, spread in metrics.items()}
            for beta, metrics in record["summary"].items()}


def _spread(values: list[float]) -> Spread:
    return Spread(mean(values), stdev(values) if len(values) > 1 else 0.0, len(values))


def pooled_sd(a: Spread, b: Spread) -> float:
    """The pooled seed standard deviation of two betas' values of one metric."""
    return math.sqrt((a.sd ** 2 + b.sd ** 2) / 2)


def exceeds_pooled_sd(a: Spread, b: Spread) -> bool:
    """Whether the difference of the means is larger than POOLED_SD_MULTIPLE pooled seed standard deviations."""
    return abs(b.mean - a.mean) > POOLED_SD_MULTIPLE * pooled_sd(a, b)


def compare(summary: dict[float, dict[str, Spread]], beta_a: float, beta_b: float) -> list[dict[str, Any]]:
    """Per metric both betas share: both means, the difference, the seed spread, and whether it counts."""
    for beta in (beta_a, beta_b):
        if beta not in summary:
            raise ParamsError(f"beta {beta:g} is not in the sweep ({', '.join(f'{b:g}' for b in summary)})")
    rows = []
    for name in summary[beta_a].keys() & summary[beta_b].keys():
        a, b = summary[beta_a][name], summary[beta_b][name]
        rows.append({"metric": name, "a": a, "b": b, "difference": b.mean - a.mean, "spread": pooled_sd(a, b),
                     "exceeds": exceeds_pooled_sd(a, b)})
    return sorted(rows, key=lambda row: row["metric"])


def compared_pairs(betas: list[float]) -> list[tuple[float, float]]:
    """The beta steps the sweep's verdicts cover: each neighbouring pair, and 1 -> 5 (the plain VAE against the
    default) when both ran."""
    betas = sorted(betas)
    pairs = list(zip(betas, betas[1:]))
    if 1.0 in betas and 5.0 in betas and (1.0, 5.0) not in pairs:
        pairs.append((1.0, 5.0))
    return pairs


def verdicts(record: dict[str, Any]) -> dict[str, Any]:
    """What the sweep concludes from its record: per beta step and metric, the difference of the means and
    whether it exceeds POOLED_SD_MULTIPLE pooled seed sd; per beta, whether UDR's bootstrap interval over seeds
    lies above its chance level."""
    summary = summary_of_record(record)
    steps = {f"{a:g} -> {b:g}": {row["metric"]: {"difference": row["difference"], "pooled_sd": row["spread"],
                                                  "exceeds": row["exceeds"]} for row in compare(summary, a, b)}
             for a, b in compared_pairs(list(summary))}
    udr_clear = {beta: scores["bootstrap"]["above_chance"][0] > 0 for beta, scores in record["udr"].items()}
    return {"rule": f"a difference counts where it exceeds {POOLED_SD_MULTIPLE:g} pooled seed sd",
            "steps": steps, "udr_above_chance": udr_clear}
