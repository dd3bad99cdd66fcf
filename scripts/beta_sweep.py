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
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DEFAULT_BETAS = (0.5, 1.0, 2.0, 5.0, 10.0)


def experiment_name(beta: float) -> str:
    return f"beta-{beta:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", default=list(DEFAULT_BETAS))
    parser.add_argument("--plot-only", action="store_true")
    parser.add_argument("--output", default=str(REPO / "plots" / "beta_sweep.png"))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from betavae.figures import save_beta_sweep_figure
    from betavae.sweep import exp_show, restore_workspace, run_experiment, sweep_points
    if not args.plot_only:
        try:
            for beta in args.betas:
                print(f"== beta {beta:g}", flush=True)
                run_experiment(REPO, experiment_name(beta), [f"train.beta={beta}"])
        finally:
            restore_workspace(REPO)
    points = sweep_points(exp_show(REPO), names=[experiment_name(b) for b in args.betas])
    save_beta_sweep_figure(points, args.output)
    for point in points:
        values = (f"{name} {value:.5g}" for name, value in point.metrics.items() if isinstance(value, (int, float)))
        print(f"{point.name}: " + ", ".join(values))


if __name__ == "__main__":
    main()
