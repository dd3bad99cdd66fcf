"""The README and docs/ pages: their generated tables match the committed results, their links resolve."""

import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO, holds_local_rerun, restore_committed_results
from tools.mutation import copy_checkout

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_generated_tables_match_the_committed_results(committed_records):
    result = subprocess.run([sys.executable, "-m", "tools.docs", "--check"], cwd=committed_records,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_check_fails_when_a_stage_changes_in_dvc_yaml_and_its_table_does_not(tmp_path):
    copy_checkout(tmp_path)
    if holds_local_rerun():
        restore_committed_results(tmp_path)
    check = [sys.executable, "-m", "tools.docs", "--check"]
    assert subprocess.run(check, cwd=tmp_path, capture_output=True).returncode == 0
    pipeline = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    pipeline["stages"]["evaluate"]["deps"].append("studies/analysis/udr.py")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    result = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "out of date: docs/pipeline.md" in result.stderr


def test_the_readme_is_read_in_five_minutes():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) <= 10 * 1024
    written = re.sub(r"<!-- generated: [\w-]+ -->\n.*?<!-- end -->", "", text, flags=re.DOTALL)
    assert len(written.encode()) <= 6 * 1024  # the hand-written part; the generated tables aside


def test_the_readme_shows_the_folders_as_they_are():
    tree = re.search(r"## The layout\n+```\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL).group(1)
    shown = set(re.findall(r"^(\w+)/", tree, re.MULTILINE)) | set(re.findall(r"^studies/(\w+)", tree, re.MULTILINE))
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")} | {"analysis"}
    assert packages - {"tests"} <= shown
    assert all((REPO / name).is_dir() or (REPO / "studies" / name).is_dir() for name in shown)


@pytest.mark.parametrize("page", [page for page in PAGES if page.parent.name == "docs"], ids=lambda page: page.name)
def test_each_page_opens_with_the_question_it_answers(page):
    lines = page.read_text().splitlines()
    opening = " ".join(line for line in lines[2:5] if line.strip())  # after the title, at most three lines
    assert lines[0].startswith("# ") and lines[1] == "" and opening.startswith("*") and "?*" in opening


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_local_links_and_images_resolve(page):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
        if not target.startswith("http"):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_docs_stay_short_enough_to_read():
    assert sum(len(page.read_bytes()) for page in (REPO / "docs").glob("*.md")) <= 60 * 1024
