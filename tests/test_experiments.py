"""Reading DVC experiments back out of `dvc exp show --json`."""

from studies.analysis.experiments import experiment_results
from tests.helpers import exp_show_state as state


def test_experiment_results_hold_each_experiments_params_and_eval_metrics():
    shown = [state("abc123", 5, 1.0, experiments=[{"revs": [state("likelihood-a", 1, 3.0)]}])]
    results = experiment_results(shown, ["likelihood-a"])
    assert results["likelihood-a"]["params"]["train"]["beta"] == 1
    assert results["likelihood-a"]["metrics"]["kl_nats"] == 3.0
