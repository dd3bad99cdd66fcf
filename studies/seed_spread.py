"""Run the pipeline at the default params with other seeds, as DVC experiments: the seed spread.

    python -m studies.seed_spread --seeds 0 1 2 3 4 5 6 7 8 9          # this CPU's own kernels
    python -m studies.seed_spread --seeds 0 1 2 3 4 --avx2            # the kernels of an AVX2-only CPU, fp32

Seed s runs `dvc exp run -S classifier.seed=s -S train.seed=s -S evaluate.seed=s --name seed-s evaluate`
(the stages up to evaluate; the figures play no part in the spread): a run on
another CPU is like a run with other seeds, since different rounding early on sends training down
another path. `--avx2` pins torch, oneDNN and MKL to their AVX2 kernels (ATEN_CPU_CAPABILITY,
ONEDNN_MAX_CPU_ISA, MKL_CBWR) with compute.precision fp32: close to what an AVX2-only machine computes,
not to the bit. Experiments are recorded as they finish, and those already recorded on this commit are
kept, so an interrupted run resumes where it stopped.

Writes metrics/seed_spread.json (or metrics/seed_spread_avx2.json): every seed's metrics as the stages
wrote them, with its platform record, the command and the commit; the code and params of train and
evaluate (from the experiments' dvc.lock), since the check refuses a spread whose inputs are not the
committed results' own; and what the check derives from it for the committed run (`check`: the seed left
out, mean, sd and tolerance of every compared metric). `python -m tools.docs` shows both files as tables
in docs/reproducibility.md and docs/pipeline.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from statistics import mean, stdev

from studies.analysis.calibration import spread_tolerances
from studies.analysis.experiments import (SEEDED, exp_show, experiment_files, experiment_inputs, experiment_platform,
                                          experiment_results, head_commit, run_experiments, seed_settings)
from studies.analysis.provenance import source
from studies.records import (REPO, SEED_SPREAD, SEED_SPREAD_AVX2, command, committed_results, read_record,
                             relative, write_record)

AVX2_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def experiment_name(seed: int, avx2: bool) -> str:
    return f"seed-{seed}-avx2" if avx2 else f"seed-{seed}"


def own_settings(avx2: bool) -> list[str]:
    """The params every seed's run sets beside its seeds."""
    return ["compute.precision=fp32"] if avx2 else []


def settings(seed: int, avx2: bool) -> list[str]:
    return seed_settings(seed) + own_settings(avx2)


def collect(names: dict[int, str]) -> tuple[dict, dict, dict]:
    """The recorded experiments' metrics, {seed: {metrics file: content}}, where each ran, {seed:
    {"experiment", "rev", "platform"}}, and the code and params of train and evaluate they all share."""
    results = experiment_results(exp_show(REPO), list(names.values()))
    metrics, runs, inputs = {}, {}, {}
    for seed, name in names.items():
        rev = results[name]["rev"]
        metrics[str(seed)] = experiment_files(REPO, rev)
        runs[str(seed)] = {"experiment": name, "rev": rev, "platform": experiment_platform(REPO, rev)}
        inputs[str(seed)] = experiment_inputs(REPO, rev)
    first = inputs[str(next(iter(names)))]
    if any(other != first for other in inputs.values()):
        sys.exit("error: the seeds' experiments ran on different code or params of train and evaluate")
    return metrics, runs, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--avx2", action="store_true", help="pin the AVX2 kernels and fp32 (module docstring)")
    parser.add_argument("--output", help="default: metrics/seed_spread.json, or metrics/seed_spread_avx2.json")
    args = parser.parse_args()
    if len(args.seeds) < 3:
        parser.error("a spread needs at least 3 seeds")
    output = Path(args.output or (SEED_SPREAD_AVX2 if args.avx2 else SEED_SPREAD))

    if args.avx2:
        os.environ.update(AVX2_KERNELS)  # the dvc exp run subprocesses inherit them
    names = {seed: experiment_name(seed, args.avx2) for seed in args.seeds}
    try:
        # up to evaluate: the figures are not part of the spread
        run_experiments(REPO, {names[seed]: settings(seed, args.avx2) for seed in args.seeds}, targets=["evaluate"])
        metrics, runs, inputs = collect(names)
    except subprocess.CalledProcessError as error:
        sys.exit(f"error: `{' '.join(error.cmd[2:])}` failed (exit status {error.returncode})")
    committed = committed_results()  # the commit's, put back by run_experiments
    write_record(output, {
        "command": command(__spec__.name, ["--seeds", *args.seeds] + (["--avx2"] if args.avx2 else [])),
        "commit": head_commit(REPO),
        "environment": AVX2_KERNELS if args.avx2 else {},
        "varied": list(SEEDED),
        "platform": runs[str(args.seeds[0])]["platform"],
        "inputs": inputs,
        "settings": own_settings(args.avx2),  # set on purpose: not a difference from the committed inputs
        "seeds": metrics,
        "runs": runs,
        "check": spread_tolerances(metrics, committed),
    })
    for seed, files in metrics.items():
        run = files["metrics/eval.json"]
        print(f"seed {seed}: test MSE {run['test_mse']:.5f}, KL {run['kl_nats']:.3g} nats, "
              f"{run['active_units']} active units{', COLLAPSED' if run['posterior_collapse'] else ''}")
    print(f"wrote {relative(output)}")


# --- Its tables in the docs -------------------------------------------------------------------------------


def _number(value: object) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def seed_spread_table() -> str:
    """The mean, sd and tolerance the seed spread recorded for the check, per compared metric (every seed's
    values are in the record)."""
    spread_file = read_record(SEED_SPREAD)
    check = spread_file["check"]
    own = check["committed_seed"]
    lines = [f"{source(spread_file)} Varied together: {', '.join(spread_file['varied'])}. Collapsed seeds: "
             f"{', '.join(check['collapsed_seeds']) or 'none'}. The tolerances are the check's on this commit: sd "
             f"over the {len(check['healthy_seeds'])} healthy seeds other than the committed run"
             + (f" (seed {own})" if own else "") + f", {check['metrics_tested']} metrics tested together, so "
             f"t = {check['critical_t']:.3g} ({check['degrees_of_freedom']} degrees of freedom) and tolerance = "
             f"{check['critical_t']:.3g} × √2 × sd.", "",
             "| metric | mean | sd | tolerance |", "|---|---|---|---|"]
    for metric, row in check["metrics"].items():
        lines.append(f"| {metric} | {row['mean']:.5g} | {row['sd']:.3g} | {row['tolerance']:.3g} |")
    return "\n".join(lines)


def collapse_check_table() -> str:
    """Per seed-spread record (native and AVX2 kernels): which seeds collapsed, and test MSE, KL and active
    units over the healthy ones (every seed's values are in the records)."""
    lines = ["| record | seeds | collapsed | test MSE | KL [nats] | active units |", "|---|---|---|---|---|---|"]
    sources = []
    for path in (SEED_SPREAD, SEED_SPREAD_AVX2):
        record = read_record(path)
        pinned = " ".join(f"{key}={value}" for key, value in record.get("environment", {}).items())
        runs = record["seeds"]
        collapsed = [seed for seed, files in runs.items() if files["metrics/eval.json"]["posterior_collapse"]]
        healthy = [files["metrics/eval.json"] for seed, files in runs.items() if seed not in collapsed]
        cells = [f"{mean(run[name] for run in healthy):.4g} ± {stdev(run[name] for run in healthy):.2g}"
                 for name in ("test_mse", "kl_nats", "active_units")]
        lines.append(f"| `{relative(path)}` | {', '.join(runs)} | {', '.join(collapsed) or 'none'} | "
                     + " | ".join(cells) + " |")
        sources.append(f"- `{relative(path)}`: {source(record)}" + (f" Kernels pinned: {pinned}." if pinned else ""))
    return "\n".join(lines + [""] + sources)


TABLES = {"seed-spread": seed_spread_table, "collapse-check": collapse_check_table}


if __name__ == "__main__":
    main()
