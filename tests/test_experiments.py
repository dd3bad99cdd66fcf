"""Reading DVC experiments back out of `dvc exp show --json`."""

from studies.analysis.experiments import experiment_results


def state(name, beta, kl, seed=0, experiments=None):
    data = {"params": {"params.yaml": {"data": {"train": {"beta": beta, "seed": seed}}}},
            "metrics": {"metrics/eval.json": {"data": {"kl_nats": kl, "bce_reconstruction": 100 - kl,
                                                       "test_mse": kl / 100}}}}
    return {"rev": f"rev-{name}", "name": name, "data": data, "experiments": experiments}


def test_experiment_results_hold_each_experiments_params_and_eval_metrics():
    shown = [state("abc123", 5, 1.0, experiments=[{"revs": [state("likelihood-a", 1, 3.0)]}])]
    results = experiment_results(shown, ["likelihood-a"])
    assert results["likelihood-a"]["params"]["train"]["beta"] == 1
    assert results["likelihood-a"]["metrics"]["kl_nats"] == 3.0
