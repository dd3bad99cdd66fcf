"""The repository's shape: tests mirror the package."""

import pytest

from tests.conftest import REPO

MODULES = sorted(path.stem for path in (REPO / "betavae").glob("*.py") if path.stem != "__init__")


@pytest.mark.parametrize("module", MODULES)
def test_every_package_module_has_its_test_file(module):
    assert (REPO / "tests" / f"test_{module}.py").is_file()
