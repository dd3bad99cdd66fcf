"""Reading DVC experiments back out of `dvc exp show --json`."""

import subprocess

import pytest

from studies.analysis.experiments import clear_corrupted_rwlock, experiment_results, pipeline_results, restore_workspace
from tests.conftest import tool_environment
from tests.helpers import exp_show_state as state


def test_experiment_results_hold_each_experiments_params_and_eval_metrics():
    shown = [state("abc123", 5, 1.0, experiments=[{"revs": [state("likelihood-a", 1, 3.0)]}])]
    results = experiment_results(shown, ["likelihood-a"])
    assert results["likelihood-a"]["params"]["train"]["beta"] == 1
    assert results["likelihood-a"]["metrics"]["kl_nats"] == 3.0


@pytest.mark.slow  # dvc checkout
def test_restoring_the_workspace_puts_back_the_pipelines_results_and_keeps_the_studies_records(
        copy_of_committed_tiny_repo):
    root = copy_of_committed_tiny_repo
    env = tool_environment()
    record = root / "metrics" / "groups" / "committed.json"
    record.parent.mkdir()
    record.write_text('{"cells": {}}\n')
    for command in (("git", "add", "-A"), ("git", "commit", "-qm", "a group's record")):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    committed = {path: (root / path).read_bytes() for path in ("params.yaml", "metrics/eval.json", "dvc.lock")}
    for path in committed:
        (root / path).write_text("rewritten by an experiment\n")
    subprocess.run(["git", "add", "metrics/eval.json"], cwd=root, env=env, check=True)  # as an interrupted run
    record.write_text('{"cells": {"0": {}}}\n')
    restore_workspace(root)
    assert {path: (root / path).read_bytes() for path in committed} == committed
    assert record.read_text() == '{"cells": {"0": {}}}\n'
    assert "metrics/eval.json" in pipeline_results(root) and "metrics/groups/committed.json" not in pipeline_results(root)


def test_only_an_unreadable_dvc_lock_file_is_removed(tmp_path):
    lock = tmp_path / ".dvc" / "tmp" / "rwlock"
    assert not clear_corrupted_rwlock(tmp_path)
    lock.parent.mkdir(parents=True)
    lock.write_text('{"read": {}, "write": {"models/model.pt": {"pid": 1, "cmd": "dvc exp run"}}}')
    assert not clear_corrupted_rwlock(tmp_path) and lock.is_file()
    for left in ("", '{"read": {'):  # killed before or while writing
        lock.write_text(left)
        assert clear_corrupted_rwlock(tmp_path) and not lock.exists()
