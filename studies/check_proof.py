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

from studies.analysis.calibration import proof_verdicts
from studies.analysis.experiments import (exp_show, experiment_files, experiment_platform, experiment_results,
                                          head_commit, run_experiments, seed_settings)
from studies.analysis.provenance import source
from studies.records import CHECK_PROOF, REPO, SEED_SPREAD, command, committed_results, read_record, write_record
AVX2_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
PLATFORM_RUN = "proof-avx2-kernels"


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
        run_experiments(REPO, {PLATFORM_RUN: seed_settings(0) + ["compute.precision=fp32"]}, targets=["evaluate"])
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
    return {"regressions": regressions,
            "platform_change": {"description": "the committed params, seed 0, under the AVX2 kernels and fp32",
                                "environment": AVX2_KERNELS, "experiment": PLATFORM_RUN, "rev": platform_rev,
                                "platform": experiment_platform(REPO, platform_rev),
                                "files": files(PLATFORM_RUN)}}


def verdicts(record: dict) -> dict:
    """The proof's verdicts on its runs, against the committed seed spread and the committed run."""
    return proof_verdicts(read_record(SEED_SPREAD)["seeds"], committed_results(), record)


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
    """False alarms over healthy seed pairs, every seed against the committed run, each regression's share
    caught, and the platform change: the verdicts this study recorded."""
    proof = read_record(CHECK_PROOF)
    verdicts, platform = proof["verdicts"], proof["platform_change"]
    lines = [f"{source(proof)} Judged by the check's own rule (`studies.analysis.reproducibility.judge`) against "
             f"the seed spread of `{SEED_SPREAD.relative_to(REPO)}`, each time leaving out the runs being compared.",
             "", "| comparison | pairs | failed (false alarms) or caught |", "|---|---|---|",
             f"| healthy seed against healthy seed, spread from the other seeds | "
             f"{verdicts['healthy_pairs']['trials']} | {_share(verdicts['healthy_pairs'])} failed |",
             f"| each healthy seed against the committed run (seed {verdicts['committed_seed']}) | "
             f"{verdicts['against_committed']['trials']} | {_share(verdicts['against_committed'])} failed |"]
    for name, regression in proof["regressions"].items():
        outcome = verdicts["regressions"][name]
        need = "must be ≥ 95%" if regression["required"] else "as measured"
        lines.append(f"| regression `{name}`: {regression['description']}; {len(regression['seeds'])} seeds × "
                     f"each healthy baseline seed | {outcome['trials']} | {_share(outcome)} caught ({need}) |")
    kernels = " ".join(f"{key}={value}" for key, value in platform["environment"].items())
    platform_verdict = verdicts["platform_change"]
    lines.append(f"| platform change `{platform['experiment']}`: {platform['description']} ({kernels}; kernels "
                 f"{platform['platform']['kernels']}) against the committed run | 1 | "
                 f"{'passed' if platform_verdict['passed'] else 'FAILED: ' + platform_verdict['reason']} |")
    alarms = verdicts["healthy_pairs"]["failures"] + verdicts["against_committed"]["failures"]
    lines += ["", "False alarms: " + ("none." if not alarms else "; ".join(f"{a['committed']} / {a['new']}: {a['reason']}"
                                                                          for a in alarms))]
    return "\n".join(lines)


TABLES = {"check-proof": check_proof_table}


if __name__ == "__main__":
    main()
