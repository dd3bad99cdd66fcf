"""The visualize stage's figures from a model and a test set."""

import json

import torch

from betavae.model import BetaVAE
from betavae.params import VisualizeParams
import betavae.report as report


def test_every_figure_is_drawn_from_one_view_of_the_test_set(tiny_model_config, tmp_path):
    images, labels = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    view = report.TestSetView(BetaVAE(tiny_model_config).eval(), images, labels)
    assert view.mu.shape == (40, tiny_model_config.latent_dim) and view.kl.shape == (tiny_model_config.latent_dim,)
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,reconstruction,kl,val_loss,val_reconstruction,val_kl\n1,3,2,1,3,2,1\n2,2,1.5,0.5,2,1.5,0.5\n")
    figures = {name: tmp_path / f"{name}.png"
               for name in ("reconstructions", "traversals", "latent_space", "kl_per_dimension", "training_curves")}
    table = tmp_path / "kl_per_dimension.json"
    report.draw_all(view, VisualizeParams(reconstructions_per_class=1, traversal_images=2, traversal_steps=3,
                                          traversal_range=2.0), log, dict(figures, kl_per_dimension_json=table))
    assert all(path.stat().st_size > 1000 for path in figures.values())
    rows = json.loads(table.read_text())  # the KL figure's numbers, by unit index
    assert [row["unit"] for row in rows] == [f"z{d:02d}" for d in range(tiny_model_config.latent_dim)]
    assert [row["kl_nats"] for row in rows] == view.kl.tolist()
    assert [row["active"] for row in rows] == view.active.tolist()


def test_traversal_rows_follow_the_kl_order_and_mark_inactive_units(tiny_model_config, tmp_path, monkeypatch):
    captured = {}
    monkeypatch.setattr(report, "save_traversal_figure",
                        lambda panels, rows, values, titles, path: captured.update(rows=rows, panels=panels))
    view = report.TestSetView(BetaVAE(tiny_model_config).eval(), torch.rand(30, 1, 28, 28), torch.arange(30) % 10)
    view.kl = torch.tensor([0.5, 2.0, 0.0, 1.0])
    view.active = torch.tensor([True, True, False, True])
    view.traversals(tmp_path / "t.png", images=2, steps=3, span=1.0)
    assert [row.split(" ")[0] for row in captured["rows"]] == ["z1", "z3", "z0", "z2"]
    assert captured["rows"][-1].endswith("inactive") and not captured["rows"][0].endswith("inactive")
    assert captured["panels"].shape == (2, 4, 3, 1, 28, 28)
