"""A beta x seeds sweep as DVC experiments: run it, or a slice of it, share it, and summarise it.

    python -m studies.beta_sweep                          # beta 0.5 1 2 5 10 x seeds 0 1 2, here, then summarise
    python -m studies.beta_sweep --betas 1 5 --seeds 0 1 2 3
    python -m studies.beta_sweep --slice 1/2 --push origin   # machine 1 of 2: its share, pushed
    python -m studies.beta_sweep --slice 2/2 --push origin   # machine 2 of 2
    python -m studies.beta_sweep --collect --pull origin     # any machine: pull every slice, summarise
    python -m studies.beta_sweep --compare 1 5               # which metrics differ beyond the seed spread

Each (beta, seed) runs `dvc exp run -S train.beta=B -S train.seed=S --name sweep-beta-B-seed-S evaluate`
in the workspace (no queue worker: sequential is what 2 cores do best): the stages up to `evaluate`, all
the summary reads (one experiment's figures: `dvc exp apply` it, then `dvc repro`). The workspace is put
back to the commit afterwards; an experiment already recorded on this commit is kept, so an interrupted sweep resumes.
`--push REMOTE` sends the slice's experiments to the git remote and their outputs to the default DVC
remote (`dvc exp push`); `--pull REMOTE` fetches them (`dvc exp pull`). Every machine must be on the same
commit with the same --betas and --seeds.

Summarising reads the experiments from `dvc exp show --json` and writes metrics/beta_sweep.json (every
run, mean ± sd over seeds per beta, UDR per beta with its chance level and bootstrap intervals over
seeds) and plots/beta_sweep.png; `python -m tools.docs`
turns the JSON into the tables of docs/sweep.md. UDR (studies/analysis/udr.py) needs every model: each is read
from its experiment with dvc.api and encodes the test images.
"""

from __future__ import annotations

import argparse
import math
import json
import subprocess
import sys
from pathlib import Path

import torch

from betavae.data import load_images
from betavae.errors import BetaVAEError
from betavae.evaluation import encode_all, kl_per_dimension
from betavae.io import write_json
from betavae.machine import instruction_set
from betavae.params import load_params
from studies.analysis.experiments import (exp_show, head_commit, load_experiment_model, pull_experiments,
                                          push_experiments, read_experiment_json, run_experiments)
from studies.analysis.sweep import (POOLED_SD_MULTIPLE, compare, experiment_name, grid, parse_slice, slice_of,
                                    summarize, summary_of_record, sweep_points, verdicts)
from studies.analysis.sweep_figure import save_beta_sweep_figure
from studies.analysis.provenance import source
from studies.analysis.udr import udr_with_chance
from studies.records import BETA_SWEEP, DATA, PARAMS, REPO, read_record

DEFAULT_BETAS = (0.5, 1.0, 2.0, 5.0, 10.0)
DEFAULT_SEEDS = (0, 1, 2)


# Minutes per experiment (train and evaluate) at 20 epochs on 2 CPU cores, per kind of CPU: the sweep of
# metrics/beta_sweep.json on AMD EPYC Zen 4; an earlier 5-beta sweep on Intel AMX; an AVX2-only AMD EPYC.
MINUTES_PER_EXPERIMENT = {"AMX": 3.5, "AVX512-BF16": 7.0}
MINUTES_OTHERWISE = 15.0  # AVX2 only


def estimate(count: int) -> str:
    """What the sweep will cost on this machine, before it starts."""
    kind = instruction_set()
    minutes = MINUTES_PER_EXPERIMENT.get(kind, MINUTES_OTHERWISE) * load_params(PARAMS).train.epochs / 20
    return (f"{count} experiments, each a whole training run: about {minutes:.0f} min each on 2 cores of this "
            f"CPU ({kind}), {count * minutes / 60:.1f} h in all; experiments already recorded here are kept.")


def run_cells(cells: list[tuple[float, int]]) -> None:
    """Run the sweep's experiments one after another, with an estimate first."""
    print(estimate(len(cells)), flush=True)
    run_experiments(REPO, {experiment_name(beta, seed): [f"train.beta={beta}", f"train.seed={seed}"]
                           for beta, seed in cells}, targets=["evaluate"])


def representation(rev: str, test_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images' posterior means [N, D] under the model of the experiment at git commit `rev`, and
    the KL of each of its units [D], in the model's own unit order."""
    mu, logvar = encode_all(load_experiment_model(REPO, rev), test_images, batch_size=1000)
    return mu, kl_per_dimension(mu, logvar)


def udr_per_beta(points) -> dict:
    """UDR of each beta's seeds, from their models' posterior means and their per-unit KL, with its chance
    level and bootstrap intervals over seeds (studies.analysis.udr.udr_with_chance)."""
    test_images, _ = load_images(DATA, "test")
    by_beta: dict[float, list] = {}
    for point in points:
        by_beta.setdefault(point.beta, []).append(representation(point.rev, test_images))
    return {beta: udr_with_chance(models) for beta, models in by_beta.items() if len(models) > 1}


def summarise(cells: list[tuple[float, int]], output: Path, figure: Path, command: str) -> None:
    points = sweep_points(exp_show(REPO), [experiment_name(beta, seed) for beta, seed in cells])
    summary = summarize(points)
    udr = udr_per_beta(points)
    record = {
        "command": command, "commit": head_commit(REPO),
        "runs": {p.name: {"beta": p.beta, "seed": p.seed, "rev": p.rev, "metrics": p.metrics,
                          "platform": read_experiment_json(REPO, "metrics/platform.json", p.rev)} for p in points},
        "summary": {f"{beta:g}": {name: vars(spread) for name, spread in metrics.items()}
                    for beta, metrics in summary.items()},
        "udr": {f"{beta:g}": scores for beta, scores in udr.items()},
    }
    write_json(output, dict(record, verdicts=verdicts(record)))
    save_beta_sweep_figure(summary, udr, figure)
    for beta, metrics in summary.items():
        shown = ", ".join(f"{name} {s.mean:.4g} ± {s.sd:.2g}" for name, s in metrics.items())
        scored = udr.get(beta)
        shown += f"; UDR {scored['udr']:.3f}, by chance {scored['chance']:.3f}" if scored else ""
        print(f"beta {beta:g} ({metrics['test_mse'].count} seeds): {shown}")
    print(f"wrote {output} and {figure}")


def print_comparison(record_path: Path, beta_a: float, beta_b: float) -> None:
    """Per metric: both betas' mean ± sd, the difference, and whether it exceeds the seed spread."""
    if not record_path.is_file():
        raise BetaVAEError(f"{record_path} does not exist: run the sweep first (make sweep)")
    rows = compare(summary_of_record(json.loads(record_path.read_text())), beta_a, beta_b)
    print(f"beta {beta_a:g} -> {beta_b:g} from {record_path}; a difference counts when it exceeds "
          f"{POOLED_SD_MULTIPLE:g} pooled seed sd")
    print(f"{'metric':36} {f'beta {beta_a:g}':>20} {f'beta {beta_b:g}':>20} {'difference':>11} {'seed sd':>9}  counts?")
    for row in rows:
        a, b = row["a"], row["b"]
        verdict = "yes" if row["exceeds"] else "no: within seed spread"
        print(f"{row['metric']:36} {f'{a.mean:.5g} ± {a.sd:.2g}':>20} {f'{b.mean:.5g} ± {b.sd:.2g}':>20} "
              f"{row['difference']:>+11.4g} {row['spread']:>9.3g}  {verdict}")


def rewrite_verdicts(record_path: Path) -> None:
    """The record's verdicts (which beta steps exceed the seed spread, where UDR clears chance) from its numbers."""
    record = json.loads(record_path.read_text())
    write_json(record_path, dict(record, verdicts=verdicts(record)))
    print(f"wrote the verdicts of {record_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", default=list(DEFAULT_BETAS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--slice", help="run only this machine's share, e.g. 1/2; then nothing is summarised")
    parser.add_argument("--push", metavar="REMOTE", help="after running, push the experiments to this git remote")
    parser.add_argument("--collect", action="store_true", help="run nothing; summarise what has run")
    parser.add_argument("--pull", metavar="REMOTE", help="before summarising, pull the experiments from there")
    parser.add_argument("--compare", type=float, nargs=2, metavar=("BETA_A", "BETA_B"),
                        help="run nothing; say per metric whether BETA_A and BETA_B differ beyond the seed spread")
    parser.add_argument("--verdicts", action="store_true",
                        help="run nothing; write the record's verdicts again from its own numbers")
    parser.add_argument("--output", default=str(REPO / "metrics" / "beta_sweep.json"),
                        help="the sweep's record: written by a run or --collect, read by --compare")
    parser.add_argument("--figure", default=str(REPO / "plots" / "beta_sweep.png"))
    args = parser.parse_args()
    try:
        if args.compare:
            return print_comparison(Path(args.output), *args.compare)
        if args.verdicts:
            return rewrite_verdicts(Path(args.output))
        cells = grid(args.betas, args.seeds)
        mine = slice_of(cells, *parse_slice(args.slice)) if args.slice else cells
        if not args.collect:
            run_cells(mine)
            if args.push:
                push_experiments(REPO, args.push, [experiment_name(beta, seed) for beta, seed in mine])
        if args.collect or not args.slice:
            if args.pull:
                pull_experiments(REPO, args.pull, [experiment_name(beta, seed) for beta, seed in cells])
            command = "python -m studies.beta_sweep --betas " + " ".join(f"{b:g}" for b in args.betas) + \
                " --seeds " + " ".join(map(str, args.seeds))
            summarise(cells, Path(args.output), Path(args.figure), command)
    except BetaVAEError as error:
        sys.exit(f"error: {error}")
    except subprocess.CalledProcessError as error:
        command = " ".join(error.cmd[2:] if error.cmd[1:2] == ["-m"] else error.cmd)
        detail = f": {error.stderr.strip()}" if error.stderr else ""
        sys.exit(f"error: `{command}` failed (exit status {error.returncode}){detail}")


# --- Its tables in the docs -------------------------------------------------------------------------------


# The metrics the README shows per beta; docs/sweep.md shows every one.
SWEEP_HEADLINE = ("test_mse", "kl_nats", "active_units", "linear_probe_accuracy")


def _sweep() -> tuple[dict, dict]:
    """metrics/beta_sweep.json and its summary (mean and sd over seeds of every metric, per beta)."""
    record = read_record(BETA_SWEEP)
    return record, summary_of_record(record)


def _plus_minus(mean_: float, sd: float) -> str:
    """mean ± sd, both to the sd's second significant digit."""
    if sd == 0:
        return f"{mean_:.4g} ± 0"
    decimals = max(0, 1 - math.floor(math.log10(sd)))
    return f"{mean_:.{decimals}f} ± {sd:.{decimals}f}"


def _sweep_source(record: dict) -> str:
    seeds = sorted({run["seed"] for run in record["runs"].values()})
    platform = next(iter(record["runs"].values()))["platform"]
    return (f"{source(record, platform)} Mean ± sample standard deviation over seeds {', '.join(map(str, seeds))}, "
            f"on the 10,000 test images.")


def _sweep_table(names: tuple[str, ...] | None) -> str:
    record, summary = _sweep()
    betas = sorted(summary)
    names = names or tuple(summary[betas[0]])
    lines = [_sweep_source(record), "", "| metric | " + " | ".join(f"β = {beta:g}" for beta in betas) + " |",
             "|---" * (len(betas) + 1) + "|"]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_plus_minus(summary[b][name].mean, summary[b][name].sd)
                                                  for b in betas) + " |")
    return "\n".join(lines + _udr_rows(record, betas))


UDR_ROWS = (("udr", "UDR, median over pairs of seeds", "{:.2f}"),
            ("chance", "UDR by chance: the same codes in random axes", "{:.2f}"),
            ("above_chance", "UDR − chance", "{:+.2f}"))


def _udr_rows(record: dict, betas: list[float]) -> list[str]:
    """UDR, its chance level and their difference per beta, each with its bootstrap interval over seeds."""
    scored = [record["udr"].get(f"{beta:g}") for beta in betas]
    level = next((u["bootstrap"]["level"] for u in scored if u), 0.95)
    rows = []
    for name, label, form in UDR_ROWS:
        cells = [f"{form.format(u[name])} [{form.format(u['bootstrap'][name][0])}, "
                 f"{form.format(u['bootstrap'][name][1])}]" if u else "—" for u in scored]
        rows.append(f"| {label} [{level:.0%} bootstrap over seeds] | " + " | ".join(cells) + " |")
    return rows


def udr_sentence() -> str:
    """How far above its chance level each beta's UDR is, and where the sweep found it clear of chance."""
    record, summary = _sweep()
    clear_of_chance = record["verdicts"]["udr_above_chance"]
    scored = {beta: record["udr"][f"{beta:g}"] for beta in sorted(summary) if f"{beta:g}" in record["udr"]}
    parts = [f"{u['above_chance']:+.2f} [{u['bootstrap']['above_chance'][0]:+.2f}, "
             f"{u['bootstrap']['above_chance'][1]:+.2f}] at β = {beta:g}" for beta, u in scored.items()]
    clear = [f"{beta:g}" for beta in scored if clear_of_chance[f"{beta:g}"]]
    return (f"UDR above its chance level (the same models' codes in random axes, which score "
            f"{min(u['chance'] for u in scored.values()):.2f} to {max(u['chance'] for u in scored.values()):.2f}): "
            + "; ".join(parts) + ". Only where the interval excludes 0 (β = " + (", ".join(clear) or "none")
            + ") do two seeds' units agree more than arbitrary axes of the same information would.")


def sweep_headline_table() -> str:
    return _sweep_table(SWEEP_HEADLINE)


def sweep_summary_table() -> str:
    return _sweep_table(None)


def _comparison_table(names: tuple[str, ...] | None) -> str:
    record = read_record(BETA_SWEEP)
    steps = record["verdicts"]["steps"]
    names = names or tuple(sorted(next(iter(steps.values()))))
    lines = [f"Each cell: the change of the mean from the first β to the second; **exceeds** where "
             f"{record['verdicts']['rule']}, *within* where seeds alone could make it.",
             "", "| metric | " + " | ".join(f"β {step.replace(' -> ', ' → ')}" for step in steps) + " |",
             "|---" * (len(steps) + 1) + "|"]
    for name in names:
        cells = [f"{steps[step][name]['difference']:+.3g} " + ("**exceeds**" if steps[step][name]["exceeds"]
                                                               else "*within*") for step in steps]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SD_BY_BETA = ("test_mse", "kl_nats", "active_units", "linear_probe_accuracy", "bce_objective",
              "frechet_classifier_samples")


def seed_sd_by_beta() -> str:
    """The sd over the sweep's seeds of headline metrics at each β, and its ratio to the committed β's."""
    record, summary = _sweep()
    committed = float(load_params(PARAMS).train.beta)
    betas = sorted(summary)
    seeds = sorted({run["seed"] for run in record["runs"].values()})
    lines = [f"Sample sd over seeds {', '.join(map(str, seeds))} of each β, from the sweep in "
             f"`metrics/beta_sweep.json`. {_sweep_source(record)} In brackets, its "
             f"ratio to the sd at the committed β = {committed:g}. An sd of {len(seeds)} seeds is itself uncertain "
             f"by about half, so only ratios well beyond 2 or below 1/2 say much.", "",
             "| metric | " + " | ".join(f"β = {beta:g}" for beta in betas) + " |", "|---" * (len(betas) + 1) + "|"]
    for name in SD_BY_BETA:
        base = summary[committed][name].sd

        def cell(beta: float) -> str:
            sd = summary[beta][name].sd
            ratio = "" if beta == committed else (f" (×{sd / base:.2g})" if base else " (base sd 0)")
            return f"{sd:.2g}{ratio}"
        lines.append(f"| {name} | " + " | ".join(cell(beta) for beta in betas) + " |")
    return "\n".join(lines)


def sweep_comparison() -> str:
    return _comparison_table(None)


TABLES = {"sweep-headline": sweep_headline_table, "sweep-summary": sweep_summary_table,
          "sweep-comparison": sweep_comparison, "sweep-udr": udr_sentence, "seed-sd-by-beta": seed_sd_by_beta}


if __name__ == "__main__":
    main()
