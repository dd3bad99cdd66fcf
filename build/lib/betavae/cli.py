"""What every stage script shares: its path arguments and clean error exits (its params: betavae.params)."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from tqdm import tqdm

from betavae.errors import BetaVAEError


def parse_paths(argv: Sequence[str] | None, description: str, paths: Sequence[str]) -> argparse.Namespace:
    """Positional paths only, for a stage that uses no params."""
    return path_parser(description, paths).parse_args(argv)


def path_parser(description: str, paths: Sequence[str]) -> argparse.ArgumentParser:
    """A parser of the positional paths that dvc.yaml passes a stage, in order."""
    parser = argparse.ArgumentParser(description=description)
    for name in paths:
        parser.add_argument(name)
    return parser


def run_stage(main: Callable[[Sequence[str] | None], None]) -> None:
    """Run a stage's main; a user-facing error becomes one line on stderr and a non-zero exit."""
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        _close_progress_bars()
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BetaVAEError as error:
        _close_progress_bars()
        print(f"{error.label}: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except OSError as error:  # a failed read or write outside betavae.io, e.g. torchbearer's own log file
        _close_progress_bars()
        print(f"error: {error}", file=sys.stderr)
        sys.exit(BetaVAEError.exit_code)


def _close_progress_bars() -> None:
    """Finish torchbearer's tqdm bars first, so the message is the last line, not buried in one."""
    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()
