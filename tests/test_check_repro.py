"""`make check-repro` on a tiny pipeline: exact on the same platform, statistical on another, and a real
regression fails. The other platform is stood in for by ATEN_CPU_CAPABILITY=default, which makes torch
use other kernels (other rounding) without changing the model."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import TINY_PARAMS, tiny_dvc_workspace, tool_environment

pytestmark = pytest.mark.slow

PARAMS = dict(TINY_PARAMS, train=dict(TINY_PARAMS["train"], epochs=2, batch_size=16))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A git + DVC repo of the tiny pipeline with committed results and a 3-seed spread."""
    root = tmp_path_factory.mktemp("repo")
    tiny_dvc_workspace(root, PARAMS, train=400, test=100)
    run(root, "git", "init", "-q")
    run(root, "dvc", "init", "-q")
    run(root, "dvc", "repro", "-q")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "tiny pipeline and its results")
    # DVC experiments on that commit; metrics/seed_spread.json stays untracked, so HEAD keeps them
    run(root, sys.executable, "scripts/seed_spread.py", "--seeds", "0", "1", "2")
    return root


def run(root, *command, check=True, **env):
    return subprocess.run(command, cwd=root, env=tool_environment(**env), check=check, capture_output=True, text=True)


def check(root, *args, **env):
    result = run(root, sys.executable, "scripts/check_repro.py", *args, check=False, **env)
    run(root, "git", "checkout", "--", ".")
    return result


def test_the_same_platform_is_checked_exactly_and_passes(repo):
    result = check(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Mode: exact, because this machine is of the committed results' platform")
    assert "Reproduced exactly" in result.stdout


def test_another_platform_is_checked_within_the_seed_spread_and_passes(repo):
    result = check(repo, ATEN_CPU_CAPABILITY="default")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Mode: statistical, because this machine is of another platform class")
    assert "-> 'DEFAULT'" in result.stdout.splitlines()[0]
    assert "| kl_per_dimension.sorted.00 |" in result.stdout and "FAIL" not in result.stdout
    assert "Reproduced within the seed spread" in result.stdout


def test_a_real_regression_fails_with_the_metrics_that_moved(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(beta=0.0, lr=1.0e-2)  # the KL is free, and the steps ten times longer
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = check(repo, "--mode", "statistical")
    assert result.returncode == 1
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "metric" not in line]
    failed = {row.split(" | ")[0][2:] for row in rows if row.endswith("| FAIL |")}
    assert {"kl_nats", "test_mse"} <= failed, result.stdout
    assert "params.yaml differs from the committed file" in result.stderr


def test_the_platform_record_is_committed_beside_the_results(repo):
    record = json.loads((repo / "metrics" / "platform.json").read_text())
    assert record["device"] == "cpu" and record["precision"] == "fp32" and record["threads"] == 1
    spread = json.loads((repo / "metrics" / "seed_spread.json").read_text())
    assert set(spread["seeds"]) == {"0", "1", "2"}
    assert {run_["experiment"] for run_ in spread["runs"].values()} == {"seed-0", "seed-1", "seed-2"}
    assert spread["seeds"]["1"]["metrics/eval.json"] != spread["seeds"]["2"]["metrics/eval.json"]
    assert all(run_["platform"]["threads"] == 1 for run_ in spread["runs"].values())


def test_a_seed_spread_run_again_keeps_the_recorded_experiments(repo):
    result = run(repo, sys.executable, "scripts/seed_spread.py", "--seeds", "0", "1", "2", "--output",
                 str(repo / "again.json"))
    assert "3 of the 3 experiments ran before on this commit and are kept" in result.stdout
    assert "Running stage" not in result.stdout + result.stderr
    again = json.loads((repo / "again.json").read_text())
    assert again["seeds"] == json.loads((repo / "metrics" / "seed_spread.json").read_text())["seeds"]
    (repo / "again.json").unlink()
