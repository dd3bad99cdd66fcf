"""studies/likelihood_options.py runs every option as a DVC experiment (tiny params, generated data)."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import COMMITTED_IMAGES, COMMITTED_PARAMS, tool_environment


@pytest.mark.slow
def test_each_option_reports_only_the_metrics_valid_for_it(copy_of_committed_tiny_repo):
    tmp_path = copy_of_committed_tiny_repo  # committed results, as in the repository
    env = tool_environment()

    def run(*command):
        return subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, text=True)

    run(sys.executable, "-m", "studies.likelihood_options", "--output", "options.json")

    record = json.loads((tmp_path / "options.json").read_text())
    options = record["options"]
    assert set(options) == {"bernoulli-grey", "continuous-bernoulli", "binarized", "binarized-beta-1"}
    grey = options["bernoulli-grey"]["metrics"]
    assert "bce_objective" in grey and not {"elbo_nats", "iwae_nats", "nll_nats"} & grey.keys()
    continuous = options["continuous-bernoulli"]["metrics"]
    assert {"elbo_nats", "iwae_nats"} <= continuous.keys() and "nll_nats" not in continuous
    for name in ("continuous-bernoulli", "binarized", "binarized-beta-1"):  # a likelihood: its bounds
        metrics = options[name]["metrics"]
        assert metrics["elbo_nats"] == pytest.approx(-(metrics["reconstruction_nats"] + metrics["kl_nats"]))
        assert metrics["iwae_nats"] >= metrics["elbo_nats"] - 5  # one-sample ELBO is noisy on a tiny model
        assert not {"bce_objective", "bce_reconstruction"} & metrics.keys()
    for name in ("binarized", "binarized-beta-1"):
        assert options[name]["metrics"]["nll_nats"] == -options[name]["metrics"]["iwae_nats"]
        assert 0 < options[name]["metrics"]["nll_nats"] < 784 * 0.7  # binary pixels: at most log 2 each, untrained
    assert continuous["test_mse"] != grey["test_mse"]  # the experiments really trained other models
    assert yaml.safe_load((tmp_path / "params.yaml").read_text()) == COMMITTED_PARAMS  # workspace put back
    assert run("git", "status", "--porcelain", "--", "params.yaml", "dvc.lock", "metrics").stdout == ""

    # The test NLL of one of those experiments' models, at two K, on 10 of the test images, evenly spread.
    run(sys.executable, "-m", "studies.estimate_nll", "--rev", "likelihood-binarized-beta-1", "--samples", "1", "64",
        "--images", "10", "--output", "nll.json")
    nll = json.loads((tmp_path / "nll.json").read_text())
    every = COMMITTED_IMAGES["test"] // 10
    assert nll["model"] == "likelihood-binarized-beta-1" and nll["images"] == 10 and nll["every"] == every
    assert nll["settings"] == ["data.binarize=true", "train.beta=1"]  # the model's own, beside its inputs
    assert set(nll["inputs"]) == {"train", "evaluate"} and record["inputs"]["train"]["deps"] == nll["inputs"]["train"]["deps"]
    one, many = nll["samples"]["1"], nll["samples"]["64"]
    assert 0 < many["nll_nats"] < 784 * 0.7 and one["standard_error"] > 0  # tightening with K: test_evaluation
    assert many["change_from_first_k"] == pytest.approx(many["nll_nats"] - one["nll_nats"])
    refused = subprocess.run([sys.executable, "-m", "studies.estimate_nll", "--rev", "likelihood-continuous-bernoulli"],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and "binarized data" in refused.stderr
