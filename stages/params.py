"""params: check every key of params.yaml before any stage that reads it runs.

DVC deletes a stage's outputs before it runs the stage's command, so a bad value caught by `train` itself
would leave the workspace without train's outputs. Every stage that reads params depends on this stage's
output, so DVC runs it first; it writes that output only when every value passes, and always the same
bytes, so it never re-runs anything by itself.
"""

from __future__ import annotations

from typing import Sequence

from betavae.cli import parse_paths, run_stage
from betavae.errors import ParamsError
from betavae.io import atomic_write
from betavae.params import load_params

CHECKED = "every key of params.yaml passed its checks; see stages/params.py\n"


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_paths(argv, __doc__, ["params_yaml", "checked"])
    try:
        load_params(args.params_yaml)
    except ParamsError as error:
        # Not `git checkout`: after `dvc exp run -S`, git's index can take the rewritten file for unchanged
        # (same size, same second), and then checkout leaves it as it is.
        raise ParamsError(f"{error}. No stage ran and every output is as it was; `git show HEAD:{args.params_yaml} "
                          f"> {args.params_yaml}` puts the committed values back") from None
    with atomic_write(args.checked) as f:
        f.write(CHECKED)


if __name__ == "__main__":
    run_stage(main)
