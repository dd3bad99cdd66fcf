"""Re-run the whole pipeline and check that it reproduces the committed results.

    python scripts/check_repro.py                  # exact: every committed file must come back byte-identical
    REPRO_TOLERANCE=0.03 python scripts/check_repro.py   # another kind of machine: metrics within 3%

Every stage really runs (`dvc repro --force`, so neither the run cache nor existing outputs are reused).
Fails when `dvc status` is not clean afterwards, when a metric differs from the committed one beyond the
tolerance (relative), or when any other tracked file changed; with a tolerance, the results themselves
(metrics/, plots/, dvc.lock) may change, code and params may not. Prints `dvc metrics diff` either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def metric_failures(tolerance: float) -> list[str]:
    """Metrics whose recomputed value differs from the committed one by more than the tolerance."""
    diff = json.loads(run("dvc", "metrics", "diff", "--json").stdout or "{}")
    failures = []
    for path, metrics in diff.items():
        for name, change in metrics.items():
            old, new = change.get("old"), change.get("new")
            if not isinstance(old, (int, float)) or not isinstance(new, (int, float)):
                failures.append(f"{path}:{name} is {new!r}, committed {old!r}")
            elif abs(new - old) > tolerance * abs(old):
                failures.append(f"{path}:{name} is {new!r}, committed {old!r} (tolerance {tolerance:g} relative)")
    return failures


RESULTS = ("metrics/", "plots/", "dvc.lock")


def changed_files(ignore_results: bool) -> list[str]:
    """Tracked files the re-run changed; with a tolerance, results may differ in their low bits."""
    lines = run("git", "status", "--porcelain", "--untracked-files=no").stdout.splitlines()
    paths = [line[3:] for line in lines]
    return [p for p in paths if not (ignore_results and p.startswith(RESULTS))]


def main() -> int:
    tolerance = float(os.environ.get("REPRO_TOLERANCE", "0"))
    print("dvc repro --force: every stage runs", flush=True)
    subprocess.run(["dvc", "repro", "--force"], check=True)

    print("\nCommitted metrics (HEAD) against the re-run (workspace):")
    print(run("dvc", "metrics", "diff", "--all", "--md").stdout or "(no metrics)")

    problems = []
    if run("dvc", "status", "-q", check=False).returncode != 0:
        problems.append("dvc status is not clean after the re-run:\n" + run("dvc", "status").stdout)
    problems += metric_failures(tolerance)
    for path in changed_files(ignore_results=tolerance > 0):
        problems.append(f"{path} differs from the committed file\n{run('git', 'diff', '--stat', '--', path).stdout}")
    if problems:
        print("NOT REPRODUCED:\n- " + "\n- ".join(problems), file=sys.stderr)
        return 1
    print("Reproduced: dvc status is clean, metrics and every tracked file match the commit.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
