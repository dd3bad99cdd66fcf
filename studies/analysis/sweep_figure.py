"""The β sweep's figure: rate-distortion, test MSE, UDR against its chance level and, where the loss is a
likelihood, the IWAE bound, each as mean ± sd over seeds per β."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from betavae.figures import save_figure

DISTORTIONS = (("reconstruction_nats", "distortion: −log p(x|z) [nats/image]"),
               ("bce_reconstruction", "distortion: Bernoulli cross-entropy\non grey levels [nats/image]"),
               ("test_mse", "distortion: test MSE per pixel"))



def distortion(summary: dict) -> tuple[str, str]:
    """The reconstruction metric every beta of a sweep summary has, and its axis label."""
    for name, label in DISTORTIONS:
        if all(name in metrics for metrics in summary.values()):
            return name, label
    raise ValueError("the sweep's experiments share no reconstruction metric")


def save_beta_sweep_figure(summary: dict, udr: dict, path: str | Path) -> None:
    """Mean ± sd over seeds per beta: rate-distortion, test MSE, UDR and, where the loss is a likelihood,
    the IWAE bound. summary: {beta: {metric: Spread}} (studies.analysis.sweep.summarize);
    udr: {beta: studies.analysis.udr.udr_with_chance(...)}."""
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
    save_figure(figure, path)


def _draw_udr(axes, betas: list[float], udr: dict) -> None:
    """UDR per beta with its bootstrap interval over seeds, and the chance level as a line in its band."""
    if not betas:  # UDR compares seeds: one seed per beta has none
        axes.text(0.5, 0.5, "UDR needs at least two seeds per β", ha="center", va="center",
                  transform=axes.transAxes)
        axes.set(title="UDR against β", xticks=[], yticks=[])
        return
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
