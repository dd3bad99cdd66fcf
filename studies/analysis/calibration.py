"""The proof that the statistical check holds its error rate: how often it fails healthy pairs of seeds,
and how often it catches runs trained with a known regression; and the tolerances a seed spread gives.
Every comparison goes through `studies.analysis.reproducibility.judge`, as `studies/check_repro.py` does,
with a spread that leaves out the runs being compared."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from statistics import mean
from typing import Any, Mapping

from scipy import stats

from studies.analysis.reproducibility import (FileMetrics, comparable, is_collapsed, judge, judge_against_spread,
                                              seed_spread)


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


def outcome(trials: list[Trial]) -> dict:
    """How many trials there were, and those that failed (false alarms, or regressions caught)."""
    failed = [trial for trial in trials if not trial.passed]
    return {"trials": len(trials), "failed": len(failed),
            "failures": [{"committed": t.committed, "new": t.new, "reason": t.reason} for t in failed]}


def proof_verdicts(seeds: Mapping[str, FileMetrics], committed: FileMetrics, proof: Mapping[str, Any],
                   other_platform: Mapping[str, FileMetrics] | None = None) -> dict:
    """The check's measured false alarms and power, judged by its own rule (judge) with spreads that leave
    out the runs compared: healthy seed pairs, each seed and each of another platform's seeds against the
    committed run, each regression's runs against each healthy seed, and the platform change against the
    committed run."""
    own = committed_seed(seeds, committed)
    others = {f"seed {seed}": files for seed, files in seeds.items() if seed != own}
    platform = proof["platform_change"]
    platform_trial = against(seeds, committed, {platform["experiment"]: platform["files"]}, "committed")[0]
    elsewhere = {f"seed {seed}": files for seed, files in (other_platform or {}).items()}
    return {"committed_seed": own,
            "healthy_pairs": outcome(false_alarms(seeds)),
            "against_committed": outcome(against(seeds, committed, others, "committed")),
            "other_platform": outcome(against(seeds, committed, elsewhere, "committed")),
            "regressions": {name: outcome(power(seeds, regression["seeds"]))
                            for name, regression in proof["regressions"].items()},
            "platform_change": {"passed": platform_trial.passed, "reason": platform_trial.reason}}


def rate_interval(hits: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a rate measured as hits in trials."""
    interval = stats.binomtest(hits, trials).proportion_ci(confidence_level=confidence, method="exact")
    return float(interval.low), float(interval.high)


def against_the_law(seeds: Mapping[str, FileMetrics], runs: Mapping[str, FileMetrics],
                    label: str = "the seeds' law") -> list[Trial]:
    """Each run judged by judge_against_spread: as one more draw of the healthy seeds' law (a spread seed
    that is the run itself left out)."""
    trials = []
    for name, files in runs.items():
        own = committed_seed(seeds, files)
        verdict = judge_against_spread(comparable(files), seed_spread(seeds, leave_out=(own,) if own else ()))
        trials.append(Trial(label, name, verdict.passed, verdict.reason))
    return trials


def prediction_verdicts(seeds: Mapping[str, FileMetrics], proof: Mapping[str, Any],
                        other_platform: Mapping[str, FileMetrics] | None = None) -> dict:
    """The same proof for judge_against_spread: each healthy seed against the law of the others, runs of
    another platform's spread and the platform change against the whole spread, and each regression's runs."""
    healthy = {f"seed {seed}": seeds[seed] for seed in healthy_seeds(seeds)}
    platform = proof["platform_change"]
    return {"healthy_seeds": outcome(against_the_law(seeds, healthy)),
            "other_platform": outcome(against_the_law(seeds, {f"seed {seed}": files for seed, files in
                                                              (other_platform or {}).items()})),
            "regressions": {name: outcome(against_the_law(seeds, regression["seeds"]))
                            for name, regression in proof["regressions"].items()},
            "platform_change": outcome(against_the_law(seeds, {platform["experiment"]: platform["files"]}))}


def spread_tolerances(seeds: Mapping[str, FileMetrics], committed: FileMetrics) -> dict:
    """The tolerances the check derives from a seed spread for the committed run: the committed run's own
    seed left out, every compared metric's mean and sd over the other healthy seeds, t and tolerance."""
    own = committed_seed(seeds, committed)
    spread = seed_spread(seeds, leave_out=(own,) if own else ())
    runs = {seed: comparable(files) for seed, files in seeds.items()}
    tested = len(spread.sd)
    return {"committed_seed": own, "healthy_seeds": list(spread.seeds), "collapsed_seeds": list(spread.collapsed),
            "metrics_tested": tested, "degrees_of_freedom": len(spread.seeds) - 1,
            "critical_t": spread.critical_t(tested),
            "metrics": {metric: {"mean": mean(float(runs[seed][metric]) for seed in spread.seeds), "sd": sd,
                                 "tolerance": spread.tolerance(metric, tested)}
                        for metric, sd in spread.sd.items()}}
