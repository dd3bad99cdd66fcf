"""dvc.yaml declares exactly the package modules each stage imports, and the params it reads."""

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def imported_modules(path: Path) -> set[str]:
    """betavae/*.py files that a file imports, directly or through other package modules."""
    found, todo = set(), [path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("betavae"):
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("betavae")]
            for name in names:
                module = REPO / (name.replace(".", "/") + ".py")
                if module.is_file() and module.relative_to(REPO).as_posix() not in found:
                    found.add(module.relative_to(REPO).as_posix())
                    todo.append(module)
    return found


@pytest.mark.parametrize("name", list(STAGES))
def test_package_dependencies_match_the_imports(name):
    stage = STAGES[name]
    script = re.search(r"python -m stages\.(\w+)", stage["cmd"]).group(1)
    assert f"stages/{script}.py" in stage["deps"]
    declared = {dep for dep in stage["deps"] if dep.startswith("betavae/")}
    assert declared == imported_modules(REPO / "stages" / f"{script}.py")


@pytest.mark.parametrize("name", list(STAGES))
def test_params_sections_match_what_the_stage_reads(name):
    stage = STAGES[name]
    script = (REPO / "stages" / (re.search(r"python -m stages\.(\w+)", stage["cmd"]).group(1) + ".py")).read_text()
    read = set(re.findall(r"params\.(\w+)", script))
    assert read == set(stage.get("params", []))
