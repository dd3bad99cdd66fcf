"""`make check-repro` on a tiny pipeline: exact on the same platform, statistical on another, and a real
regression fails. The other platform is stood in for by ATEN_CPU_CAPABILITY=default, which makes torch
use other kernels (other rounding) without changing the model."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import copy_repo, tool_environment

pytestmark = pytest.mark.slow

SEEDS = ("0", "1", "2", "3", "4")  # seed 0 is the committed run: the check's spread has the other four


@pytest.fixture(scope="module")
def repo(committed_tiny_repo, tmp_path_factory):
    """The committed tiny repo (conftest: no seed collapses at its params) with a 5-seed spread."""
    root = copy_repo(committed_tiny_repo, tmp_path_factory.mktemp("check") / "repo")
    # DVC experiments on the commit; metrics/seed_spread.json stays untracked, so HEAD keeps them
    run(root, sys.executable, "-m", "studies.seed_spread", "--seeds", *SEEDS)
    return root


def run(root, *command, check=True, **env):
    return subprocess.run(command, cwd=root, env=tool_environment(**env), check=check, capture_output=True, text=True)


def check(root, *args, **env):
    result = run(root, sys.executable, "-m", "studies.check_repro", *args, check=False, **env)
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
    assert "Seed spread: 4 healthy seeds of metrics/seed_spread.json (seed 0, the committed run itself, left out)" \
        in result.stdout
    assert "| kl_largest_units.1 |" in result.stdout and "FAIL" not in result.stdout
    assert "Reproduced within the seed spread" in result.stdout
    assert "Reproduced to the bit" not in result.stdout  # other kernels: other bits


def test_results_that_come_back_to_the_bit_on_another_platform_class_say_so(repo):
    """As on AMD EPYC Zen 4 against results made on Zen 5: another CPU family, the same bits."""
    path = repo / "metrics" / "platform.json"
    record = json.loads(path.read_text())
    record["cpu_family"] = "family 99, model 1"
    path.write_text(json.dumps(record, indent=2))
    result = check(repo, "--no-rerun")  # puts the committed platform record back
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Mode: statistical, because this machine is of another platform class")
    assert "Reproduced to the bit on another platform class" in result.stdout
    assert "differ from the committed ones in their bits" not in result.stdout


def test_a_real_regression_fails_and_says_what_changed(repo):
    """beta 0 retrained. Four seeds make wide tolerances (Student t with 3 degrees of freedom, Bonferroni over
    13 metrics: 14 sd of a seed, 20 of a difference), about what beta 0 moves in the tiny model, so the metric
    verdicts are left to the next test; a change of params fails whatever the metrics say. The power on the
    real pipeline, ten seeds, is measured by studies/check_proof.py."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(beta=0.0)  # the KL is free
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = check(repo, "--mode", "statistical")
    assert result.returncode == 1
    assert "params.yaml differs from the committed file" in result.stderr
    kl = next(line for line in result.stdout.splitlines() if line.startswith("| kl_nats |"))
    committed, new = (float(value) for value in kl.split(" | ")[1:3])
    assert new > 2 * committed, kl  # the KL moved: nothing holds it down any more


def test_metrics_beyond_their_tolerance_fail_by_name_and_the_others_pass(repo):
    """The re-run's metrics moved by hand: test MSE and KL by twice their tolerance (from the committed seed
    spread, seed 0 left out, as the check computes it), the rest as committed."""
    from studies.analysis.reproducibility import comparable, seed_spread
    path = repo / "metrics" / "eval.json"
    metrics = json.loads(path.read_text())
    spread_file = json.loads((repo / "metrics" / "seed_spread.json").read_text())
    spread = seed_spread(spread_file["seeds"], leave_out=("0",))
    files = {"eval": metrics, "classifier": json.loads((repo / "metrics" / "classifier.json").read_text())}
    tested = sum(metric in spread.sd for metric in comparable(files))
    for metric in ("test_mse", "kl_nats"):
        metrics[metric] += 2 * spread.tolerance(metric, tested)
    path.write_text(json.dumps(metrics))
    result = check(repo, "--no-rerun", "--mode", "statistical")  # puts the committed eval.json back
    assert result.returncode == 1
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "metric" not in line]
    failed = {row.split(" | ")[0][2:] for row in rows if row.endswith("| FAIL |")}
    assert failed == {"kl_nats", "test_mse"}, result.stdout
    assert "metric kl_nats" in result.stderr and "metric test_mse" in result.stderr


def test_the_platform_record_is_committed_beside_the_results(repo):
    record = json.loads((repo / "metrics" / "platform.json").read_text())
    assert record["device"] == "cpu" and record["precision"] == "fp32" and record["threads"] == 1
    spread = json.loads((repo / "metrics" / "seed_spread.json").read_text())
    assert set(spread["seeds"]) == set(SEEDS)
    assert {run_["experiment"] for run_ in spread["runs"].values()} == {f"seed-{seed}" for seed in SEEDS}
    assert spread["seeds"]["1"]["metrics/eval.json"] != spread["seeds"]["2"]["metrics/eval.json"]
    assert all(run_["platform"]["threads"] == 1 for run_ in spread["runs"].values())


def test_a_seed_spread_run_again_keeps_the_recorded_experiments(repo):
    result = run(repo, sys.executable, "-m", "studies.seed_spread", "--seeds", *SEEDS, "--output",
                 str(repo / "again.json"))
    assert "5 of the 5 experiments ran before on this commit and are kept" in result.stdout
    assert "Running stage" not in result.stdout + result.stderr
    again = json.loads((repo / "again.json").read_text())
    assert again["seeds"] == json.loads((repo / "metrics" / "seed_spread.json").read_text())["seeds"]
    (repo / "again.json").unlink()


def test_a_spread_measured_on_other_train_code_is_refused(repo):
    path = repo / "metrics" / "seed_spread.json"
    original = path.read_text()
    spread = json.loads(original)
    spread["inputs"]["train"]["deps"]["betavae/training.py"] = "0" * 32
    path.write_text(json.dumps(spread))
    try:
        result = check(repo, "--no-rerun", "--mode", "statistical")
    finally:
        path.write_text(original)
    assert result.returncode == 1
    assert ("metrics/seed_spread.json was measured on other inputs of train and evaluate than the committed "
            "results (train deps: betavae/training.py)") in result.stderr


def test_a_collapsed_rerun_fails_as_a_collapse(repo):
    path = repo / "metrics" / "eval.json"
    metrics = json.loads(path.read_text())
    metrics.update(active_units=0, posterior_collapse=True, kl_nats=0.0)
    path.write_text(json.dumps(metrics))
    result = check(repo, "--no-rerun", "--mode", "statistical")  # puts the committed eval.json back
    assert result.returncode == 1
    assert "NOT REPRODUCED (statistical):\n- training collapsed: 0 active latent units" in result.stderr
    assert "metric kl_nats" not in result.stderr


def test_the_seed_aware_diff_judges_two_runs_with_the_checks_rule(repo):
    same = run(repo, sys.executable, "-m", "studies.diff", "HEAD", "seed-1")  # HEAD is seed 0's run
    assert "seed noise from metrics/seed_spread.json (3 healthy seeds" in same.stdout  # 0 and 1 left out
    assert "No difference beyond the seed noise" in same.stdout
    lines = {line.split()[0]: line.split() for line in same.stdout.splitlines() if line.startswith("kl_")}
    assert set(lines) == {"kl_largest_units.1", "kl_largest_units.2", "kl_nats"}  # no unit by its index
    assert lines["kl_nats"][-1] == "no"
    markdown = run(repo, sys.executable, "-m", "studies.diff", "seed-2", "workspace", "--md")
    assert "| metric | A | B | B - A | in seed sd | tolerance | beyond seed noise |" in markdown.stdout
    missing = run(repo, sys.executable, "-m", "studies.diff", "HEAD", "no-such-run", check=False)
    assert missing.returncode == 1
    assert "error: 'no-such-run' is neither a git revision nor an experiment of this repository" in missing.stderr
