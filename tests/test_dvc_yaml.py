"""dvc.yaml declares exactly the code each stage runs (its script and the package modules it imports, as
resume.code_files finds them for the resume fingerprint too), the params it reads, and its outputs so that
DVC's run cache holds every stage."""

import re
import subprocess

import pytest
import yaml

from betavae.resume import code_files
from tests.conftest import COMMITTED_PARAMS, REPO, tool_environment

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", list(STAGES))
def test_package_dependencies_match_the_imports(name):
    stage = STAGES[name]
    script = re.search(r"python -m stages\.(\w+)", stage["cmd"]).group(1)
    assert f"stages/{script}.py" in stage["deps"]
    declared = {dep for dep in stage["deps"] if dep.endswith(".py")}
    assert declared == {path.relative_to(REPO).as_posix() for path in code_files(REPO / "stages" / f"{script}.py")}


@pytest.mark.parametrize("name", [name for name in STAGES if name != "params"])
def test_params_sections_match_what_the_stage_reads(name):
    stage = STAGES[name]
    script = (REPO / "stages" / (re.search(r"python -m stages\.(\w+)", stage["cmd"]).group(1) + ".py")).read_text()
    read = set(re.findall(r"params\.(\w+)", script))
    assert read == set(stage.get("params", []))


def test_every_uncached_output_is_a_metric_or_a_plot():
    """DVC 3.67 saves a stage to its run cache only if no `cache: false` output sits under plain outs. The
    params check is the one exception: it takes a fraction of a second, and its persisted output must stay
    in place when a value is rejected."""
    for name, stage in STAGES.items():
        for out in stage.get("outs", []):
            if name == "params":
                assert out == {"data/params.ok": {"cache": False, "persist": True}}
                continue
            assert isinstance(out, str) or next(iter(out.values())).get("cache", True), f"{name}: {out}"


def test_the_params_check_reads_the_whole_file_and_runs_before_every_stage_that_reads_params():
    assert STAGES["params"]["params"] == [{"params.yaml": None}]
    for name, stage in STAGES.items():
        if stage.get("params") and name != "params":
            assert "data/params.ok" in stage["deps"], name


@pytest.mark.slow
def test_setting_beta_back_restores_every_stage_from_the_run_cache(copy_of_committed_tiny_repo):
    """The committed results (beta 0.5, from `dvc repro`) are in the run cache; an experiment at beta 3 trains
    anew; setting beta back to 0.5 restores every stage from the cache, to the committed bytes."""
    root = copy_of_committed_tiny_repo
    env = tool_environment()

    def run(*command):
        result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        return result.stdout

    assert COMMITTED_PARAMS["train"]["beta"] == 0.5
    outputs = ["models/model.pt", "plots/training.csv", "metrics/platform.json", "metrics/eval.json",
               "plots/samples.png", "plots/traversals.png"]
    committed = {path: (root / path).read_bytes() for path in outputs}

    assert "Running stage 'train'" in run("dvc", "exp", "run", "-S", "train.beta=3.0")
    assert (root / "models/model.pt").read_bytes() != committed["models/model.pt"]

    back = run("dvc", "exp", "run", "-S", "train.beta=0.5")
    assert "Stage 'train' is cached - skipping run" in back
    assert "Running stage 'train'" not in back and "Running stage 'evaluate'" not in back  # nothing retrained
    assert {path: (root / path).read_bytes() for path in outputs} == committed
    assert run("git", "status", "--porcelain") == ""  # params.yaml and every result as committed


@pytest.mark.slow
def test_a_rejected_value_runs_nothing_keeps_every_output_and_says_how_to_go_back(copy_of_committed_tiny_repo):
    root = copy_of_committed_tiny_repo
    env = tool_environment()
    outputs = [path for name, stage in STAGES.items() if name != "download"  # generated data in the tiny repo
               for kind in ("outs", "metrics", "plots")
               for entry in stage.get(kind, []) for path in ([entry] if isinstance(entry, str) else entry)]
    before = {path: (root / path).read_bytes() for path in outputs}

    result = subprocess.run(["dvc", "exp", "run", "-S", "train.beta=-1"], cwd=root, env=env, capture_output=True,
                            text=True)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert ours == ["error: train.beta must be >= 0.0, got -1.0. No stage ran and every output is as it was; "
                    "`git show HEAD:params.yaml > params.yaml` puts the committed values back"]
    assert {path: (root / path).read_bytes() for path in outputs if (root / path).exists()} == before
    assert all((root / path).exists() for path in outputs)
    status = subprocess.run(["dvc", "status"], cwd=root, env=env, capture_output=True, text=True).stdout
    assert "deleted" not in status  # only the changed param: the stages that read it, nothing missing
    assert [line for line in status.splitlines() if not line.startswith("\t")] == ["params:", "train:"]
    assert status.count("params.yaml:") == 2 and "modified:           train" in status

    subprocess.run("git show HEAD:params.yaml > params.yaml", shell=True, cwd=root, env=env, check=True)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=root, env=env, capture_output=True,
                          text=True).stdout == ""
    assert subprocess.run(["dvc", "status", "-q"], cwd=root, env=env).returncode == 0
