"""The beta-sweep figure is built from real DVC experiments (tiny params, generated data)."""

import json
import subprocess
import sys

import pytest
import yaml
from PIL import Image

from betavae.errors import BetaVAEError
from betavae.sweep import experiment_results, sweep_points
from tests.conftest import TINY_PARAMS, tiny_dvc_workspace, tool_environment


def state(name, beta, kl, experiments=None):
    data = {"params": {"params.yaml": {"data": {"train": {"beta": beta}}}},
            "metrics": {"metrics/eval.json": {"data": {"kl_nats": kl, "reconstruction_nats": 100 - kl,
                                                       "test_mse": kl / 100}}}}
    return {"rev": name, "name": name, "data": data, "experiments": experiments}


def test_sweep_points_are_read_from_nested_experiments_and_sorted_by_beta():
    shown = [state("workspace", 5, 1.0),
             state("abc123", 5, 1.0, experiments=[{"revs": [state("beta-2", 2, 3.0)]},
                                                  {"revs": [state("beta-0.5", 0.5, 9.0)]}])]
    points = sweep_points(shown, ["beta-2", "beta-0.5"])
    assert [(p.name, p.beta, p.kl_nats) for p in points] == [("beta-0.5", 0.5, 9.0), ("beta-2", 2.0, 3.0)]
    with pytest.raises(BetaVAEError, match="beta-7"):
        sweep_points(shown, ["beta-7"])


def test_experiment_results_hold_each_experiments_params_and_eval_metrics():
    shown = [state("abc123", 5, 1.0, experiments=[{"revs": [state("likelihood-a", 1, 3.0)]}])]
    results = experiment_results(shown, ["likelihood-a"])
    assert results["likelihood-a"]["params"]["train"]["beta"] == 1
    assert results["likelihood-a"]["metrics"]["kl_nats"] == 3.0


@pytest.mark.slow
def test_the_sweep_figure_comes_from_dvc_experiments(tmp_path):
    tiny_dvc_workspace(tmp_path, TINY_PARAMS)
    env = tool_environment()

    def run(*command):
        return subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, text=True)

    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny pipeline")
    run(sys.executable, "scripts/beta_sweep.py", "--betas", "0.5", "4", "--output", "sweep.png")

    assert Image.open(tmp_path / "sweep.png").size[0] > 300
    shown = json.loads(run("dvc", "exp", "show", "--json").stdout)
    points = sweep_points(shown, ["beta-0.5", "beta-4"])
    assert [p.beta for p in points] == [0.5, 4.0]
    assert points[0].kl_nats != points[1].kl_nats
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["train"]["beta"] == 2.0  # workspace restored
