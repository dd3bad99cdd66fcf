"""UDR's known answers (Duan et al. 2020, as disentanglement_lib computes it)."""

import pytest
import torch

from betavae.udr import pair_score, ranks, relative_strength, spearman_matrix, udr

ACTIVE = torch.ones(4)


def latents(count=50_000, dims=4, seed=0):
    """Independent normal units; with 50,000 images their chance |correlation| is about 0.004."""
    return torch.randn(count, dims, generator=torch.Generator().manual_seed(seed))


def test_ranks_order_each_column():
    values = torch.tensor([[3.0, -1.0], [1.0, 5.0], [2.0, 0.0]])
    assert ranks(values).tolist() == [[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]]


def test_spearman_is_one_for_monotone_transforms_and_ignores_sign():
    x = latents(dims=1)
    corr = spearman_matrix(x, torch.cat([x.pow(3), -x.exp()], dim=1))
    assert corr.shape == (1, 2) and torch.allclose(corr, torch.ones(1, 2, dtype=torch.float64), atol=1e-12)


def test_a_permutation_with_sign_flips_scores_one():
    a = latents()
    b = -a[:, [2, 0, 3, 1]] * torch.tensor([1.0, -1.0, 2.0, 0.5])
    assert pair_score(a, ACTIVE, b, ACTIVE) == pytest.approx(1.0, abs=0.02)  # 1 up to chance correlations


def test_independent_representations_score_near_zero():
    assert pair_score(latents(seed=1), ACTIVE, latents(seed=2), ACTIVE) < 0.05


def test_inactive_units_are_left_out_before_scoring():
    a = latents()
    b = torch.cat([a[:, :2], latents(seed=5)[:, :2]], dim=1)  # units 2, 3 of b are noise...
    kl_b = torch.tensor([1.0, 1.0, 0.001, 0.0])              # ...and switched off
    kl_a = torch.tensor([1.0, 1.0, 0.0, 0.0])
    assert pair_score(a, kl_a, b, kl_b) == pytest.approx(1.0, abs=0.02)
    assert pair_score(a, ACTIVE, b, ACTIVE) < 0.75


def test_one_active_unit_against_many_follows_the_relative_strength_of_each_direction():
    """One unit matching one of four, R = [1, 0, 0, 0]: the one unit's row scores 1^2 / 1 = 1; the four
    columns score r^2 / r = r each, 1/4 on average; the pair (1 + 1/4) / 2 = 0.625."""
    a = latents()
    assert pair_score(a[:, :1], torch.ones(1), a, ACTIVE) == pytest.approx(0.625, abs=0.02)


def test_relative_strength_of_a_known_matrix():
    corr = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    # columns: 1/1.5 and 0.25/0.5 -> mean 0.5833; rows: 1/1 and 0.25/1 -> mean 0.625
    assert relative_strength(corr) == pytest.approx((0.58333333 + 0.625) / 2)


def test_a_collapsed_model_shares_nothing():
    assert pair_score(latents(), torch.zeros(4), latents(), ACTIVE) == 0.0


def test_udr_is_the_median_over_pairs():
    a = latents()
    same = -a[:, [1, 0, 3, 2]]
    other = latents(seed=9)
    result = udr([(a, ACTIVE), (same, ACTIVE), (other, ACTIVE)])
    assert result["pair_scores"]["0-1"] == pytest.approx(1.0, abs=0.02)
    assert result["pair_scores"]["0-2"] < 0.05 and result["pair_scores"]["1-2"] < 0.05
    assert result["udr"] == pytest.approx(sorted(result["pair_scores"].values())[1])
    assert result["model_scores"][2] < 0.05
    with pytest.raises(ValueError, match="at least two"):
        udr([(a, ACTIVE)])
