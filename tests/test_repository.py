"""The repository's shape: the pipeline library holds only what the stages import and is all that installs,
the studies and tools apart, every entry point answers --help, tests mirror the modules, the slow
marker follows its rule, and the study commands start without torchvision."""

import importlib
import subprocess
import sys
import tomllib

import pytest

from betavae.resume import code_files
from tests.conftest import REPO

MODULES = sorted(path.stem for path in (REPO / "betavae").glob("*.py") if path.stem != "__init__")
ANALYSIS = sorted(path.stem for path in (REPO / "studies" / "analysis").glob("*.py") if path.stem != "__init__")


def entry_points(folder: str) -> list[str]:
    """The modules of a folder that run as `python -m`: those with a main()."""
    return sorted(path.stem for path in (REPO / folder).glob("*.py") if "\ndef main(" in path.read_text())


STUDIES, TOOLS = entry_points("studies"), entry_points("tools")


@pytest.mark.parametrize("module", MODULES + ANALYSIS)
def test_every_library_module_has_its_test_file(module):
    assert (REPO / "tests" / f"test_{module}.py").is_file()


def test_every_module_of_the_pipeline_library_is_imported_by_a_stage():
    reached = {path.stem for stage in (REPO / "stages").glob("*.py") if stage.stem != "__init__"
               for path in code_files(stage) if path.parent.name == "betavae"}
    assert reached == set(MODULES), f"not imported by any stage: {sorted(set(MODULES) - reached)}"


def test_no_code_outside_the_tests_edits_sys_path():
    files = [path for folder in ("betavae", "stages", "studies", "tools", "benchmarks")
             for path in (REPO / folder).rglob("*.py")]
    assert len(files) > 40
    assert [path for path in files if "sys.path" in path.read_text()] == []


@pytest.mark.parametrize("name", [f"studies.{name}" for name in STUDIES] + [f"tools.{name}" for name in TOOLS]
                         + ["benchmarks.train_speed"])
def test_every_study_and_tool_answers_help(name, monkeypatch, capsys):
    module = importlib.import_module(name)
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out


def test_the_package_installs_the_pipeline_library_alone():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["betavae"]


def test_the_slow_rule_recognises_dvc_and_stage_commands():
    from tests.conftest import runs_the_pipeline
    assert runs_the_pipeline(["dvc", "repro"]) and runs_the_pipeline(["/venv/bin/dvc", "exp", "run"])
    assert runs_the_pipeline([sys.executable, "-m", "dvc", "status"])
    assert runs_the_pipeline([sys.executable, "-m", "stages.train", "data", "model.pt"])
    assert runs_the_pipeline("dvc repro evaluate")
    assert not runs_the_pipeline(["git", "status"]) and not runs_the_pipeline([sys.executable, "-m", "tools.docs"])
    assert not runs_the_pipeline([sys.executable, "-c", "import stages.train"])


def test_an_unmarked_test_that_runs_dvc_fails_saying_why():
    with pytest.raises(AssertionError, match="mark it slow"):
        subprocess.run(["dvc", "--version"], capture_output=True)


def pins(path):
    """{name: version} of a constraints file, names as pip compares them (lower case, extras dropped)."""
    lines = [line.split("#")[0].strip() for line in (REPO / path).read_text().splitlines()]
    pinned = [line.split("==") for line in lines if line]
    return {name.split("[")[0].lower(): version for name, *version in pinned for version in (version or [None])}


def requirement_names(requirements):
    return {requirement.split("[")[0].lower() for requirement in requirements}


def test_the_pipeline_and_the_tests_have_their_own_requirements_both_pinned_by_the_constraints():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = requirement_names(project["dependencies"])
    dev = requirement_names(project["optional-dependencies"]["dev"])
    constraints = pins("constraints.txt")
    assert None not in constraints.values()  # every package of the environment pinned exactly
    assert runtime | dev <= constraints.keys()
    assert constraints["torch"] == "2.14.1" and constraints["torchvision"] == "0.29.1"
    assert not runtime & {"pytest", "pytest-xdist", "moto", "flask"} and dev >= {"pytest", "moto"}


def test_the_study_commands_start_without_torchvision():
    """Its import costs a process about 1.4 s of CPU (torchvision's ops import torch._dynamo): the check, the
    diff, the seed spread and the sweep's collection run many times over in the test suite; the commands that
    read images import it when they do."""
    commands = ("studies.check_repro", "studies.diff", "studies.seed_spread", "studies.seed_group",
                "studies.beta_sweep", "studies.slurm_sweep", "studies.check_proof", "studies.likelihood_options")
    code = f"import sys; {'; '.join(f'import {name}' for name in commands)}; print('torchvision' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]
