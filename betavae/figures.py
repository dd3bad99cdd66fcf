"""Titled, labelled PNG figures of image grids (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from betavae.io import atomic_path  # noqa: E402

PAD = 2
CELL = 28 + PAD


def _grid(images: torch.Tensor, columns: int) -> torch.Tensor:
    """[N, 1, 28, 28] -> a single [H, W] image, white gaps between cells."""
    return make_grid(images.clamp(0, 1), nrow=columns, padding=PAD, pad_value=1.0)[0]


def _save(figure: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)


def save_image_grid(images: torch.Tensor, path: str | Path, title: str, columns: int = 8) -> None:
    """A titled grid of images."""
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(figsize=(0.6 * columns + 0.4, 0.6 * rows + 0.8))
    axes.imshow(_grid(images, columns), cmap="gray", vmin=0, vmax=1)
    axes.set_title(title)
    axes.axis("off")
    _save(figure, path)


def save_interpolation_figure(rows: torch.Tensor, row_labels: list[str], path: str | Path, title: str) -> None:
    """rows: [R, C, 1, 28, 28], an original at each end of every row; one label per row."""
    count, columns = rows.shape[:2]
    figure, axes = plt.subplots(figsize=(0.6 * columns + 2.4, 0.6 * count + 1.0))
    axes.imshow(_grid(rows.flatten(0, 1), columns), cmap="gray", vmin=0, vmax=1)
    axes.set_title(title)
    axes.set_yticks([PAD + CELL * r + 14 for r in range(count)], row_labels)
    steps = columns - 2
    column_labels = ["input"] + [f"{i / (steps - 1):.2g}" for i in range(steps)] + ["input"]
    axes.set_xticks([PAD + CELL * c + 14 for c in range(columns)], column_labels, fontsize=7)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    _save(figure, path)


def save_beta_sweep_figure(points: list, path: str | Path) -> None:
    """Rate-distortion (KL against reconstruction, one labelled point per beta) and test MSE against beta."""
    figure, (rate_distortion, mse) = plt.subplots(1, 2, figsize=(10, 4))
    kl = [p.kl_nats for p in points]
    reconstruction = [p.reconstruction_nats for p in points]
    rate_distortion.plot(kl, reconstruction, "o-")
    for point in points:
        rate_distortion.annotate(f"β={point.beta:g}", (point.kl_nats, point.reconstruction_nats),
                                 textcoords="offset points", xytext=(6, 4))
    rate_distortion.set(title="Rate–distortion", xlabel="rate: KL(q(z|x) ‖ p(z)) [nats/image]",
                        ylabel="distortion: reconstruction [nats/image]")
    mse.plot([p.beta for p in points], [p.test_mse for p in points], "o-")
    mse.set(title="Test MSE against β", xlabel="β (log scale)", ylabel="test MSE per pixel", xscale="log")
    for axes in (rate_distortion, mse):
        axes.grid(alpha=0.3)
    figure.tight_layout()
    _save(figure, path)
