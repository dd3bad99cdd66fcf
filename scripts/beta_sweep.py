"""Run a beta sweep as DVC experiments, then draw plots/beta_sweep.png from their results.

    python scripts/beta_sweep.py                 # beta in 0.5 1 2 5 10, one experiment after another
    python scripts/beta_sweep.py --betas 1 4     # other values
    python scripts/beta_sweep.py --plot-only     # redraw from the experiments already run

Each value runs `dvc exp run -S train.beta=B --name beta-B` in the workspace (no queue worker), so
train and the stages after it run while download stays cached. The workspace is put back to the
commit afterwards. The figure is built from `dvc exp show --json`, i.e. from DVC's own record.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DEFAULT_BETAS = (0.5, 1.0, 2.0, 5.0, 10.0)
RESULTS = ("params.yaml", "dvc.lock", "metrics", "plots", "data/source.json")


def experiment_name(beta: float) -> str:
    return f"beta-{beta:g}"


def run_sweep(betas: list[float]) -> None:
    for beta in betas:
        print(f"== beta {beta:g}", flush=True)
        subprocess.run(["dvc", "exp", "run", "-S", f"train.beta={beta}", "--name", experiment_name(beta)],
                       cwd=REPO, check=True)
    tracked = subprocess.run(["git", "ls-files", "--", *RESULTS], cwd=REPO, check=True, capture_output=True,
                             text=True).stdout.split()
    if tracked:
        subprocess.run(["git", "checkout", "--", *tracked], cwd=REPO, check=True)
    subprocess.run(["dvc", "checkout", "-q"], cwd=REPO, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", default=list(DEFAULT_BETAS))
    parser.add_argument("--plot-only", action="store_true")
    parser.add_argument("--output", default=str(REPO / "plots" / "beta_sweep.png"))
    args = parser.parse_args()
    if not args.plot_only:
        run_sweep(args.betas)
    sys.path.insert(0, str(REPO))
    from betavae.figures import save_beta_sweep_figure
    from betavae.sweep import sweep_points
    shown = subprocess.run(["dvc", "exp", "show", "--json"], cwd=REPO, check=True, capture_output=True, text=True)
    points = sweep_points(json.loads(shown.stdout), names=[experiment_name(b) for b in args.betas])
    save_beta_sweep_figure(points, args.output)
    for point in points:
        print(point)


if __name__ == "__main__":
    main()
