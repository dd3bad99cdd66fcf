"""Titled, labelled PNG figures of image grids (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from betavae.io import atomic_path  # noqa: E402

PAD = 2
CELL = 28 + PAD


def _grid(images: torch.Tensor, columns: int) -> np.ndarray:
    """[N, 1, 28, 28] -> a single [H, W] image, white gaps between cells."""
    return make_grid(images.clamp(0, 1), nrow=columns, padding=PAD, pad_value=1.0)[0].numpy()


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


# The reconstruction term as evaluation names it, with its axis label: the first that all betas have is drawn.
DISTORTIONS = (("reconstruction_nats", "distortion: −log p(x|z) [nats/image]"),
               ("bce_reconstruction", "distortion: Bernoulli cross-entropy on grey levels [nats/image]"),
               ("test_mse", "distortion: test MSE per pixel"))


def distortion(summary: dict) -> tuple[str, str]:
    """The reconstruction metric every beta of a sweep summary has, and its axis label."""
    for name, label in DISTORTIONS:
        if all(name in metrics for metrics in summary.values()):
            return name, label
    raise ValueError("the sweep's experiments share no reconstruction metric")


def save_beta_sweep_figure(summary: dict, udr: dict, path: str | Path) -> None:
    """Mean ± sd over seeds per beta: rate-distortion, test MSE, UDR and, where the loss is a likelihood,
    the IWAE bound. summary: {beta: {metric: Spread}} (betavae.sweep.summarize); udr: {beta: betavae.udr.udr(...)}."""
    betas = sorted(summary)
    with_bound = all("iwae_nats" in summary[beta] for beta in betas)
    panels = 4 if with_bound else 3
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    counts = sorted({spread.count for metrics in summary.values() for spread in metrics.values()})
    seeds = "/".join(map(str, counts))
    name, label = distortion(summary)
    kl, dist = [summary[b]["kl_nats"] for b in betas], [summary[b][name] for b in betas]
    axes[0].errorbar([s.mean for s in kl], [s.mean for s in dist], xerr=[s.sd for s in kl],
                     yerr=[s.sd for s in dist], fmt="o-", capsize=3)
    for beta, x, y in zip(betas, kl, dist):
        axes[0].annotate(f"β={beta:g}", (x.mean, y.mean), textcoords="offset points", xytext=(6, 4))
    axes[0].set(title="Rate–distortion", xlabel="rate: KL(q(z|x) ‖ p(z)) [nats/image]", ylabel=label)
    _errorbar_against_beta(axes[1], betas, [summary[b]["test_mse"] for b in betas], "Test MSE against β",
                           "test MSE per pixel")
    _draw_udr(axes[2], [beta for beta in betas if beta in udr], udr)
    if with_bound:
        _errorbar_against_beta(axes[3], betas, [summary[b]["iwae_nats"] for b in betas],
                               "IWAE bound on log p(x) against β", "IWAE_k [nats/image], higher is better")
    for panel in axes:
        panel.grid(alpha=0.3)
    figure.suptitle(f"β sweep: mean ± sd over {seeds} seeds per β")
    figure.tight_layout()
    _save(figure, path)


def _draw_udr(axes, betas: list[float], udr: dict) -> None:
    """UDR per beta with its bootstrap interval over seeds, and the chance level as a line in its band."""
    def interval(name: str) -> tuple[list[float], list[float]]:
        return ([udr[b][name] - udr[b]["bootstrap"][name][0] for b in betas],
                [udr[b]["bootstrap"][name][1] - udr[b][name] for b in betas])
    level = udr[betas[0]]["bootstrap"]["level"] if betas else 0.95
    axes.errorbar(betas, [udr[b]["udr"] for b in betas], yerr=interval("udr"), fmt="o-", capsize=3,
                  label=f"UDR: median over seed pairs\n({level:.0%} bootstrap interval over seeds)")
    axes.plot(betas, [udr[b]["chance"] for b in betas], "--", color="grey",
              label="chance: the same codes\nin random axes (band: bootstrap)")
    axes.fill_between(betas, [udr[b]["bootstrap"]["chance"][0] for b in betas],
                      [udr[b]["bootstrap"]["chance"][1] for b in betas], color="grey", alpha=0.2)
    axes.set(title="UDR against β, with its chance level", xlabel="β (log scale)", ylabel="UDR",
             xscale="log", ylim=(0, 1))
    axes.legend(fontsize=8, loc="upper left")


def _errorbar_against_beta(axes, betas: list[float], spreads: list, title: str, ylabel: str) -> None:
    axes.errorbar(betas, [s.mean for s in spreads], yerr=[s.sd for s in spreads], fmt="o-", capsize=3)
    axes.set(title=title, xlabel="β (log scale)", ylabel=ylabel, xscale="log")


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
    _save(figure, path)


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
    _save(figure, path)


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
    _save(figure, path)


def save_kl_per_dimension_figure(kl: list[float], active: list[bool], path: str | Path) -> None:
    """Bar chart of the mean KL of each latent dimension; inactive units in grey."""
    figure, axes = plt.subplots(figsize=(max(5, 0.5 * len(kl) + 2), 3.5))
    axes.bar(range(len(kl)), kl, color=["tab:blue" if a else "tab:gray" for a in active])
    axes.set(title="KL per latent dimension (grey: inactive unit)", xlabel="latent dimension",
             ylabel="mean KL [nats]", xticks=range(len(kl)))
    axes.grid(axis="y", alpha=0.3)
    _save(figure, path)


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
    _save(figure, path)
