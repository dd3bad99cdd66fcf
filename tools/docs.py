"""Refresh the generated blocks of README.md and docs/*.md from the committed records, so they cannot drift.

    python -m tools.docs            # rewrite every block between <!-- generated: NAME --> and <!-- end -->
    python -m tools.docs --check    # exit 1 if a block is out of date, a record is stale, or a page shows a
                                    # command, flag, make target or file that does not exist (the tests run it)

Each block's table is written by the module of the study that made its record (its TABLES); this module
only finds the blocks and fills them.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Callable

from benchmarks import train_speed
from studies import beta_sweep, check_proof, estimate_nll, group_errors, likelihood_options, seed_spread
from studies.analysis.provenance import stale_records
from tools import mutation, page_commands, pipeline_tables
from tools.page_commands import PAGES, REPO

BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end -->)", re.DOTALL)
GENERATORS: dict[str, Callable[[], str]] = {
    **pipeline_tables.TABLES, **seed_spread.TABLES, **check_proof.TABLES, **beta_sweep.TABLES, **group_errors.TABLES,
    **likelihood_options.TABLES, **estimate_nll.TABLES, **train_speed.TABLES,
    **mutation.TABLES,
}


def refreshed(text: str) -> str:
    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise SystemExit(f"error: unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        return f"{match.group(1)}{GENERATORS[name]()}\n{match.group(4)}"
    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if a block is out of date; write nothing")
    args = parser.parse_args()
    problems = [f"stale record: {problem}" for problem in stale_records(REPO)]
    problems += [f"no such thing: {problem}" for problem in page_commands.problems()]
    stale = []
    for page in PAGES:
        text = page.read_text()
        new = refreshed(text)
        if new != text:
            stale.append(page.relative_to(REPO).as_posix())
            if not args.check:
                page.write_text(new)
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run `python -m tools.docs`", file=sys.stderr)
    print(("refreshed: " + ", ".join(stale)) if stale and not args.check else
          "every generated block is up to date" if not stale else "")
    return 1 if args.check and (stale or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
