"""User-facing errors: one family, an exit code and a label each."""

import pytest

from betavae.errors import BetaVAEError, DataError, Interrupted, ParamsError, TrainingError


@pytest.mark.parametrize("error", [ParamsError, DataError, TrainingError])
def test_problems_with_input_exit_2_labelled_error(error):
    assert issubclass(error, BetaVAEError) and error.exit_code == 2 and error.label == "error"


def test_an_interruption_exits_like_ctrl_c():
    assert issubclass(Interrupted, BetaVAEError) and Interrupted.exit_code == 130
