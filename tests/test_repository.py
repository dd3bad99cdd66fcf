"""The repository's shape: tests mirror the package, and the slow marker follows its rule."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

MODULES = sorted(path.stem for path in (REPO / "betavae").glob("*.py") if path.stem != "__init__")


@pytest.mark.parametrize("module", MODULES)
def test_every_package_module_has_its_test_file(module):
    assert (REPO / "tests" / f"test_{module}.py").is_file()


def test_the_slow_rule_recognises_dvc_and_stage_commands():
    from tests.conftest import runs_the_pipeline
    assert runs_the_pipeline(["dvc", "repro"]) and runs_the_pipeline(["/venv/bin/dvc", "exp", "run"])
    assert runs_the_pipeline([sys.executable, "-m", "dvc", "status"])
    assert runs_the_pipeline([sys.executable, "-m", "stages.train", "data", "model.pt"])
    assert runs_the_pipeline("dvc repro evaluate")
    assert not runs_the_pipeline(["git", "status"]) and not runs_the_pipeline([sys.executable, "scripts/docs.py"])
    assert not runs_the_pipeline([sys.executable, "-c", "import stages.train"])


def test_an_unmarked_test_that_runs_dvc_fails_saying_why():
    with pytest.raises(AssertionError, match="mark it slow"):
        subprocess.run(["dvc", "--version"], capture_output=True)


def pins(path):
    """{name: version} of a requirements file, names as pip compares them (lower case, extras dropped)."""
    lines = [line.split("#")[0].strip() for line in (REPO / path).read_text().splitlines()]
    pinned = [line.split("==") for line in lines if line and not line.startswith("-r")]
    return {name.split("[")[0].lower(): version for name, *version in pinned for version in (version or [None])}


def test_the_pipeline_and_the_tests_have_their_own_requirements_both_pinned_by_the_constraints():
    runtime, dev, constraints = pins("requirements.txt"), pins("requirements-dev.txt"), pins("constraints.txt")
    assert None not in {**runtime, **dev}.values()  # every requirement pinned exactly
    assert all(constraints.get(name) == version for name, version in {**runtime, **dev}.items())
    assert not runtime.keys() & {"pytest", "pytest-xdist", "moto", "flask"} and dev.keys() > {"pytest", "moto"}
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text().splitlines()
