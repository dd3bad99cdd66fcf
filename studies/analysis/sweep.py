"""A beta x seeds sweep as seed groups: the grid and its slices, each beta's group, and what the sweep concludes
from the groups' records (mean and sd per beta, each step of beta by the group diff, the seed sd against the
committed beta's with its interval)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import mean, stdev
from typing import Any, Mapping

from scipy import stats

from betavae.errors import ParamsError
from studies.analysis import comparison
from studies.analysis.reproducibility import comparable

LEVEL = 0.95


@dataclass(frozen=True)
class Spread:
    """A metric over the seeds of one beta."""

    mean: float
    sd: float  # sample standard deviation over seeds (0 for one seed)
    count: int


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


COMMITTED_GROUP = "committed"


def beta_group(beta: float, committed_beta: float) -> tuple[str, list[str]]:
    """The seed group of a beta and its -S settings: the committed beta's is the group `committed`."""
    if beta == committed_beta:
        return COMMITTED_GROUP, []
    return f"beta-{beta:g}", [f"train.beta={beta:g}"]


def cell_metrics(record: Mapping[str, Any], seeds: list[int]) -> dict[str, dict[str, Any]]:
    """{seed: metrics/eval.json} of the group record's cells among `seeds`."""
    return {str(seed): record["cells"][str(seed)]["files"]["metrics/eval.json"] for seed in seeds
            if str(seed) in record["cells"]}


def _spread(values: list[float]) -> Spread:
    return Spread(mean(values), stdev(values) if len(values) > 1 else 0.0, len(values))


def summarize(by_beta: Mapping[float, Mapping[str, Mapping[str, Any]]]) -> dict[float, dict[str, Spread]]:
    """Mean and sd over seeds of every number in eval.json, per beta ({beta: {seed: eval.json}})."""
    summary = {}
    for beta, runs in sorted(by_beta.items()):
        first = next(iter(runs.values()))
        names = [name for name, value in first.items() if isinstance(value, (int, float)) and not isinstance(value, bool)]
        summary[beta] = {name: _spread([float(run[name]) for run in runs.values()]) for name in names}
    return summary


def summary_of_record(record: dict[str, Any]) -> dict[float, dict[str, Spread]]:
    """The summary back out of metrics/beta_sweep.json (its "summary": {beta: {metric: mean, sd, count}})."""
    return {float(beta): {name: Spread(**spread) for name, spread in metrics.items()}
            for beta, metrics in record["summary"].items()}


def compared_pairs(betas: list[float]) -> list[tuple[float, float]]:
    """The beta steps the sweep's verdicts cover: each neighbouring pair, and 1 -> 5 (the plain VAE against the
    default) when both ran."""
    betas = sorted(betas)
    pairs = list(zip(betas, betas[1:]))
    if 1.0 in betas and 5.0 in betas and (1.0, 5.0) not in pairs:
        pairs.append((1.0, 5.0))
    return pairs


def step_verdict(a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One step of beta judged by the group diff (train.beta is the changed param): its test and, per metric,
    the difference of means, its interval, the adjusted p and the verdict."""
    result = comparison.compare_sides({seed: comparable({"eval": run}) for seed, run in a.items()},
                                      {seed: comparable({"eval": run}) for seed, run in b.items()}, ["train.beta"])
    return {"method": result.method.value, "alpha": result.alpha, "tested": len(result.tested),
            "metrics": {row.metric: {"difference": row.difference, "interval": row.interval, "p": row.p,
                                     "verdict": row.verdict} for row in result.rows if row.a is not None}}


def sd_ratio_interval(sd: float, count: int, base_sd: float, base_count: int,
                      level: float = LEVEL) -> tuple[float, float] | None:
    """The interval of the ratio of two seed sds from their samples: F(count - 1, base_count - 1) for the ratio
    of variances, normal seeds assumed."""
    if not sd or not base_sd or count < 2 or base_count < 2:
        return None
    observed = (sd / base_sd) ** 2
    tail = (1 - level) / 2
    high_f, low_f = stats.f.ppf(1 - tail, count - 1, base_count - 1), stats.f.ppf(tail, count - 1, base_count - 1)
    return math.sqrt(observed / high_f), math.sqrt(observed / low_f)


def sd_by_beta(summary: Mapping[float, Mapping[str, Spread]], committed_beta: float) -> dict[str, Any]:
    """Per beta and metric: the seed sd, its ratio to the committed beta's and that ratio's interval."""
    base = summary[committed_beta]
    return {f"{beta:g}": {name: {"sd": spread.sd, "count": spread.count,
                                 "ratio": spread.sd / base[name].sd if base[name].sd else None,
                                 "interval": sd_ratio_interval(spread.sd, spread.count, base[name].sd, base[name].count)}
                          for name, spread in metrics.items() if name in base}
            for beta, metrics in summary.items()}


def verdicts(by_beta: Mapping[float, Mapping[str, Mapping[str, Any]]], udr: Mapping[str, Any]) -> dict[str, Any]:
    """What the sweep concludes: each step of beta by the group diff; per beta, whether UDR's bootstrap interval
    over seeds lies above its chance level."""
    steps = {f"{a:g} -> {b:g}": step_verdict(by_beta[a], by_beta[b]) for a, b in compared_pairs(list(by_beta))}
    return {"rule": "the group diff (make diff): a permutation max-t test over the metrics, family-wise 5%",
            "steps": steps,
            "udr_above_chance": {beta: scores["bootstrap"]["above_chance"][0] > 0 for beta, scores in udr.items()}}
