"""The proof that the statistical check holds its error rate: how often it fails healthy pairs of seeds,
and how often it catches runs trained with a known regression. Every comparison goes through
`betavae.reproducibility.judge`, as `scripts/check_repro.py` does, with a spread that leaves out the runs
being compared."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Mapping

from betavae.reproducibility import FileMetrics, comparable, is_collapsed, judge, seed_spread


@dataclass(frozen=True)
class Trial:
    """One comparison of the proof: which runs, and the verdict's outcome."""

    committed: str
    new: str
    passed: bool
    reason: str


def healthy_seeds(seeds: Mapping[str, FileMetrics]) -> list[str]:
    return [seed for seed, files in seeds.items() if not is_collapsed(comparable(files))]


def false_alarms(seeds: Mapping[str, FileMetrics]) -> list[Trial]:
    """Every pair of healthy seeds, one against the other, with the spread of the remaining seeds."""
    trials = []
    for first, second in combinations(healthy_seeds(seeds), 2):
        spread = seed_spread(seeds, leave_out=(first, second))
        verdict = judge(comparable(seeds[first]), comparable(seeds[second]), spread)
        trials.append(Trial(f"seed {first}", f"seed {second}", verdict.passed, verdict.reason))
    return trials


def committed_seed(seeds: Mapping[str, FileMetrics], committed: FileMetrics) -> str | None:
    """The spread seed whose metrics are the committed run's own (the same run), if there is one."""
    target = comparable(committed)
    return next((seed for seed, files in seeds.items() if comparable(files) == target), None)


def against(seeds: Mapping[str, FileMetrics], baseline: FileMetrics, runs: Mapping[str, FileMetrics],
            baseline_name: str) -> list[Trial]:
    """Each run against the baseline, with the spread of the seeds other than both (and than the baseline's
    own seed, when the baseline is one of them)."""
    own = committed_seed(seeds, baseline)
    trials = []
    for name, files in runs.items():
        leave_out = tuple(seed for seed in (own, committed_seed(seeds, files)) if seed is not None)
        verdict = judge(comparable(baseline), comparable(files), seed_spread(seeds, leave_out=leave_out))
        trials.append(Trial(baseline_name, name, verdict.passed, verdict.reason))
    return trials


def power(seeds: Mapping[str, FileMetrics], regression: Mapping[str, FileMetrics]) -> list[Trial]:
    """Each run of a regression against each healthy baseline seed (spread from the other seeds)."""
    trials = []
    for seed in healthy_seeds(seeds):
        trials += against(seeds, seeds[seed], regression, f"seed {seed}")
    return trials
