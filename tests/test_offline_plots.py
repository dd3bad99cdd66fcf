"""The offline page of `dvc plots show`: the template's make-up, and a real browser with no network drawing
the training curves from it (headless Chromium, Debian's package)."""

import configparser
import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest

from tools.offline_plots import CONFIG_PATH, page_template, write_template
from tests.conftest import REPO, tool_environment

NO_NETWORK = ("--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND")  # every request fails
LOSS_COLUMNS = 6  # kl, loss, reconstruction and their val_ twins in plots/training.csv


def test_the_page_inlines_the_bundle_and_leaves_dvc_only_the_plots_to_fill():
    page = page_template("window.vegaEmbed = function () {};")
    assert "window.vegaEmbed = function () {};" in page
    assert "{plot_divs}" in page and "{scripts}" not in page  # {scripts} would bring back the CDN tags
    assert "<script src" not in page


def test_a_bundle_holding_a_dvc_placeholder_is_refused():
    with pytest.raises(ValueError, match=r"placeholder \{plot_divs\}"):
        page_template("var text = '{plot_divs}';")


def test_dvc_config_names_the_template_that_make_setup_writes():
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert config["plots"]["html_template"] == CONFIG_PATH
    assert f"/{CONFIG_PATH}" in (REPO / ".dvc" / ".gitignore").read_text().split()  # generated, not committed
    assert "python -m tools.offline_plots" in (REPO / "Makefile").read_text()


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: `apt-get install chromium` (make setup-dev does it where it can)")
    return path


def open_offline(page, *action):
    """Chromium, headless and cut off from every network, opens the page and does the action."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", *NO_NETWORK, "--virtual-time-budget=10000",
               "--window-size=1200,900", *action, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def plots_page(tmp_path, template):
    """`dvc plots show` of the committed plots, with the given page template, as a page path."""
    output = tmp_path / "plots"
    subprocess.run(["dvc", "plots", "show", "--html-template", str(template), "-o", str(output)], cwd=REPO,
                   env=tool_environment(), check=True, capture_output=True, text=True)
    return output / "index.html"


@pytest.mark.slow
@pytest.mark.chromium
def test_the_training_curves_draw_in_a_browser_without_network(tmp_path):
    template = tmp_path / "offline.html"
    write_template(template)
    page = plots_page(tmp_path, template)
    assert "<script src" not in page.read_text()
    dom = open_offline(page, "--dump-dom").stdout
    assert dom.count('class="mark-line role-mark') >= LOSS_COLUMNS, "the loss curves were not drawn"
    open_offline(page, f"--screenshot={tmp_path / 'shot.png'}")
    curves = matplotlib.image.imread(tmp_path / "shot.png")[:380, :600, :3]  # the training-curve plot, top left
    assert np.mean(curves.min(axis=2) < 0.9) > 0.02  # marks, axes and labels: not a blank page


@pytest.mark.slow
@pytest.mark.chromium
def test_dvc_renders_default_page_draws_nothing_without_network(tmp_path):
    """What the offline template is for, and proof that the browser check can fail: dvc-render's own page
    loads Vega from a CDN, so with no network no plot is drawn."""
    template = tmp_path / "cdn.html"
    template.write_text("<!DOCTYPE html><html><head>{scripts}</head><body>{plot_divs}</body></html>")
    page = plots_page(tmp_path, template)
    assert "<script src" in page.read_text()
    assert 'class="mark-line role-mark' not in open_offline(page, "--dump-dom").stdout


def two_revisions_of_the_training_log(root):
    """A git + DVC repo with the project's plot definitions and two commits of plots/training.csv: the
    committed log, then the same with every loss 20% higher."""
    env = tool_environment()
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, env=env, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=root, env=env, check=True)
    for name in ("config", "plots/losses.json"):
        (root / ".dvc" / name).parent.mkdir(exist_ok=True)
        shutil.copy(REPO / ".dvc" / name, root / ".dvc" / name)
    write_template(root / ".dvc" / CONFIG_PATH)
    shutil.copy(REPO / "dvc.yaml", root)
    (root / "plots").mkdir()
    log = (REPO / "plots" / "training.csv").read_text()
    (root / "plots" / "training.csv").write_text(log)
    for message in ("first", "second"):
        subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
        subprocess.run(["git", "commit", "-qm", message], cwd=root, env=env, check=True)
        rows = [line.split(",") for line in log.splitlines()]
        scaled = [rows[0]] + [[row[0]] + [str(float(value) * 1.2) for value in row[1:]] for row in rows[1:]]
        (root / "plots" / "training.csv").write_text("\n".join(",".join(row) for row in scaled) + "\n")
    subprocess.run(["dvc", "plots", "diff", "HEAD~1", "HEAD", "--targets", "plots/training.csv", "-o", "page"],
                   cwd=root, env=env, check=True, capture_output=True)
    return root / "page" / "index.html"


@pytest.mark.slow
@pytest.mark.chromium
def test_dvc_plots_diff_tells_the_two_revisions_apart_by_colour(tmp_path):
    page = two_revisions_of_the_training_log(tmp_path / "repo")
    dom = open_offline(page, "--dump-dom").stdout
    lines = re.findall(r'<path[^>]*class="mark-line role-mark[^"]*"[^>]*>', dom) + re.findall(
        r'<g class="mark-line role-mark[^"]*"[^>]*>(.*?)</g>', dom, re.DOTALL)
    colours = set(re.findall(r'stroke="(#[0-9a-fA-F]{3,6})"', " ".join(lines)))
    assert len(colours) == 2, colours  # one colour per revision, whatever the loss term
    assert dom.count('class="mark-line role-mark') >= 3  # a panel per loss term: loss, reconstruction, kl
    assert ">HEAD~1<" in dom and ">HEAD<" in dom  # the legend names both revisions
