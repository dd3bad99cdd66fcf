"""dvc.yaml declares exactly the code each stage runs (its script and the package modules it imports, as
resume.code_files finds them for the resume fingerprint too), and the params it reads."""

import re

import pytest
import yaml

from betavae.resume import code_files
from tests.conftest import REPO

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", list(STAGES))
def test_package_dependencies_match_the_imports(name):
    stage = STAGES[name]
    script = re.search(r"python -m stages\.(\w+)", stage["cmd"]).group(1)
    assert f"stages/{script}.py" in stage["deps"]
    declared = {dep for dep in stage["deps"] if dep.endswith(".py")}
    assert declared == {path.relative_to(REPO).as_posix() for path in code_files(REPO / "stages" / f"{script}.py")}


@pytest.mark.parametrize("name", list(STAGES))
def test_params_sections_match_what_the_stage_reads(name):
    stage = STAGES[name]
    script = (REPO / "stages" / (re.search(r"python -m stages\.(\w+)", stage["cmd"]).group(1) + ".py")).read_text()
    read = set(re.findall(r"params\.(\w+)", script))
    assert read == set(stage.get("params", []))
