"""The β sweep's figure: its panels, error bars and UDR against chance."""

import pytest

from studies.analysis import sweep_figure
from studies.analysis.sweep import Spread
from tests.conftest import keep_saved_figures


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures as they are saved, to inspect their axes."""
    return keep_saved_figures(monkeypatch, sweep_figure)


def summary(metrics_by_beta):
    return {beta: {name: Spread(value, 0.1 * abs(value), 3) for name, value in metrics.items()}
            for beta, metrics in metrics_by_beta.items()}


UDR = {1.0: {"udr": 0.4, "chance": 0.2, "bootstrap": {"level": 0.95, "udr": [0.3, 0.5], "chance": [0.15, 0.25]}},
       5.0: {"udr": 0.6, "chance": 0.3, "bootstrap": {"level": 0.95, "udr": [0.55, 0.7], "chance": [0.25, 0.35]}}}


def test_the_beta_sweep_on_grey_levels_shows_the_objective_udr_and_no_likelihood(drawn, tmp_path):
    means = summary({b: {"kl_nats": 10 / b, "test_mse": 0.01 * b, "bce_reconstruction": 200 + b} for b in (1.0, 5.0)})
    sweep_figure.save_beta_sweep_figure(means, UDR, tmp_path / "sweep.png")
    axes = drawn[0].axes
    assert len(axes) == 3
    assert "Bernoulli cross-entropy on grey levels" in " ".join(axes[0].get_ylabel().split())
    assert not any("IWAE" in axis.get_title() for axis in axes)
    assert "UDR" in axes[2].get_title() and list(axes[2].lines[0].get_ydata()) == [0.4, 0.6]
    udr_bars, = axes[2].containers  # UDR's bootstrap interval: 0.3 to 0.5 at beta 1
    lower_caps, upper_caps = udr_bars.lines[1]
    assert lower_caps.get_ydata()[0] == pytest.approx(0.3) and upper_caps.get_ydata()[0] == pytest.approx(0.5)
    chance, = [line for line in axes[2].lines if "chance" in str(line.get_label())]
    assert list(chance.get_ydata()) == [0.2, 0.3]
    band, = axes[2].collections[-1:]
    assert band.get_paths()[0].get_extents().y0 == pytest.approx(0.15)
    assert len(axes[1].containers) == 1  # error bars: mean ± sd over seeds
    assert "3 seeds" in drawn[0].texts[0].get_text()


def test_the_beta_sweep_of_a_likelihood_adds_the_iwae_bound(drawn, tmp_path):
    means = summary({b: {"kl_nats": 10 / b, "test_mse": 0.01 * b, "reconstruction_nats": 200 + b,
                         "iwae_nats": -205.0 - b} for b in (1.0, 5.0)})
    sweep_figure.save_beta_sweep_figure(means, UDR, tmp_path / "sweep.png")
    axes = drawn[0].axes
    assert len(axes) == 4 and "log p(x|z)" in axes[0].get_ylabel()
    assert list(axes[3].lines[0].get_ydata()) == [-206.0, -210.0]


def test_the_distortion_falls_back_to_the_mse_for_the_squared_error_loss():
    assert sweep_figure.distortion(summary({1.0: {"kl_nats": 1.0, "test_mse": 0.02}}))[0] == "test_mse"


def test_a_sweep_of_one_seed_per_beta_draws_and_says_udr_needs_two(drawn, tmp_path):
    means = summary({b: {"kl_nats": 10 / b, "test_mse": 0.01 * b, "bce_reconstruction": 200 + b} for b in (1.0, 5.0)})
    sweep_figure.save_beta_sweep_figure(means, {}, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000
    assert "UDR needs at least two seeds per β" in [text.get_text() for text in drawn[0].axes[2].texts]
