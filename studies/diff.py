"""Compare the metrics of two runs the way the check judges them: is each difference beyond the seed noise?

    python -m studies.diff HEAD sweep-beta-6-seed-0        # commits, branches, experiment names
    python -m studies.diff HEAD workspace --md             # the workspace: the files on disk
    make diff A=HEAD B=<experiment>

For every compared metric: A, B, the difference B - A, that difference in seed standard deviations, the
check's tolerance and whether the difference is beyond it. One rule and one code path with `make
check-repro`: `studies.analysis.reproducibility.judge` with the committed seed spread
(metrics/seed_spread.json), leaving out a spread seed that is one of the two runs, as the check does.
The metrics are compared as the check compares them: the per-dimension KL as the KL of the largest units,
whose order does not matter.

The spread was measured at the committed params: it says how far seeds move the metrics there. At other
settings seeds may move them more or less (docs/reproducibility.md says by how much at β 0.5 and β 10),
so read a verdict far from the committed params as a guide.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from betavae.errors import BetaVAEError
from studies.analysis.calibration import committed_seed
from studies.analysis.experiments import metrics_paths, read_experiment_json, resolve_rev
from studies.analysis.reproducibility import FileMetrics, SeedSpread, Verdict, comparable, judge, seed_spread
from studies.records import REPO

SPREAD = "metrics/seed_spread.json"
WORKSPACE = "workspace"


def resolve(repo: Path, rev: str) -> str:
    """A git commit for a revision or an experiment name; `workspace` stays as it is."""
    return rev if rev == WORKSPACE else resolve_rev(repo, rev)


def read_metrics(repo: Path, rev: str) -> FileMetrics:
    """{metrics file: content} of a commit or the workspace, for every metrics file dvc.yaml declares."""
    files = {}
    for path in metrics_paths(repo):
        if rev == WORKSPACE:
            files[path] = json.loads((repo / path).read_text())
        else:
            files[path] = read_experiment_json(repo, path, rev)
    return files


def seed_aware_diff(a: FileMetrics, b: FileMetrics, spread_seeds: dict[str, FileMetrics]) -> tuple[Verdict, SeedSpread]:
    """judge(A, B) with the seed spread less any spread seed that is A or B itself, and that spread."""
    leave_out = tuple(sorted(seed for seed in {committed_seed(spread_seeds, a), committed_seed(spread_seeds, b)}
                             if seed))
    spread = seed_spread(spread_seeds, leave_out=leave_out)
    return judge(comparable(a), comparable(b), spread), spread


def rows(verdict: Verdict, sd: dict[str, float]) -> list[list[str]]:
    """metric, A, B, B - A, (B - A) / seed sd, tolerance, beyond the seed noise?"""
    table = []
    for row in verdict.rows:
        difference = row.difference
        in_sd = "-" if difference is None or not sd.get(row.metric) else f"{difference / sd[row.metric]:+.2f}"
        beyond = "no" if row.passed else ("YES" if row.allowed is not None else f"? ({row.note})")
        table.append([row.metric, _show(row.committed), _show(row.new),
                      "-" if difference is None else f"{difference:+.4g}", in_sd,
                      "-" if row.allowed is None else f"{row.allowed:.3g}", beyond])
    return table


HEADER = ["metric", "A", "B", "B - A", "in seed sd", "tolerance", "beyond seed noise"]


def format_rows(table: list[list[str]], markdown: bool) -> str:
    if markdown:
        return "\n".join(["| " + " | ".join(HEADER) + " |", "|---" * len(HEADER) + "|"]
                         + ["| " + " | ".join(cells) + " |" for cells in table])
    widths = [max(len(cells[i]) for cells in [HEADER, *table]) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()
                     for cells in [HEADER, *table])


def _show(value: Any) -> str:
    return "-" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="a commit, branch, tag, experiment name, or `workspace`")
    parser.add_argument("b", help="the same kinds")
    parser.add_argument("--md", action="store_true", help="a Markdown table")
    args = parser.parse_args()
    try:
        spread_file = json.loads((REPO / SPREAD).read_text())
        a, b = (read_metrics(REPO, resolve(REPO, rev)) for rev in (args.a, args.b))
        verdict, spread = seed_aware_diff(a, b, spread_file["seeds"])
    except (BetaVAEError, OSError) as error:
        sys.exit(f"error: {error}")
    except subprocess.CalledProcessError as error:
        sys.exit(f"error: `{' '.join(map(str, error.cmd))}` failed: {(error.stderr or '').strip()}")
    print(f"A = {args.a}, B = {args.b}; seed noise from {SPREAD} ({len(spread.seeds)} healthy seeds at the "
          f"committed params), judged as `make check-repro` judges:\n")
    print(format_rows(rows(verdict, spread.sd), args.md))
    beyond = [row.metric for row in verdict.rows if not row.passed]
    print("\n" + (f"Beyond the seed noise: {', '.join(beyond)}." if beyond else
                  "No difference beyond the seed noise: seeds alone could make these two runs.")
          + (f" {verdict.reason}." if verdict.collapsed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
