"""The README and docs/ pages: their generated tables match the committed results, their links resolve."""

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_generated_tables_match_the_committed_results():
    result = subprocess.run([sys.executable, "scripts/docs.py", "--check"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_the_readme_is_read_in_five_minutes():
    assert len((REPO / "README.md").read_bytes()) <= 10 * 1024


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_local_links_and_images_resolve(page):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
        if not target.startswith("http"):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
