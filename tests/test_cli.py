"""What every stage script shares: arguments, params, and one-line error exits."""

import pytest

from betavae.cli import parse_paths, run_stage
from betavae.errors import Interrupted, ParamsError


def test_path_arguments_are_the_paths_in_order():
    assert parse_paths(["x"], "doc", ["only"]).only == "x"


@pytest.mark.parametrize("error, code, line", [
    (ParamsError("train.beta must be >= 0.0, got -1.0"), 2, "error: train.beta must be >= 0.0, got -1.0"),
    (Interrupted("run `dvc repro` to resume"), 130, "interrupted: run `dvc repro` to resume"),
])
def test_a_user_facing_error_becomes_one_line_and_its_exit_code(capsys, error, code, line):
    def main(argv):
        raise error
    with pytest.raises(SystemExit) as exit_info:
        run_stage(main)
    assert exit_info.value.code == code
    assert capsys.readouterr().err == line + "\n"


def test_a_bug_is_not_swallowed():
    def main(argv):
        raise ZeroDivisionError("a bug in our code")
    with pytest.raises(ZeroDivisionError):
        run_stage(main)
