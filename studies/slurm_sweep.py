"""The β sweep on a SLURM cluster: an array of slice tasks, then the collector once every one has succeeded.

    python -m studies.slurm_sweep --betas 0.5 1 2 5 10 --seeds 0 1 2 --slices 5 --workdir /shared/sweep
    python -m studies.slurm_sweep ... --only 3     # task 3 again (fixed, or cancelled), and a collector after it
    make sweep-slurm BETAS="0.5 1 2 5 10" SEEDS="0 1 2" SLICES=5 WORKDIR=/shared/sweep

Submits studies/slurm/slice.sh as `sbatch --array=1-SLICES` and studies/slurm/collect.sh with
`--dependency=afterok:ARRAY --kill-on-invalid-dep=yes`: the collector starts only after the last task has
succeeded, and is cancelled (DependencyNeverSatisfied) if any fails. Each task runs the GitHub Actions
slice job's command in a clone of origin under --workdir, on this commit (push it first), and pushes its
experiments to origin and the default DVC remote; the collector pulls them and writes the record in its
clone. A task's log, WORKDIR/logs/slice-ARRAY_TASK.out, ends with the reason it failed. Resubmitting a
task (--only) goes on in its clone: finished cells are kept, an interrupted training resumes. Prints the
job ids.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from studies.analysis.experiments import head_commit
from studies.records import REPO
SLICE_SCRIPT = REPO / "studies" / "slurm" / "slice.sh"
COLLECT_SCRIPT = REPO / "studies" / "slurm" / "collect.sh"


def sbatch(*args: str, env: dict[str, str]) -> str:
    """Submit a job; its id."""
    result = subprocess.run(["sbatch", "--parsable", *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: sbatch {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]


def sweep_environment(betas: list[float], seeds: list[int], slices: int, workdir: Path, origin: str) -> dict:
    """What the batch scripts read, on top of this environment (sbatch exports it to the tasks)."""
    return dict(os.environ, SWEEP_ORIGIN=origin, SWEEP_COMMIT=head_commit(REPO), SWEEP_WORKDIR=str(workdir),
                SWEEP_PYTHON=sys.executable, BETAS=" ".join(f"{beta:g}" for beta in betas),
                SEEDS=" ".join(map(str, seeds)), SLICES=str(slices))


def submit(betas: list[float], seeds: list[int], slices: int, workdir: Path, origin: str,
           only: list[int] | None = None) -> tuple[str, str]:
    """The slice array (every task, or only some) and its collector; their job ids."""
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = sweep_environment(betas, seeds, slices, workdir, origin)
    tasks = ",".join(map(str, only)) if only else f"1-{slices}"
    array = sbatch(f"--array={tasks}", f"--output={logs}/slice-%A_%a.out", str(SLICE_SCRIPT), env=env)
    collector = sbatch(f"--dependency=afterok:{array}", "--kill-on-invalid-dep=yes",
                       f"--output={logs}/collect-%j.out", str(COLLECT_SCRIPT), env=env)
    return array, collector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--slices", type=int, required=True, help="array tasks that share the grid")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="a folder every node sees: the tasks' clones and logs")
    parser.add_argument("--origin", help="the git remote the tasks clone and push to; default: this "
                                         "repository's origin")
    parser.add_argument("--only", type=int, nargs="+", help="submit only these tasks (1-based), with a collector")
    args = parser.parse_args()
    if args.slices < 1 or any(not 1 <= task <= args.slices for task in args.only or []):
        parser.error("--slices must be at least 1 and --only within 1..SLICES")
    if shutil.which("sbatch") is None:
        sys.exit("error: sbatch not found: run this on a SLURM login node")
    origin = args.origin or subprocess.run(["git", "remote", "get-url", "origin"], cwd=REPO, capture_output=True,
                                           text=True).stdout.strip()
    if not origin:
        sys.exit("error: no --origin and no git remote `origin`: the tasks need a repository to clone and push to")
    array, collector = submit(args.betas, args.seeds, args.slices, args.workdir.resolve(), origin, args.only)
    print(f"slice array {array}, collector {collector} (after every task has succeeded); logs in "
          f"{args.workdir / 'logs'}; `scontrol show job {array}` follows them")


if __name__ == "__main__":
    main()
