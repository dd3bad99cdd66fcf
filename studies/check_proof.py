"""Measure the statistical check's false alarms and its power: train known regressions, then judge them.

    python -m studies.check_proof                  # train what is missing, then write metrics/check_proof.json
    python -m studies.check_proof --seeds 0 1 2 3  # more seeds per regression

Each regression runs with each seed as a DVC experiment `proof-NAME-seed-S` (the stages up to evaluate,
the seeds set as studies/seed_spread.py sets them), recorded as it finishes: a stopped run resumes. A
regression is a change of params, or of code (a patch under studies/regressions/, applied for its runs
and taken back after). One more run, `proof-avx2-kernels`, trains the committed params with seed 0 under
the AVX2 kernels and fp32 (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, MKL_CBWR): a platform change, which the
check must pass.

metrics/check_proof.json keeps every run's metrics and the verdicts: each judged against
metrics/seed_spread.json and the committed run by the check's own rule (studies.analysis.calibration): how
many healthy seed pairs the check fails, and how many of each regression's runs it catches.
`python -m studies.check_proof --verdicts` judges the recorded runs again, training nothing (after the seed
spread was measured again, say); `python -m tools.docs` turns the record into the proof table of
docs/reproducibility.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from studies.analysis.calibration import prediction_verdicts, proof_verdicts, rate_interval
from studies.analysis.experiments import (exp_show, experiment_files, experiment_inputs, experiment_platform,
                                          experiment_results, head_commit, run_experiments, seed_settings)
from studies.analysis.provenance import source
from studies.records import (CHECK_PROOF, REPO, SEED_SPREAD, SEED_SPREAD_AVX2, command, committed_results, read_record,
                             write_record)
from studies.seed_spread import AVX2_KERNELS, own_settings

PLATFORM_RUN = "proof-avx2-kernels"
PLATFORM_SETTINGS = own_settings(avx2=True)  # as the AVX2 spread's runs: the platform run is one of them
ADOPTION_RATE = 0.01  # the false-alarm rate the rule under test must be shown to hold before it replaces the check's


@dataclass(frozen=True)
class Regression:
    description: str
    settings: tuple[str, ...] = ()
    patch: str | None = None  # a patch file, relative to the repository
    required: bool = True  # must be caught at least 95% of the time; else the share caught is reported


REGRESSIONS = {
    "kl-warmup-off": Regression("the KL warm-up switched off (train.kl_warmup_epochs 10 -> 0)",
                                ("train.kl_warmup_epochs=0",)),
    "kl-over-half-the-latents": Regression("the training loss's KL summed over the first half of the latent "
                                           "dimensions only (a slicing bug)",
                                           patch="studies/regressions/kl_over_half_the_latents.patch"),
    "beta-6": Regression("beta 5 -> 6", ("train.beta=6",), required=False),
    "beta-7": Regression("beta 5 -> 7", ("train.beta=7",), required=False),
    "beta-5.5": Regression("beta 5 -> 5.5", ("train.beta=5.5",), required=False),
    "lr-2e-3": Regression("learning rate 3e-3 -> 2e-3", ("train.lr=2.0e-3",), required=False),
}


def experiment_name(regression: str, seed: int) -> str:
    return f"proof-{regression}-seed-{seed}"


def git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=REPO, check=True)


def run_regressions(seeds: list[int]) -> None:
    for name, regression in REGRESSIONS.items():
        experiments = {experiment_name(name, seed): seed_settings(seed) + list(regression.settings) for seed in seeds}
        if regression.patch:
            git("apply", regression.patch)
        try:
            run_experiments(REPO, experiments, targets=["evaluate"])
        finally:
            if regression.patch:
                git("apply", "--reverse", regression.patch)


def run_platform_change() -> None:
    saved = {key: os.environ.get(key) for key in AVX2_KERNELS}
    os.environ.update(AVX2_KERNELS)  # the dvc exp run subprocesses inherit them
    try:
        run_experiments(REPO, {PLATFORM_RUN: seed_settings(0) + PLATFORM_SETTINGS}, targets=["evaluate"])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def collect(seeds: list[int]) -> dict:
    """Every run's metrics files and provenance, as recorded in its experiment."""
    names = [experiment_name(name, seed) for name in REGRESSIONS for seed in seeds] + [PLATFORM_RUN]
    results = experiment_results(exp_show(REPO), names)

    def files(name: str) -> dict:
        return experiment_files(REPO, results[name]["rev"])

    regressions = {name: {"description": regression.description, "settings": list(regression.settings),
                          "patch": regression.patch, "required": regression.required,
                          "runs": {str(seed): {"experiment": experiment_name(name, seed),
                                               "rev": results[experiment_name(name, seed)]["rev"]}
                                   for seed in seeds},
                          "seeds": {str(seed): files(experiment_name(name, seed)) for seed in seeds}}
                   for name, regression in REGRESSIONS.items()}
    platform_rev = results[PLATFORM_RUN]["rev"]
    # the platform change runs the committed code and params: its inputs are those the proof measured
    return {"inputs": experiment_inputs(REPO, platform_rev), "settings": PLATFORM_SETTINGS,
            "regressions": regressions,
            "platform_change": {"description": "the committed params, seed 0, under the AVX2 kernels and fp32",
                                "environment": AVX2_KERNELS, "experiment": PLATFORM_RUN, "rev": platform_rev,
                                "platform": experiment_platform(REPO, platform_rev),
                                "files": files(PLATFORM_RUN)}}


def verdicts(record: dict) -> dict:
    """The proof's verdicts on its runs by the check's rule (against the committed seed spread and the committed
    run), and by the rule under test (against the seeds' law), with the AVX2 spread as another platform's
    healthy runs where it measured today's code."""
    seeds = read_record(SEED_SPREAD)["seeds"]
    avx2 = read_record(SEED_SPREAD_AVX2)
    other = None if "historical" in avx2 else avx2["seeds"]
    return dict(proof_verdicts(seeds, committed_results(), record, other),
                prediction=prediction_verdicts(seeds, record, other))


def rewrite_verdicts(output: Path) -> None:
    record = read_record(output)
    write_record(output, dict(record, verdicts=verdicts(record)))
    print(f"wrote the verdicts of {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", default=str(CHECK_PROOF))
    parser.add_argument("--verdicts", action="store_true",
                        help="train nothing; judge the recorded runs again against the committed seed spread")
    args = parser.parse_args()
    if len(args.seeds) < 3:
        parser.error("a regression needs at least 3 seeds")
    if args.verdicts:
        return rewrite_verdicts(Path(args.output))
    try:
        run_regressions(args.seeds)
        run_platform_change()
        record = collect(args.seeds)
    except subprocess.CalledProcessError as error:
        sys.exit(f"error: `{' '.join(map(str, error.cmd))}` failed (exit status {error.returncode})")
    first = record["regressions"][next(iter(REGRESSIONS))]["runs"][str(args.seeds[0])]["rev"]
    record = {"command": command(__spec__.name, ["--seeds", *args.seeds]),
              "commit": head_commit(REPO), "platform": experiment_platform(REPO, first),
              **record}
    write_record(Path(args.output), dict(record, verdicts=verdicts(record)))
    print(f"wrote {args.output}; `python -m tools.docs` turns it into the proof table")


# --- Its table in the docs --------------------------------------------------------------------------------


def _share(outcome: dict) -> str:
    hits, trials = outcome["failed"], outcome["trials"]
    return f"{hits} of {trials} ({100 * hits / trials:.0f}%)" if trials else "—"


def check_proof_table() -> str:
    """False alarms, each regression's share caught and the platform change, by the check's rule (judge,
    against one committed run) and by the rule under test (judge_against_spread, against the seeds' law)."""
    proof = read_record(CHECK_PROOF)
    verdicts, platform = proof["verdicts"], proof["platform_change"]
    law = verdicts.get("prediction")

    def new_rule(outcome: dict | None, word: str) -> str:
        return f"{_share(outcome)} {word}" if outcome and outcome["trials"] else "—"
    lines = [f"{source(proof)} Judged against the seed spread of `{SEED_SPREAD.relative_to(REPO)}`, each time "
             f"leaving out the runs being compared: by the check's rule (one run against the committed run, "
             f"tolerance t·√2·sd) and by the rule under test (the run against the healthy seeds' mean, "
             f"t·√(1 + 1/n)·sd).", "",
             "| comparison | the check's rule | against the seeds' law |", "|---|---|---|",
             f"| healthy seeds: every pair, and each against the other seeds' law | "
             f"{_share(verdicts['healthy_pairs'])} failed | "
             f"{new_rule(law and law['healthy_seeds'], 'failed')} |",
             f"| each healthy seed against the committed run (seed {verdicts['committed_seed']}) | "
             f"{_share(verdicts['against_committed'])} failed | — |",
             f"| another platform's healthy seeds (the AVX2 spread, if of today's code): each against the "
             f"committed run / the law | {new_rule(verdicts.get('other_platform'), 'failed')} | "
             f"{new_rule(law and law['other_platform'], 'failed')} |"]
    for name, regression in proof["regressions"].items():
        need = "must be ≥ 95%" if regression["required"] else "as measured"
        caught = new_rule(law and law["regressions"].get(name), "caught")
        lines.append(f"| regression `{name}`: {regression['description']}; seeds {', '.join(regression['seeds'])} "
                     f"({need}) | {_share(verdicts['regressions'][name])} caught | {caught} |")
    kernels = " ".join(f"{key}={value}" for key, value in platform["environment"].items())
    platform_verdict = verdicts["platform_change"]
    lines.append(f"| platform change `{platform['experiment']}` ({kernels}; kernels "
                 f"{platform['platform']['kernels']}) | "
                 f"{'passed' if platform_verdict['passed'] else 'FAILED: ' + platform_verdict['reason']} | "
                 f"{new_rule(law and law['platform_change'], 'failed')} |")
    alarms = verdicts["healthy_pairs"]["failures"] + verdicts["against_committed"]["failures"]
    alarms += (law["healthy_seeds"]["failures"] + law["other_platform"]["failures"]) if law else []
    lines += ["", "False alarms: " + ("none." if not alarms else "; ".join(f"{a['committed']} / {a['new']}: {a['reason']}"
                                                                          for a in alarms))]
    return "\n".join(lines + ([_adoption(verdicts)] if law else []))


def _healthy(outcomes: list[dict | None]) -> tuple[int, int]:
    """False alarms and trials over the healthy comparisons' outcomes."""
    present = [outcome for outcome in outcomes if outcome]
    return sum(outcome["failed"] for outcome in present), sum(outcome["trials"] for outcome in present)


def _rate(alarms: int, trials: int) -> str:
    low, high = rate_interval(alarms, trials)
    return f"{alarms} of {trials} ({100 * low:.1f}–{100 * high:.1f}%)"


def _adoption(verdicts: dict) -> str:
    """Both rules' false-alarm rates over every healthy comparison, and whether the rule under test is adopted:
    only where the upper end of its interval is at most ADOPTION_RATE."""
    platform = {"failed": int(not verdicts["platform_change"]["passed"]), "trials": 1}
    old = _healthy([verdicts["healthy_pairs"], verdicts["against_committed"], verdicts.get("other_platform"), platform])
    law = verdicts["prediction"]
    new = _healthy([law["healthy_seeds"], law["other_platform"], law["platform_change"]])
    needed = next(n for n in range(1, 10_000) if rate_interval(0, n)[1] <= ADOPTION_RATE)
    adopted = rate_interval(*new)[1] <= ADOPTION_RATE
    return (f"\nFalse alarms over every healthy comparison, exact 95% interval (pairs share seeds): "
            f"the check's rule {_rate(*old)}; the seeds' law {_rate(*new)}. The law replaces the check's rule only "
            f"once its interval ends at or below {100 * ADOPTION_RATE:g}% (at least {needed} healthy comparisons, "
            f"no alarm): " + ("adopted." if adopted else "not adopted."))


TABLES = {"check-proof": check_proof_table}


if __name__ == "__main__":
    main()
