"""The GitHub Actions workflows: valid for actionlint, running the Makefile's and the README's commands (so
the three cannot drift apart), and a sweep matrix that covers the grid once. tests/test_sweep.py runs the
sweep workflow's own slice and collector commands on tiny data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from studies.analysis.sweep import grid, slice_of
from tests.conftest import REPO
from tests import helpers
from tests.helpers import WORKFLOWS, step, workflow


def run_lines(job: dict) -> list[str]:
    """Every command line of a job's `run:` steps, comments and blank lines left out."""
    lines = []
    for entry in job["steps"]:
        for line in entry.get("run", "").splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))


def readme_test_command() -> str:
    quick_start = re.search(r"## Quick start\n+```bash\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    return next(line.split("#")[0].strip() for line in quick_start.group(1).splitlines() if "test" in line)


def make_commands(lines: list[str]) -> list[str]:
    return [match.group(0) for line in lines for match in [re.match(r"make [\w-]+", line)] if match]


def test_actionlint_passes_on_every_workflow():
    assert sorted(path.name for path in WORKFLOWS.glob("*.yml")) == ["check.yml", "sweep.yml"]
    result = subprocess.run([str(Path(sys.executable).parent / "actionlint"), "-no-color"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    (broken / "bad.yml").write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                                    "      - run: echo ${{ matrix.missing }}\n")
    result = subprocess.run([str(Path(sys.executable).parent / "actionlint"), "-no-color", str(broken / "bad.yml")],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "matrix" in result.stdout


def test_the_check_workflow_runs_what_ci_and_the_readme_run():
    """The check job's make commands are .ci/run's, in order; the README's test command is among them, and
    every target exists in the Makefile."""
    job = workflow("check.yml")["jobs"]["check"]
    commands = make_commands(run_lines(job))
    ci_commands = make_commands((REPO / ".ci" / "run").read_text().splitlines())
    assert commands == ci_commands == ["make test", "make check-repro"]
    assert readme_test_command() in commands
    assert {command.split()[1] for command in commands} <= make_targets()
    assert set(workflow("check.yml")["on"]) == {"push", "pull_request"}


def test_the_gitlab_job_runs_the_same_commands():
    job = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())["check"]
    github = make_commands(run_lines(workflow("check.yml")["jobs"]["check"]))
    assert make_commands(job["script"]) == github
    assert job["artifacts"]["paths"] == ["plots/*.png"]


def test_the_check_workflow_reports_to_the_job_summary_and_keeps_the_figures():
    job = workflow("check.yml")["jobs"]["check"]
    report = step(job, "Report the check and this runner's platform")
    assert report["if"] == "always()" and "$GITHUB_STEP_SUMMARY" in report["run"]
    assert "check-repro.log" in report["run"] and "metrics/platform.json" in report["run"]
    diff = step(job, "Metrics diff against the base branch")
    assert diff["if"] == "github.event_name == 'pull_request'"
    assert "dvc metrics diff --md" in diff["run"] and "$GITHUB_STEP_SUMMARY" in diff["run"]
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "plots/*.png"
    cache = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/cache"))
    download_deps = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["download"]["deps"]
    hashed = re.search(r"hashFiles\((.*)\)", cache["with"]["key"]).group(1)
    assert sorted(re.findall(r"'([^']+)'", hashed)) == sorted(download_deps)  # keyed on exactly the stage's deps


def test_the_sweep_workflow_runs_the_makefile_sweep_script_with_options_it_has():
    script = re.search(r"^sweep:.*\n(?:\t.*\n)*?\tpython -m (studies\.\S+)", (REPO / "Makefile").read_text(),
                       re.MULTILINE).group(1)
    jobs = workflow("sweep.yml")["jobs"]
    commands = [line for name in ("slice", "collect") for line in run_lines(jobs[name]) if "-m studies." in line]
    assert commands and all(f"python -m {script} " in command for command in commands)
    shown = subprocess.run([sys.executable, "-m", script, "--help"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout
    for command in commands:
        for option in re.findall(r"(--[\w-]+)", command):
            assert re.search(rf"^\s+{option}\b", shown, re.MULTILINE), f"{script} has no {option}"


def plan_slices(count: str) -> list[int]:
    """The slice indices the plan job computes for the `slices` input."""
    plan = next(s for s in workflow("sweep.yml")["jobs"]["plan"]["steps"] if s.get("id") == "plan")["run"]
    printed = subprocess.run(["bash", "-c", plan.replace('>> "$GITHUB_OUTPUT"', "")], env={"SLICES": count,
                             "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(printed.strip().removeprefix("slices="))


def test_the_default_sweep_matrix_covers_every_cell_exactly_once():
    inputs = workflow("sweep.yml")["on"]["workflow_dispatch"]["inputs"]
    betas = [float(b) for b in inputs["betas"]["default"].split()]
    seeds = [int(s) for s in inputs["seeds"]["default"].split()]
    slices = plan_slices(inputs["slices"]["default"])
    assert slices == list(range(1, int(inputs["slices"]["default"]) + 1))
    cells = grid(betas, seeds)
    shares = [slice_of(cells, index, len(slices)) for index in slices]
    assert sorted(cell for share in shares for cell in share) == sorted(cells)
    assert all(shares)  # no matrix job without work


def test_the_collector_waits_for_every_slice():
    jobs = workflow("sweep.yml")["jobs"]
    assert jobs["slice"]["needs"] == "plan"
    assert jobs["slice"]["strategy"]["matrix"]["slice"] == "${{ fromJSON(needs.plan.outputs.slices) }}"
    assert jobs["collect"]["needs"] in ("slice", ["slice"])  # needs on a matrix job waits for all its jobs
    assert jobs["slice"]["strategy"]["fail-fast"] is False


def test_the_drift_test_notices_a_workflow_command_the_makefile_lacks(tmp_path, monkeypatch):
    """Changing one command on purpose: the check above fails."""
    copy = tmp_path / "repo"
    for name in (".github", ".ci", "Makefile", "README.md", ".gitlab-ci.yml"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name)
    check = copy / ".github" / "workflows" / "check.yml"
    check.write_text(check.read_text().replace("run: make check-repro", "run: make check-reproduction"))
    monkeypatch.setattr(sys.modules[__name__], "REPO", copy)
    monkeypatch.setattr(sys.modules[__name__], "WORKFLOWS", copy / ".github" / "workflows")
    monkeypatch.setattr(helpers, "WORKFLOWS", copy / ".github" / "workflows")
    with pytest.raises(AssertionError, match="make check-reproduction"):
        test_the_check_workflow_runs_what_ci_and_the_readme_run()


def test_the_benchmark_times_make_test_itself_and_reads_the_suites_own_time():
    from benchmarks.train_speed import SUITE_COMMAND, pytest_seconds
    assert SUITE_COMMAND == ("make", "test")
    assert re.search(r"^test: setup-dev\n\tpytest ", (REPO / "Makefile").read_text(), re.MULTILINE)
    output = "....\n==== slowest 10 durations ====\n12.5s call tests/x.py::t\n==== 379 passed in 326.03s (0:05:26) ====\n"
    assert pytest_seconds(output) == 326.03
    assert pytest_seconds("== 2 failed, 5 passed, 1 skipped in 9.10s ==") == 9.10
    with pytest.raises(ValueError, match="no pytest summary"):
        pytest_seconds("make: *** [Makefile:31: test] Error 1")


def all_steps(name: str) -> list[tuple[str, dict]]:
    return [(job_name, step_) for job_name, job in workflow(name)["jobs"].items() for step_ in job["steps"]]


@pytest.mark.parametrize("name", ["check.yml", "sweep.yml"])
def test_every_action_is_pinned_by_commit_with_its_tag_beside(name):
    text = (WORKFLOWS / name).read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.match(r"\s+# v\d+\.\d+\.\d+", comment), f"{action} has no tag beside it"


def test_the_sweep_secrets_reach_only_the_steps_that_push_or_pull():
    sweep = workflow("sweep.yml")
    assert "secrets." not in yaml.safe_dump(sweep.get("env", {}))
    assert all("secrets." not in yaml.safe_dump(job.get("env", {})) for job in sweep["jobs"].values())
    with_secrets = [(job, step_.get("name")) for job, step_ in all_steps("sweep.yml")
                    if "secrets." in yaml.safe_dump(step_.get("env", {}))]
    assert with_secrets == [("slice", "Run this slice and push it"), ("collect", "Pull every slice and summarise")]
    assert all("--push" in step(sweep["jobs"][job], name)["run"] or "--pull" in step(sweep["jobs"][job], name)["run"]
               for job, name in with_secrets)


def test_only_the_slice_job_may_write_and_nothing_else_keeps_git_credentials():
    sweep = workflow("sweep.yml")
    assert sweep["permissions"] == {"contents": "read"}
    assert {job: spec.get("permissions") for job, spec in sweep["jobs"].items()} == {
        "plan": None, "slice": {"contents": "write"}, "collect": None}
    checkouts = {job: step_.get("with", {}) for job, step_ in all_steps("sweep.yml")
                 if step_.get("uses", "").startswith("actions/checkout@")}
    assert checkouts["collect"]["persist-credentials"] is False and "persist-credentials" not in checkouts["slice"]
    check_checkout = next(s for s in workflow("check.yml")["jobs"]["check"]["steps"]
                          if s.get("uses", "").startswith("actions/checkout@"))
    assert check_checkout["with"]["persist-credentials"] is False


@pytest.mark.parametrize("betas, seeds, slices, accepted", [
    ("0.5 1 2 5 10", "0 1 2", "5", True), ("1", "0", "1", True),
    ("1; rm -rf ~", "0", "1", False), ("$(id)", "0", "1", False), ("1", "0 1", "0", False),
    ("1", "", "1", False), ("1", "0", "2 3", False), ("1", "`id`", "1", False)])
def test_the_sweep_inputs_are_numbers_and_spaces_checked_before_use(betas, seeds, slices, accepted):
    check = step(workflow("sweep.yml")["jobs"]["plan"], "Check the inputs")["run"]
    result = subprocess.run(["bash", "-c", check], env={"BETAS": betas, "SEEDS": seeds, "SLICES": slices,
                                                        "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert (result.returncode == 0) is accepted, result.stdout
    if not accepted:
        assert "::error::" in result.stdout


def python_line(lines: list[str]) -> str:
    [line] = [line.strip() for line in lines if line.strip().startswith("python -m studies.beta_sweep")]
    return line


@pytest.mark.parametrize("job, script", [("slice", "slice.sh"), ("collect", "collect.sh")])
def test_the_slurm_batch_scripts_run_the_github_jobs_own_sweep_commands(job, script):
    """The same command, the same variables: the SLURM task sets SLICE from its array index."""
    batch = (REPO / "studies" / "slurm" / script).read_text().splitlines()
    assert python_line(batch) == python_line(run_lines(workflow("sweep.yml")["jobs"][job]))
    if job == "slice":
        assert 'SLICE="$SLURM_ARRAY_TASK_ID"' in batch
    assert batch[0] == "#!/bin/bash" and "set -euo pipefail" in batch


def test_the_slurm_submitter_sends_the_array_then_the_collector_after_it():
    source = (REPO / "studies" / "slurm_sweep.py").read_text()
    assert '"--array={tasks}"' in source.replace("f\"", "\"") and "--dependency=afterok:{array}" in source
    assert "--kill-on-invalid-dep=yes" in source
    assert re.search(r"^sweep-slurm:.*\n\tpython -m studies\.slurm_sweep ", (REPO / "Makefile").read_text(),
                     re.MULTILINE)


def test_make_exps_keeps_the_experiment_its_params_and_the_headline_metrics_and_drops_the_hashes():
    drop = re.search(r"^exps:.*\n(?:\t.*\n)*?\t\t--drop '([^']+)'", (REPO / "Makefile").read_text(), re.MULTILINE).group(1)
    columns = ["Experiment", "rev", "Created", "State", "md5.t10k-images-idx3-ubyte", "source", "cpu_family",
               "classifier_test_accuracy", "active_units", "bce_objective", "kl_largest_units.1", "kl_nats",
               "linear_probe_accuracy", "test_mse", "train.beta", "train.seed", "model.latent_dim", "data.binarize",
               "compute.threads", "data/fashion_mnist", "stages/train.py", "betavae/training.py"]
    kept = [column for column in columns if not re.match(drop.replace("$$", "$"), column)]
    assert kept == ["Experiment", "active_units", "kl_nats", "linear_probe_accuracy", "test_mse", "train.beta",
                    "train.seed", "model.latent_dim", "data.binarize", "compute.threads"]
