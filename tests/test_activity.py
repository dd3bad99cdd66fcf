"""Active units and the posterior-collapse warning."""

import torch

from betavae.activity import (ACTIVE_UNIT_THRESHOLD, MIN_ACTIVE_UNITS, active_units, collapse_warning, is_collapsed,
                              unit_activity)


def test_active_units_counts_dimensions_whose_means_vary():
    """A constructed encoder: dimensions 0 and 2 carry the input, 1 and 3 ignore it (prior-collapsed)."""
    x = torch.linspace(-1, 1, 500)
    mu = torch.stack([x, torch.zeros(500), 0.5 * x, 0.05 * x], dim=1)  # var: 0.33, 0, 0.08, 0.0008
    assert active_units(mu) == 2


def test_a_collapse_is_fewer_active_units_than_the_minimum():
    assert MIN_ACTIVE_UNITS == 2
    assert is_collapsed(0) and is_collapsed(1) and not is_collapsed(2)


def test_the_warning_is_one_line_that_says_how_many_units_are_left():
    warning = collapse_warning(0, 10, "test images")
    assert warning.startswith("warning: posterior collapse: 0 of 10 latent units are active on the test images")
    assert "\n" not in warning and "docs/pipeline.md" in warning
    assert collapse_warning(7, 10, "test images") is None


def with_variance(variance: float, count: int = 1000) -> torch.Tensor:
    """Posterior means of one unit, [count, 1], whose sample variance is exactly `variance`."""
    signs = torch.tensor([1.0, -1.0], dtype=torch.float64).repeat(count // 2)
    return (signs * (variance * (count - 1) / count) ** 0.5).unsqueeze(1)


def test_a_unit_is_active_exactly_when_its_means_vary_by_more_than_a_hundredth():
    """Burda et al.'s threshold, Cov_x(E_q[z]) > 0.01, at its boundary: 1% either side decides."""
    assert unit_activity(with_variance(0.0101)).item() > 0.01 > unit_activity(with_variance(0.0099)).item()
    mu = torch.cat([with_variance(v) for v in (0.0101, 0.0099, 0.05, 0.002, 0.003)], dim=1)
    assert active_units(mu) == 2  # three of the five are below: a flipped comparison counts 3
    assert ACTIVE_UNIT_THRESHOLD == 0.01


def test_a_unit_whose_means_vary_by_exactly_the_threshold_is_not_active():
    """Burda et al. count Cov > threshold, strictly: at equality the unit is not counted."""
    mu = with_variance(0.02)
    assert active_units(mu, threshold=unit_activity(mu).item()) == 0
    assert active_units(mu, threshold=unit_activity(mu).item() * (1 - 1e-9)) == 1
