"""The β sweep as a SLURM array on a real one-node cluster (conftest's slurm_cluster): the repository's batch
scripts submitted by `python -m studies.slurm_sweep`, the collector after the last task, a failed task
resubmitted alone once fixed, and a task cancelled mid-training resubmitted to resume."""

import json
import re
import subprocess
import sys
import time

import pytest

from studies.seed_group import cell_name
from tests.conftest import TINY_PARAMS
from tests.helpers import origin_with_remote

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

# 3,000 images in batches of 50: an epoch takes about half a second, so a cancel can land between epochs
PARAMS = dict(TINY_PARAMS, train=dict(TINY_PARAMS["train"], epochs=5, kl_warmup_epochs=3, lr_warmup_steps=200,
                                      batch_size=50, val_size=100))
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}


@pytest.fixture(scope="module")
def sweep_repo(tmp_path_factory):
    """A bare origin, a directory DVC remote, and the clone that submits (the tiny pipeline, committed)."""
    root = tmp_path_factory.mktemp("slurm-sweep")
    _, _, submitter = origin_with_remote(root, PARAMS, train=3000)
    return root, submitter


def submit(env, root, submitter, betas, only=()):
    """`python -m studies.slurm_sweep` from the submitting clone: (array job id, collector job id)."""
    command = [sys.executable, "-m", "studies.slurm_sweep", "--betas", *betas, "--seeds", "0", "--slices", "2",
               "--workdir", str(root / "work"), *(["--only", *only] if only else [])]
    shown = subprocess.run(command, cwd=submitter, env=env, capture_output=True, text=True, check=True).stdout
    return re.search(r"slice array (\d+), collector (\d+)", shown).groups()


def jobs(env, job_id):
    """`scontrol show job` of a job (every task of an array): {task or "job": its fields, "line": the text}."""
    shown = subprocess.run(["scontrol", "show", "job", job_id], env=env, capture_output=True, text=True).stdout
    found = {}
    for record in shown.strip().split("\n\n"):
        fields = dict(re.findall(r"(\w+)=(\S*)", record))
        shown = ("JobId", "ArrayJobId", "ArrayTaskId", "JobName", "JobState", "Reason", "Dependency", "StartTime",
                 "EndTime", "ExitCode")
        found[fields.get("ArrayTaskId", "job")] = dict(fields, line=" ".join(f"{key}={fields[key]}" for key in shown
                                                                             if key in fields))
    return found


def wait_until_finished(env, *job_ids, timeout=240):
    deadline = time.monotonic() + timeout
    while True:
        states = {job_id: jobs(env, job_id) for job_id in job_ids}
        if all(task["JobState"] in FINISHED for tasks in states.values() for task in tasks.values()):
            return states
        assert time.monotonic() < deadline, f"jobs still running: {states}"
        time.sleep(1)


def log_of(root, array, task):
    return (root / "work" / "logs" / f"slice-{array}_{task}.out").read_text()


def test_a_failed_task_resubmitted_and_a_cancelled_one_resumed_complete_the_sweep(slurm_cluster, sweep_repo):
    env, (root, submitter) = slurm_cluster, sweep_repo
    shown = []  # the scontrol lines, for the record (pytest -s prints them)

    # 1. An invalid β (above train.beta's bound) in task 2's slice, the larger βs' (the grid is sorted): task 1
    # completes, task 2 fails saying why, the collector never starts
    array, collector = submit(env, root, submitter, ["0.5", "5000000"])
    states = wait_until_finished(env, array, collector)
    tasks, collect = states[array], states[collector]["job"]
    shown += [task["line"] for task in tasks.values()] + [collect["line"]]
    assert tasks["1"]["JobState"] == "COMPLETED" and tasks["2"]["JobState"] == "FAILED"
    why = [line for line in log_of(root, array, 2).splitlines() if line.startswith("error: train.beta")]
    assert why == ["error: train.beta must be <= 1000000.0, got 5000000.0. No cell ran, and params.yaml is as it was"]
    assert collect["JobState"] == "CANCELLED" and collect["Reason"] == "DependencyNeverSatisfied"
    assert collect["StartTime"] in ("Unknown", "None") or collect["RunTime"] == "00:00:00"

    # 2. Fixed (β = 4) and resubmitted alone, then cancelled once training has finished an epoch
    array, collector = submit(env, root, submitter, ["0.5", "4"], only=["2"])
    checkpoint = root / "work" / "slice-2" / ".resume" / "train" / "checkpoint.pt"
    deadline = time.monotonic() + 180
    while not (checkpoint.is_file() and "| 2/5" in log_of(root, array, 2)):
        assert time.monotonic() < deadline, log_of(root, array, 2)[-3000:]
        time.sleep(0.2)
    subprocess.run(["scancel", f"{array}_2"], env=env, check=True)
    states = wait_until_finished(env, array, collector)
    shown += [states[array]["2"]["line"], states[collector]["job"]["line"]]
    assert states[array]["2"]["JobState"] == "CANCELLED"
    assert states[collector]["job"]["JobState"] == "CANCELLED"

    # 3. Resubmitted again: it resumes the interrupted training, and the collector runs after it
    array, collector = submit(env, root, submitter, ["0.5", "4"], only=["2"])
    states = wait_until_finished(env, array, collector)
    task, collect = states[array]["2"], states[collector]["job"]
    shown += [task["line"], collect["line"]]
    print("\n".join(shown))
    assert task["JobState"] == "COMPLETED" and collect["JobState"] == "COMPLETED", log_of(root, array, 2)[-3000:]
    assert collect["StartTime"] >= task["EndTime"]  # ISO times: the collector started after the last task
    assert "resuming from" in log_of(root, array, 2) and "after epoch" in log_of(root, array, 2)

    record = json.loads((root / "work" / "collect" / "metrics" / "beta_sweep.json").read_text())
    cells = {cell_name("beta-0.5", 0), cell_name("beta-4", 0)}
    assert set(record["runs"]) == cells  # each (β, seed) cell once
    assert [run_["beta"] for run_ in record["runs"].values()].count(4.0) == 1
    trained = [log.read_text().count("Running stage 'train'") for log in (root / "work" / "logs").glob("slice-*_1.out")]
    assert trained == [1]  # β 0.5 trained once, in the first array; the resubmissions left task 1 alone
    listed = subprocess.run(["git", "ls-remote", str(root / "origin.git"), "refs/exps/*"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert sorted(line.rsplit("/", 1)[-1] for line in listed.splitlines()) == sorted(cells)  # recorded once each
