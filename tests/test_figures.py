"""Figures: the right number of tiles, titles and labels, written atomically as PNG."""

import pytest
import torch
from PIL import Image

import betavae.figures as figures
from betavae.figures import CELL, PAD
from tests.conftest import keep_saved_figures


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures as they are saved, to inspect their axes."""
    return keep_saved_figures(monkeypatch, figures)


def tiles(axis):
    """(rows, columns) of 28x28 cells in the image grid shown on an axis."""
    height, width = axis.images[0].get_array().shape[:2]
    return (height - PAD) // CELL, (width - PAD) // CELL


def test_image_grid_has_one_tile_per_image_and_its_title(drawn, tmp_path):
    figures.save_image_grid(torch.rand(10, 1, 28, 28), tmp_path / "grid.png", "Samples", columns=4)
    axis = drawn[0].axes[0]
    assert tiles(axis) == (3, 4) and axis.get_title() == "Samples"
    assert Image.open(tmp_path / "grid.png").format == "PNG"
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind


def test_reconstruction_figure_pairs_each_input_row_with_its_reconstruction(drawn, tmp_path):
    originals, reconstructions = torch.rand(2, 10, 1, 28, 28), torch.rand(2, 10, 1, 28, 28)
    names = [f"class {c}" for c in range(10)]
    figures.save_reconstruction_figure(originals, reconstructions, names, tmp_path / "r.png")
    axis = drawn[0].axes[0]
    assert tiles(axis) == (4, 10)
    assert [t.get_text() for t in axis.get_yticklabels()] == ["input", "reconstruction"] * 2
    assert [t.get_text() for t in axis.get_xticklabels()] == names


def test_traversal_figure_has_a_panel_per_image_and_a_row_per_dimension(drawn, tmp_path):
    panels = torch.rand(3, 4, 5, 1, 28, 28)  # 3 images, 4 dimensions, 5 steps
    labels = [f"z{d}" for d in range(4)]
    figures.save_traversal_figure(panels, labels, [-2, -1, 0, 1, 2], ["a", "b", "c"], tmp_path / "t.png")
    axes = drawn[0].axes
    assert [axis.get_title() for axis in axes] == ["a", "b", "c"]
    assert all(tiles(axis) == (4, 5) for axis in axes)
    assert [t.get_text() for t in axes[0].get_yticklabels()] == labels
    assert "Latent traversals" in drawn[0]._suptitle.get_text()


def test_interpolation_figure_labels_the_inputs_at_both_ends(drawn, tmp_path):
    figures.save_interpolation_figure(torch.rand(2, 6, 1, 28, 28), ["a → b", "c → d"], tmp_path / "i.png", "Walks")
    axis = drawn[0].axes[0]
    assert tiles(axis) == (2, 6) and axis.get_title() == "Walks"
    columns = [t.get_text() for t in axis.get_xticklabels()]
    assert columns[0] == columns[-1] == "input" and columns[1:-1] == ["0", "0.33", "0.67", "1"]


def test_kl_bars_grey_out_inactive_units(drawn, tmp_path):
    figures.save_kl_per_dimension_figure([2.0, 0.001, 1.0], [True, False, True], tmp_path / "kl.png")
    bars = drawn[0].axes[0].patches
    assert [bar.get_height() for bar in bars] == [2.0, 0.001, 1.0]
    assert bars[0].get_facecolor() != bars[1].get_facecolor() == bars[1].get_facecolor()


def test_training_curves_draw_training_and_validation_for_each_term(drawn, tmp_path):
    log = {"epoch": [1, 2], **{f"{p}{n}": [2.0, 1.0] for p in ("", "val_") for n in ("loss", "reconstruction", "kl")}}
    figures.save_training_curves(log, tmp_path / "curves.png")
    axes = drawn[0].axes
    assert len(axes) == 3 and all(len(axis.lines) == 2 for axis in axes)
    assert [axis.get_title().split("\n")[0] for axis in axes][1:] == ["Reconstruction", "KL"]
