"""Titled, labelled PNG figures of image grids (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from betavae.io import atomic_path  # noqa: E402

PAD = 2
CELL = 28 + PAD


def _grid(images: torch.Tensor, columns: int) -> np.ndarray:
    """[N, 1, 28, 28] -> a single [H, W] image, white gaps between cells."""
    # Imported here: torchvision's import costs a process about 1.4 s of CPU (its ops import torch._dynamo),
    # and the studies that draw only plots (save_figure) need none of it
    from torchvision.utils import make_grid
    return make_grid(images.clamp(0, 1), nrow=columns, padding=PAD, pad_value=1.0)[0].numpy()


def save_figure(figure: plt.Figure, path: str | Path) -> None:
    """Write the figure as a PNG with no timestamp in it (the same figure, the same bytes), then close it."""
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
    save_figure(figure, path)


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
    save_figure(figure, path)


# The reconstruction term as evaluation names it, with its axis label: the first that all betas have is drawn.
def save_reconstruction_figure(originals: torch.Tensor, reconstructions: torch.Tensor, class_names: list[str],
                               path: str | Path) -> None:
    """originals, reconstructions: [K, C, 1, 28, 28], K images of each of C classes; each input row is
    followed by its reconstructions, one column per class."""
    per_class, columns = originals.shape[:2]
    rows = torch.stack([originals, reconstructions], dim=1).flatten(0, 1)  # [2K, C, 1, 28, 28]
    figure, axes = plt.subplots(figsize=(0.75 * columns + 1.8, 0.75 * 2 * per_class + 1.0))
    axes.imshow(_grid(rows.flatten(0, 1), columns), cmap="gray", vmin=0, vmax=1)
    axes.set_xticks([PAD + CELL * c + 14 for c in range(columns)], class_names, fontsize=7, rotation=30)
    axes.xaxis.tick_top()
    axes.set_yticks([PAD + CELL * r + 14 for r in range(2 * per_class)], ["input", "reconstruction"] * per_class,
                    fontsize=8)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_title("Test images and their reconstructions from the posterior mean", pad=28)
    save_figure(figure, path)


def save_traversal_figure(panels: torch.Tensor, row_labels: list[str], values: list[float], titles: list[str],
                          path: str | Path) -> None:
    """panels: [P, R, C, 1, 28, 28], one panel per input image; rows are latent dimensions."""
    count, rows, columns = panels.shape[:3]
    figure, axes = plt.subplots(1, count, figsize=(0.45 * columns * count + 1.6, 0.45 * rows + 1.2), squeeze=False)
    for index, axis in enumerate(axes[0]):
        axis.imshow(_grid(panels[index].flatten(0, 1), columns), cmap="gray", vmin=0, vmax=1)
        axis.set_title(titles[index], fontsize=9)
        axis.set_xticks([PAD + CELL * c + 14 for c in range(columns)], [f"{v:g}" for v in values], fontsize=6)
        axis.set_yticks([PAD + CELL * r + 14 for r in range(rows)], row_labels if index == 0 else [], fontsize=7)
        axis.tick_params(length=0)
        for spine in axis.spines.values():
            spine.set_visible(False)
    figure.suptitle("Latent traversals: one dimension swept, the others at the posterior mean "
                    "(rows sorted by KL)")
    save_figure(figure, path)


def save_latent_space_figure(points: torch.Tensor, labels: torch.Tensor, class_names: tuple[str, ...],
                             path: str | Path) -> None:
    """2-D projection of the posterior means, coloured by class."""
    figure, axes = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab10")
    for index, name in enumerate(class_names):
        chosen = labels == index
        axes.scatter(points[chosen, 0], points[chosen, 1], s=3, alpha=0.5, color=colours(index), label=name)
    axes.set(title="Posterior means of the test images (first two principal components)",
             xlabel="PC 1", ylabel="PC 2")
    axes.legend(markerscale=4, fontsize=8, loc="best")
    save_figure(figure, path)


def save_kl_per_dimension_figure(kl: list[float], active: list[bool], path: str | Path) -> None:
    """Bar chart of the mean KL of each latent dimension; inactive units in grey."""
    figure, axes = plt.subplots(figsize=(max(5, 0.5 * len(kl) + 2), 3.5))
    axes.bar(range(len(kl)), kl, color=["tab:blue" if a else "tab:gray" for a in active])
    axes.set(title="KL per latent dimension (grey: inactive unit)", xlabel="latent dimension",
             ylabel="mean KL [nats]", xticks=range(len(kl)))
    axes.grid(axis="y", alpha=0.3)
    save_figure(figure, path)


def save_training_curves(log: dict[str, list[float]], path: str | Path) -> None:
    """Loss, reconstruction and KL per epoch, training and validation."""
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    # During a KL warm-up the training loss weights the KL by w < 1; validation always uses w = 1.
    titles = ("Loss: reconstruction + w·β·KL\n(training: w warms up to 1; validation: w = 1)",
              "Reconstruction", "KL")
    for axis, name, title in zip(axes, ("loss", "reconstruction", "kl"), titles):
        axis.plot(log["epoch"], log[name], label="training")
        axis.plot(log["epoch"], log[f"val_{name}"], label="validation")
        axis.set_title(title, fontsize=10)
        axis.set(xlabel="epoch", ylabel="nats per image")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    save_figure(figure, path)
