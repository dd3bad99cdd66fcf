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
from studies.analysis.udr import udr_with_chance

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BETAS = (0.5, 1.0, 2.0, 5.0, 10.0)
DEFAULT_SEEDS = (0, 1, 2)


# Minutes per experiment (train and evaluate) at 20 epochs on 2 CPU cores, per kind of CPU: the sweep of
# metrics/beta_sweep.json on AMD EPYC Zen 4; an earlier 5-beta sweep on Intel AMX; an AVX2-only AMD EPYC.
MINUTES_PER_EXPERIMENT = {"AMX": 3.5, "AVX512-BF16": 7.0}
MINUTES_OTHERWISE = 15.0  # AVX2 only


def estimate(count: int) -> str:
    """What the sweep will cost on this machine, before it starts."""
    kind = instruction_set()
    minutes = MINUTES_PER_EXPERIMENT.get(kind, MINUTES_OTHERWISE) * load_params(REPO / "params.yaml").train.epochs / 20
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
    test_images, _ = load_images(REPO / "data" / "fashion_mnist", "test")
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


if __name__ == "__main__":
    main()
