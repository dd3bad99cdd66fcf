"""What `pip install .` installs: the pipeline library alone, usable outside the repository."""

from __future__ import annotations

import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from betavae.model import BetaVAE, save_checkpoint

REPO = Path(__file__).resolve().parent.parent
OTHER_TOP_LEVELS = ("stages", "studies", "tools", "benchmarks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(REPO)], check=True, capture_output=True, text=True)
    return next(out.glob("betavae-*.whl"))


def test_the_wheel_holds_the_library_and_no_other_top_level_package(wheel):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist() if not name.startswith("betavae-")}
    assert tops == {"betavae"}


def test_a_fresh_venv_outside_the_repository_loads_a_model_with_the_installed_library(wheel, tmp_path,
                                                                                     tiny_model_config):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, text=True)
    # torch and the rest from this environment's site-packages, appended after the fresh venv's own, so
    # `betavae` comes from the wheel (this environment's editable install is not read: a .pth in a directory
    # named by another .pth is never processed)
    fresh_site = next((venv / "lib").glob("python3*/site-packages"))
    (fresh_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    model = BetaVAE(tiny_model_config)
    save_checkpoint(model, tmp_path / "model.pt")
    script = ("import importlib.util, torch, betavae\n"
              "model = betavae.load_model('model.pt')\n"
              "print(betavae.__file__)\n"
              "print(tuple(model.decode(torch.zeros(2, model.config.latent_dim)).shape))\n"
              f"print([name for name in {OTHER_TOP_LEVELS!r} if importlib.util.find_spec(name)])\n")
    shown = subprocess.run([str(python), "-c", script], cwd=tmp_path, check=True, capture_output=True,
                           text=True).stdout.splitlines()
    assert Path(shown[0]).is_relative_to(fresh_site)
    assert shown[1] == "(2, 1, 28, 28)"
    assert shown[2] == "[]"
