"""The figures of the visualize stage, each from the model and the test set."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from betavae.data import CLASSES
from betavae.activity import ACTIVE_UNIT_THRESHOLD, unit_activity
from betavae.evaluation import encode_all, kl_per_dimension
from betavae.figures import (save_kl_per_dimension_figure, save_latent_space_figure, save_reconstruction_figure,
                             save_training_curves, save_traversal_figure)
from betavae.io import write_json
from betavae.latent import first_of_each_class, pca_2d, traverse
from betavae.model import BetaVAE
from betavae.params import VisualizeParams


class TestSetView:
    """A model's posterior over the test set, computed once for all figures."""

    def __init__(self, model: BetaVAE, images: torch.Tensor, labels: torch.Tensor):
        self.model, self.images, self.labels = model, images, labels
        self.mu, logvar = encode_all(model, images, batch_size=1000)
        self.kl = kl_per_dimension(self.mu, logvar)
        self.active = unit_activity(self.mu) > ACTIVE_UNIT_THRESHOLD

    @torch.no_grad()
    def reconstructions(self, path: Path, per_class: int) -> None:
        chosen = first_of_each_class(self.labels, per_class).view(len(CLASSES), per_class).T  # [K, classes]
        originals = self.images[chosen]
        reconstructions = self.model.decode(self.mu[chosen.flatten()]).view(originals.shape)
        save_reconstruction_figure(originals, reconstructions, list(CLASSES), path)

    def traversals(self, path: Path, images: int, steps: int, span: float) -> None:
        order = self.kl.argsort(descending=True, stable=True).tolist()
        chosen = first_of_each_class(self.labels, 1)[torch.linspace(0, 9, images).round().long()]
        panels = torch.stack([traverse(self.model, self.mu[i], order, steps, span) for i in chosen])
        row_labels = [f"z{d} (KL {self.kl[d]:.2f})" + ("" if self.active[d] else " inactive") for d in order]
        values = torch.linspace(-span, span, steps).tolist()
        save_traversal_figure(panels, row_labels, [round(v, 2) for v in values],
                              [f"from a test {CLASSES[self.labels[i]]}" for i in chosen], path)

    def latent_space(self, path: Path) -> None:
        save_latent_space_figure(pca_2d(self.mu), self.labels, CLASSES, path)

    def kl_bars(self, path: Path) -> None:
        save_kl_per_dimension_figure(self.kl.tolist(), self.active.tolist(), path)

    def kl_table(self, path: Path) -> None:
        """The figure's numbers, by unit index: [{"unit": "z00", "kl_nats": ..., "active": ...}, ...]."""
        write_json(path, [{"unit": f"z{d:02d}", "kl_nats": kl, "active": active}
                          for d, (kl, active) in enumerate(zip(self.kl.tolist(), self.active.tolist()))])


def training_curves(log_csv: Path, path: Path) -> None:
    with open(log_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    log = {name: [float(row[name]) for row in rows] for name in rows[0]}
    save_training_curves(log, path)


def draw_all(view: TestSetView, params: VisualizeParams, log_csv: Path, out: dict[str, Path]) -> None:
    view.reconstructions(out["reconstructions"], params.reconstructions_per_class)
    view.traversals(out["traversals"], params.traversal_images, params.traversal_steps, params.traversal_range)
    view.latent_space(out["latent_space"])
    view.kl_bars(out["kl_per_dimension"])
    view.kl_table(out["kl_per_dimension_json"])
    training_curves(log_csv, out["training_curves"])
