"""The README and docs/ pages: their generated tables match the committed results, their links resolve."""

import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_generated_tables_match_the_committed_results():
    result = subprocess.run([sys.executable, "scripts/docs.py", "--check"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_the_check_fails_when_a_stage_changes_in_dvc_yaml_and_its_table_does_not(tmp_path):
    for name in ("scripts", "betavae", "docs", "metrics", "benchmarks"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("README.md", "dvc.yaml", "params.yaml", "dvc.lock"):
        shutil.copy(REPO / name, tmp_path)
    check = [sys.executable, "scripts/docs.py", "--check"]
    assert subprocess.run(check, cwd=tmp_path, capture_output=True).returncode == 0
    pipeline = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    pipeline["stages"]["evaluate"]["deps"].append("betavae/udr.py")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    result = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "out of date: docs/pipeline.md" in result.stderr


def test_the_readme_is_read_in_five_minutes():
    assert len((REPO / "README.md").read_bytes()) <= 10 * 1024


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_local_links_and_images_resolve(page):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
        if not target.startswith("http"):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
