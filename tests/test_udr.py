"""UDR's known answers (Duan et al. 2020, as disentanglement_lib computes it)."""

import json
import math
import re

import pytest
import torch

from studies.analysis.udr import (BOOTSTRAP_DRAWS, CHANCE_ROTATIONS, INTERVAL, KL_THRESHOLD, _percentiles,
                                  bootstrap_over_seeds, chance_pair_score, pair_score, random_rotation, ranks,
                                  relative_strength, spearman_matrix, standardize, udr, udr_from_pairs,
                                  udr_with_chance)
from tests.conftest import REPO

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


def test_a_unit_correlated_with_nothing_counts_zero_in_its_direction():
    """A row (or column) of zeros has max²/sum = 0/0: it scores 0, so each direction's mean is halved."""
    corr = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    assert relative_strength(corr) == 0.5


def test_representations_of_different_image_counts_are_refused():
    with pytest.raises(ValueError, match=r"same images, got 3 and 4 rows"):
        spearman_matrix(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"same images, got 4 and 3 rows"):
        spearman_matrix(torch.randn(4, 2), torch.randn(3, 2))


def test_the_percentile_interval_takes_the_values_at_the_rounded_tail_ranks():
    """n sorted values at 50%: ranks round(0.25 (n − 1)) and round(0.75 (n − 1)); 8 values: 2 and 5; 6: 1 and 4."""
    assert _percentiles([70.0, 0.0, 10.0, 60.0, 20.0, 30.0, 50.0, 40.0], 0.5) == [20.0, 50.0]
    assert _percentiles([50.0, 40.0, 30.0, 20.0, 10.0, 0.0], 0.5) == [10.0, 40.0]
    assert _percentiles([float(v) for v in range(101)], 0.9) == [5.0, 95.0]
    assert _percentiles([30.0, 0.0, 20.0, 10.0], 0.5) == [10.0, 20.0]  # ranks round(0.75) = 1, round(2.25) = 2


def test_the_chance_level_and_its_bootstrap_are_seeded_with_zero_unless_told():
    a = latents(count=2_000)
    models = [(a, ACTIVE), (a[:, [1, 0, 3, 2]], ACTIVE), (latents(count=2_000, seed=1), ACTIVE)]
    assert udr_with_chance(models, rotations=4, draws=50) == udr_with_chance(models, rotations=4, draws=50, seed=0)
    assert udr_with_chance(models, rotations=4, draws=50) != udr_with_chance(models, rotations=4, draws=50, seed=1)
    assert chance_pair_score(*models[0], *models[2], rotations=4) == chance_pair_score(*models[0], *models[2],
                                                                                        rotations=4, seed=0)
    scores = {(0, 1): 0.2, (0, 2): 0.5, (1, 2): 0.8}
    chance = {pair: 0.1 for pair in scores}
    assert bootstrap_over_seeds(scores, chance, 3, draws=30) == bootstrap_over_seeds(scores, chance, 3, draws=30, seed=0)


def test_two_models_make_one_pair_and_one_model_none():
    a = latents(count=2_000)
    result = udr([(a, ACTIVE), (a[:, [2, 3, 0, 1]], ACTIVE)])
    assert list(result["pair_scores"]) == ["0-1"] and result["udr"] == result["pair_scores"]["0-1"]
    with pytest.raises(ValueError, match="at least two"):
        udr([(a, ACTIVE)])


def test_a_unit_whose_kl_is_exactly_the_threshold_is_left_out_of_udr_and_its_chance_level():
    """Units count when their KL is above 0.01 nats, strictly, on either side of the pair."""
    a, b = latents(count=2_000), latents(count=2_000, seed=1)
    a[:, 1] = b[:, 2]  # something to score
    at_threshold = torch.tensor([KL_THRESHOLD, 1.0, 1.0, 1.0])
    for score in (pair_score, lambda *args: chance_pair_score(*args, rotations=3)):
        assert score(a, at_threshold, b, ACTIVE) == score(a[:, 1:], torch.ones(3), b, ACTIVE)
        assert score(b, ACTIVE, a, at_threshold) == score(b, ACTIVE, a[:, 1:], torch.ones(3))


def test_the_sweep_record_and_its_page_use_the_settings_the_code_has():
    record = json.loads((REPO / "metrics" / "beta_sweep.json").read_text())
    assert {(b["bootstrap"]["draws"], b["bootstrap"]["level"]) for b in record["udr"].values()} == {
        (BOOTSTRAP_DRAWS, INTERVAL)}
    page = (REPO / "docs" / "sweep.md").read_text()
    assert re.search(r"(\d+)\s+Haar\s+rotations each way", page).group(1) == str(CHANCE_ROTATIONS)
    assert re.search(r"([\d,]+)\s+draws\)", page).group(1).replace(",", "") == str(BOOTSTRAP_DRAWS)


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


# --- Chance level: the same information in arbitrary axes ---

def test_a_random_rotation_is_orthogonal_and_uniform():
    generator = torch.Generator().manual_seed(0)
    rotations = torch.stack([random_rotation(3, generator) for _ in range(4000)])
    assert torch.allclose(rotations[0] @ rotations[0].T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    # Haar: every entry has mean 0 and mean square 1/dim
    assert rotations.mean(0).abs().max() < 0.04
    assert torch.allclose(rotations.pow(2).mean(0), torch.full((3, 3), 1 / 3, dtype=torch.float64), atol=0.02)


def test_standardize_gives_mean_zero_and_unit_sd_and_leaves_a_constant_column_at_zero():
    values = torch.cat([latents(dims=2) * torch.tensor([100.0, 0.01]) + 7, torch.full((50_000, 1), 3.0)], dim=1)
    out = standardize(values)
    assert torch.allclose(out.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(out.std(0), torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), atol=1e-9)


def test_one_unit_has_no_arbitrary_axis_so_its_chance_level_is_one():
    a = latents(dims=1)
    assert chance_pair_score(a, torch.ones(1), -3 * a, torch.ones(1)) == pytest.approx(1.0, abs=1e-9)


def test_the_chance_level_of_two_gaussian_units_matches_its_integral():
    """Two standard normal units against themselves turned by an angle t: Pearson correlations |cos t| and
    |sin t|, Spearman (6/pi) asin(r/2) for normal pairs; each of the four units scores max^2 / sum, so the
    pair scores that, averaged over t uniform (reflections give the same values)."""
    def spearman(r):
        return 6 / math.pi * math.asin(r / 2)

    def score(t):
        c, s = spearman(abs(math.cos(t))), spearman(abs(math.sin(t)))
        return max(c, s) ** 2 / (c + s)
    steps = 20_000
    expected = sum(score((k + 0.5) * 2 * math.pi / steps) for k in range(steps)) / steps
    a = latents(count=10_000, dims=2)
    chance = chance_pair_score(a, torch.ones(2), a[:, [1, 0]], torch.ones(2), rotations=200)
    assert expected == pytest.approx(0.660, abs=0.001)
    assert chance == pytest.approx(expected, abs=0.025)  # 400 draws: a standard error of about 0.008


def test_the_chance_level_falls_with_more_units_and_ignores_each_units_scale():
    a = latents(count=10_000, dims=10)
    chance = {d: chance_pair_score(a[:, :d], torch.ones(d), a[:, :d], torch.ones(d)) for d in (3, 5, 10)}
    assert chance[3] > chance[5] > chance[10] > 0.1  # far above the ~0 of unrelated codes
    scaled = a[:, :5] * torch.tensor([1000.0, 1.0, 0.001, 5.0, 0.2])
    assert chance_pair_score(scaled, torch.ones(5), a[:, :5], torch.ones(5)) == pytest.approx(chance[5], abs=1e-6)


def test_unrelated_codes_stay_near_zero_under_rotation_too():
    assert chance_pair_score(latents(10_000, seed=1), ACTIVE, latents(10_000, seed=2), ACTIVE, rotations=10) < 0.05


def test_the_chance_level_uses_only_active_units_and_a_collapsed_model_scores_zero():
    a = latents(count=10_000)
    noisy = torch.cat([a[:, :2], 100 * latents(10_000, seed=3)[:, :2]], dim=1)
    two_active = torch.tensor([1.0, 1.0, 0.0, 0.0])
    assert chance_pair_score(noisy, two_active, a, two_active) == pytest.approx(
        chance_pair_score(a[:, :2], torch.ones(2), a[:, :2], torch.ones(2)), abs=1e-9)
    assert chance_pair_score(a, torch.zeros(4), a, ACTIVE) == 0.0


# --- Bootstrap over seeds ---

def test_a_bootstrap_of_equal_pairs_is_a_point():
    scores = {(0, 1): 0.4, (0, 2): 0.4, (1, 2): 0.4}
    chance = {pair: 0.1 for pair in scores}
    result = bootstrap_over_seeds(scores, chance, 3, draws=200)
    assert result["udr"] == [0.4, 0.4] and result["chance"] == [0.1, 0.1]
    assert result["above_chance"] == pytest.approx([0.3, 0.3])


def test_the_bootstrap_leaves_out_resamples_of_one_model_and_stays_within_the_pair_scores():
    scores = {(0, 1): 0.2, (0, 2): 0.5, (1, 2): 0.8}
    chance = {(0, 1): 0.1, (0, 2): 0.1, (1, 2): 0.1}
    result = bootstrap_over_seeds(scores, chance, 3, draws=2700)
    # 3 of the 27 equally likely resamples hold one model only
    assert result["resamples"] == pytest.approx(2700 * 24 / 27, rel=0.05)
    assert result["udr"] == [0.2, 0.8]  # a resample of models {0, 1} only scores 0.2; of {1, 2} only, 0.8
    assert result["above_chance"] == pytest.approx([0.1, 0.7])


def test_the_bootstrap_interval_is_wider_than_the_spread_of_model_scores_when_one_model_differs():
    """Model 2 is unlike the others: its two pairs share it and move together."""
    scores = {(0, 1): 0.9, (0, 2): 0.1, (1, 2): 0.1}
    result = bootstrap_over_seeds(scores, {pair: 0.0 for pair in scores}, 3)
    assert result["udr"] == [0.1, 0.9]


def test_udr_with_chance_reports_both_per_pair_and_their_difference():
    a = latents(count=10_000)
    models = [(a, ACTIVE), (-a[:, [1, 0, 3, 2]], ACTIVE), (a[:, [3, 2, 1, 0]] * 2, ACTIVE)]
    result = udr_with_chance(models, rotations=10, draws=100)
    assert result["udr"] == pytest.approx(1.0, abs=0.03)  # 1 up to chance correlations of 10,000 images
    assert set(result["pair_chance"]) == {"0-1", "0-2", "1-2"}
    assert 0.2 < result["chance"] < 0.6  # four units in arbitrary axes (about 0.4)
    assert result["above_chance"] == pytest.approx(result["udr"] - result["chance"], abs=0.03)
    low, high = result["bootstrap"]["above_chance"]
    assert low <= result["above_chance"] <= high


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_model_with_non_finite_means_or_kl_is_refused(bad):
    a, b = latents(), latents(seed=1)
    broken = a.clone()
    broken[3, 1] = bad
    for score in (pair_score, lambda *args: chance_pair_score(*args, rotations=1)):
        with pytest.raises(ValueError, match="finite"):
            score(broken, ACTIVE, b, ACTIVE)
        with pytest.raises(ValueError, match="finite"):
            score(a, ACTIVE, b, torch.tensor([1.0, bad, 1.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        standardize(broken)


def test_the_bootstrap_never_pairs_a_model_with_itself_however_many_models():
    """With hundreds of models a resample holds the same one twice: only pairs of two models count (with
    scores of distinct pairs only, a self-pair would be a missing key)."""
    count = 300
    scores = {(i, j): 0.5 for i in range(count) for j in range(i + 1, count)}
    found = bootstrap_over_seeds(scores, dict(scores), count, draws=2)
    assert found["udr"] == [0.5, 0.5] and found["resamples"] == 2


def test_udr_from_the_pairs_a_group_recorded_is_udr_with_chance_of_its_models():
    models = [(latents(count=500, seed=seed), ACTIVE) for seed in range(3)]
    whole = udr_with_chance(models, rotations=2, draws=50)
    scores = {(i, j): whole["pair_scores"][f"{i}-{j}"] for i, j in ((0, 1), (0, 2), (1, 2))}
    chance = {(i, j): whole["pair_chance"][f"{i}-{j}"] for i, j in ((0, 1), (0, 2), (1, 2))}
    assert udr_from_pairs(scores, chance, 3, draws=50) == whole  # the bootstrap's seed defaults to udr_with_chance's
    assert udr_from_pairs(scores, chance, 3, draws=50, seed=0) == whole


def test_udr_from_pairs_needs_two_models_and_every_pair_of_both_scores():
    one_pair = {(0, 1): 0.4}
    assert udr_from_pairs(one_pair, {(0, 1): 0.2}, 2, draws=10)["udr"] == 0.4
    with pytest.raises(ValueError, match="at least two"):
        udr_from_pairs({}, {}, 1)
    with pytest.raises(ValueError, match=r"missing \[\(0, 1\)\]"):
        udr_from_pairs(one_pair, {}, 2)  # a score without its chance level
    scores = {(i, j): 0.3 for i in range(5) for j in range(i + 1, 5)}
    for pair in [(0, 1), (0, 2), (0, 3), (0, 4)]:
        del scores[pair]
    with pytest.raises(ValueError, match=r"UDR needs every pair of the 5 models; missing \[\(0, 1\), \(0, 2\), \(0, 3\)\]$"):
        udr_from_pairs(scores, dict(scores), 5)
