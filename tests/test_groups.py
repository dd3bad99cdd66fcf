"""The statistics of comparing groups of seeds, against answers worked out by hand."""

import math
import warnings
from itertools import combinations
from math import comb

import numpy as np
import pytest
from scipy import stats

from studies.analysis.groups import (Summary, holm, permutation_max_t, prediction_interval, prediction_p,
                                     probability_of_superiority, resolvable_difference, seeds_needed,
                                     smallest_permutation_p, superiority_interval, welch_interval, welch_p, welch_t)


def test_welchs_interval_is_the_difference_plus_minus_t_on_welchs_degrees_of_freedom():
    a, b = [1.0, 2.0, 3.0], [4.0, 5.0, 7.0]
    # by hand: means 2 and 16/3, variances 1 and 7/3, standard error sqrt(1/3 + 7/9)
    va, vb = 1 / 3, (7 / 3) / 3
    error = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2)
    assert df == pytest.approx(3.448275862, rel=1e-9)
    half = stats.t.ppf(0.975, df) * error
    difference, low, high, found_df = welch_interval(a, b)
    assert difference == pytest.approx(16 / 3 - 2)
    assert (low, high, found_df) == pytest.approx((difference - half, difference + half, df))
    t = difference / error
    assert welch_p(a, b) == pytest.approx(2 * stats.t.sf(t, df))


def test_sides_without_spread_differ_infinitely_or_not_at_all():
    a = np.array([[7.0], [7.0]])
    assert welch_t(a, np.array([[8.0], [8.0]]))[0] == math.inf
    assert welch_t(a, a.copy())[0] == 0
    assert math.isnan(welch_t(a, np.array([[8.0], [math.nan]]))[0])
    assert math.isnan(welch_t(a, np.array([[8.0], [math.inf]]))[0])  # no spread can be measured beside inf
    assert welch_p([7, 7], [8, 8]) == 0 and welch_p([7, 7], [7, 7]) == 1
    assert welch_interval([7, 7], [8, 8]) == (1, 1, 1, math.inf)  # a point, on infinitely many degrees of freedom


def test_the_exact_permutation_p_of_two_separated_sides_of_three_is_2_in_20():
    """C(6, 3) = 20 deals; only the observed one and its mirror image reach the observed |t|."""
    a, b = np.array([[1.0], [2.0], [3.0]]), np.array([[4.0], [5.0], [6.0]])
    assert permutation_max_t(a, b) == pytest.approx([2 / 20])
    assert smallest_permutation_p(3, 3) == pytest.approx(2 / 20) and smallest_permutation_p(5, 5) == pytest.approx(2 / 252)


def test_the_max_t_p_of_each_metric_is_the_share_of_deals_whose_largest_t_reaches_it():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)) + [0, 0.5, 2]
    pooled = np.vstack([a, b])
    largest = []
    for first in combinations(range(8), 4):
        second = [i for i in range(8) if i not in first]
        largest.append(np.abs(welch_t(pooled[list(first)], pooled[second])).max())
    observed = np.abs(welch_t(a, b))
    expected = [np.mean(np.array(largest) >= t * (1 - 1e-12)) for t in observed]
    assert permutation_max_t(a, b) == pytest.approx(expected)


def test_holm_multiplies_the_ith_smallest_p_by_m_minus_i_and_keeps_the_order():
    # sorted: 0.01 * 4 = 0.04, 0.03 * 3 = 0.09, 0.04 * 2 = 0.08 -> 0.09 (not below the one before), 0.5 * 1
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.4, 0.5]) == pytest.approx([0.8, 0.8])
    assert holm([0.9, 0.01]) == pytest.approx([0.9, 0.02])
    assert holm([0.6, 0.7]).max() <= 1


def test_the_probability_of_superiority_counts_pairs_and_half_the_ties():
    # pairs (a, b): b > a in 7 of 9, one tie (2, 2)
    assert probability_of_superiority([1, 2, 3], [2, 5, 6]) == pytest.approx((7 + 0.5) / 9)
    assert probability_of_superiority([1, 2], [3, 4]) == 1 and probability_of_superiority([3, 4], [1, 2]) == 0
    from studies.analysis.groups import _superiority
    many_a, many_b = np.array([[1, 2, 3], [3, 3, 1]]), np.array([[2, 5, 6], [1, 3, 2]])
    assert _superiority(many_a, many_b) == pytest.approx([probability_of_superiority(x, y)
                                                          for x, y in zip(many_a, many_b)])
    low, high = superiority_interval([1, 2, 3, 4, 5], [3, 4, 5, 6, 7])
    assert 0 <= low <= probability_of_superiority([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]) <= high <= 1


def test_one_run_against_a_group_is_one_more_draw_of_its_law():
    group = [1.0, 2.0, 3.0, 4.0]  # mean 2.5, sd sqrt(5/3)
    scale = math.sqrt(5 / 3) * math.sqrt(1 + 1 / 4)
    assert prediction_p(group, 6.0) == pytest.approx(2 * stats.t.sf(3.5 / scale, 3))
    (low, high), resolvable = prediction_interval(3.5, math.sqrt(5 / 3), 4, alpha=0.05)
    assert (low + high) / 2 == pytest.approx(3.5) and high - 3.5 == pytest.approx(stats.t.ppf(0.975, 3) * scale)
    assert resolvable == pytest.approx((stats.t.ppf(0.975, 3) + stats.t.ppf(0.8, 3)) * scale)


def test_what_a_comparison_resolves_and_the_seeds_a_difference_needs():
    alpha = 0.05 / 12
    resolved = resolvable_difference(1.0, 1.0, 5, 5, alpha)
    df = 8.0  # equal sd and sizes: Welch's degrees of freedom are k_a + k_b - 2
    assert resolved == pytest.approx((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(0.8, df)) * math.sqrt(2 / 5))
    assert resolvable_difference(1.0, 1.0, 10, 10, alpha) < resolved
    needed = seeds_needed(3.0, 1.0, 1.0, alpha)
    assert resolvable_difference(1.0, 1.0, needed, needed, alpha) <= 3.0 < resolvable_difference(
        1.0, 1.0, needed - 1, needed - 1, alpha)
    assert seeds_needed(0.0, 1.0, 1.0, alpha) is None and seeds_needed(1e-6, 1.0, 1.0, alpha, most=50) is None


def test_a_summary_is_the_count_mean_and_sample_sd():
    summary = Summary.of([1.0, 2.0, 3.0])
    with pytest.raises(AttributeError):  # frozen: a summary of the seeds cannot drift from them
        summary.mean = 0.0
    assert (summary.count, summary.mean, summary.sd) == (3, 2.0, 1.0)
    assert Summary.of([1.0, 3.0]).sd == pytest.approx(math.sqrt(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one value has no sample sd: nan, without numpy's warning
        assert math.isnan(Summary.of([5.0]).sd)
    with pytest.raises(ValueError, match="without values"):
        Summary.of([])


# --- Each branch, against its definition -----------------------------------------------------------------

from studies.analysis.groups import EXACT_UP_TO, RESAMPLES, _welch_df, p_from_null


def test_the_p_from_the_deals_is_the_share_that_reach_and_ties_count():
    null = np.array([1.0, 2.0, 3.0, 3.0 * (1 - 1e-13), 5.0])  # the fourth ties with 3 by rounding
    assert p_from_null(np.array([3.0, 6.0, 0.5]), null, exact=True) == pytest.approx([3 / 5, 0.0, 1.0])
    assert p_from_null(np.array([3.0, 6.0]), null, exact=False) == pytest.approx([(3 + 1) / 6, 1 / 6])
    assert p_from_null(np.array([2.0]), null, exact=False) == pytest.approx([5 / 6])
    # a metric the sides do not move at all (|t| = 0) is reached by every deal, those of |t| = 0 too
    assert p_from_null(np.array([0.0]), np.array([0.0, 0.0, 1.0]), exact=True) == pytest.approx([1.0])
    assert p_from_null(np.array([0.0]), np.array([0.0, 0.0, 1.0]), exact=False) == pytest.approx([1.0])
    # the tolerance is relative below the observed |t| whatever its size (below 1 as well as above)
    assert p_from_null(np.array([0.5, 3.0]), np.array([0.5, 0.25, 3.0]), exact=True) == pytest.approx([2 / 3, 1 / 3])


def test_many_seeds_a_side_are_dealt_at_random_and_their_p_has_a_floor():
    assert comb(22, 11) > EXACT_UP_TO
    a = np.arange(11, dtype=float).reshape(-1, 1)
    b = a + 100.0  # no random deal comes near the observed |t|
    assert permutation_max_t(a, b) == pytest.approx([1 / (RESAMPLES + 1)])
    assert smallest_permutation_p(11, 11) == 1 / (RESAMPLES + 1) == 1 / 10_000
    assert smallest_permutation_p(5, 6) == pytest.approx(1 / 462) == smallest_permutation_p(6, 5)


def test_welchs_t_is_scipys_and_sides_without_spread_are_infinitely_apart_or_not_at_all():
    a, b = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [6.0], [9.0]])
    assert welch_t(a, b)[0] == pytest.approx(stats.ttest_ind(b[:, 0], a[:, 0], equal_var=False).statistic)
    assert welch_t(np.array([[8.0], [8.0]]), np.array([[7.0], [7.0]]))[0] == -math.inf
    agree = np.array([[7.0], [7.0], [7.0]])
    assert welch_t(agree, b)[0] == pytest.approx((b.mean() - 7.0) / math.sqrt(b.var(ddof=1) / 4))


def test_one_side_without_spread_still_has_welchs_interval_and_p():
    agree, spread = [7.0, 7.0, 7.0], [7.0, 8.0, 9.0, 10.0]
    difference, low, high, df = welch_interval(agree, spread)
    error = math.sqrt(np.var(spread, ddof=1) / 4)
    assert df == pytest.approx(3.0) and high - low == pytest.approx(2 * stats.t.ppf(0.975, 3) * error)
    for first, second in ((agree, spread), (spread, agree)):
        assert welch_p(first, second) == pytest.approx(2 * stats.t.sf(abs(difference) / error, 3))
        _, low, high, df = welch_interval(first, second)
        assert df == pytest.approx(3.0) and high - low == pytest.approx(2 * stats.t.ppf(0.975, 3) * error)


def test_a_group_without_spread_predicts_its_own_value_only():
    assert prediction_p([7.0, 7.0, 7.0], 7.0) == 1.0
    assert prediction_p([7.0, 7.0, 7.0], 8.0) == 0.0 and prediction_p([7.0, 7.0, 7.0], 6.0) == 0.0


def test_welchs_degrees_of_freedom_for_unequal_sides():
    va, vb = 1.0 / 4, 9.0 / 6
    assert _welch_df(1.0, 3.0, 4, 6) == pytest.approx((va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 5))
    assert _welch_df(0.0, 0.0, 4, 6) == math.inf
    assert math.isnan(_welch_df(math.nan, 1.0, 4, 6))
    assert _welch_df(2.0, 3.0, 4, 6) == pytest.approx((1.0 + vb) ** 2 / (1.0 / 3 + vb ** 2 / 5))
    resolved = resolvable_difference(1.0, 3.0, 4, 6, 0.05)
    df = _welch_df(1.0, 3.0, 4, 6)
    assert resolved == pytest.approx((stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)) * math.sqrt(va + vb))
    df = _welch_df(2.0, 3.0, 4, 6)
    assert resolvable_difference(2.0, 3.0, 4, 6, 0.05) == pytest.approx(
        (stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)) * math.sqrt(4.0 / 4 + vb))


def test_the_seeds_a_difference_needs_are_a_whole_number_either_sign():
    needed = seeds_needed(3.0, 1.0, 1.0, 0.05)
    assert isinstance(needed, int) and seeds_needed(-3.0, 1.0, 1.0, 0.05) == needed


def test_welchs_tests_need_two_seeds_a_side():
    for one, three in (([5.0], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [5.0])):
        for test in (welch_interval, welch_p):
            with pytest.raises(ValueError, match="at least 2 seeds a side"):
                test(one, three)
        with pytest.raises(ValueError, match="at least 2 seeds a side"):
            permutation_max_t(np.array(one)[:, None], np.array(three)[:, None])
        with pytest.raises(ValueError, match="at least 2 seeds a side"):
            smallest_permutation_p(len(one), len(three))
    # two a side: C(4, 2) = 6 deals, of which the observed one and its mirror image reach the observed |t|
    assert permutation_max_t(np.array([[1.0], [2.0]]), np.array([[3.0], [4.0]])) == pytest.approx([2 / 6])
    assert smallest_permutation_p(2, 2) == pytest.approx(2 / 6)
    assert smallest_permutation_p(2, 3) == pytest.approx(1 / 10)


def test_sides_without_spread_agree_only_on_the_same_mean_either_way():
    assert welch_p([8, 8], [7, 7]) == 0 and welch_p([7, 7], [8, 8]) == 0
    difference, low, high, _ = welch_interval([1.0, 2.0, 3.0], [5.0, 5.0])  # a's variance is exactly 1
    assert low < difference == 3.0 < high
    difference, low, high, _ = welch_interval([5.0, 5.0], [1.0, 2.0, 3.0])  # b's variance is exactly 1
    assert low < difference == -3.0 < high


def test_the_superiority_interval_is_scipys_percentile_bootstrap_of_2000_resamples_seeded_with_0():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=30), rng.normal(size=30) + 0.5  # 900 pairs: the interval moves with the resamples
    expected = stats.bootstrap((a, b), probability_of_superiority, paired=False, vectorized=False,
                               n_resamples=2000, method="percentile",
                               random_state=np.random.default_rng(0)).confidence_interval
    assert superiority_interval(a, b) == pytest.approx((expected.low, expected.high))
    assert superiority_interval(a, b, seed=1) != pytest.approx((expected.low, expected.high))


@pytest.mark.parametrize("difference", [0.5, 1.0, 2.0, 3.0, 20.0])
def test_the_seeds_a_difference_needs_are_the_fewest_that_resolve_it(difference):
    alpha = 0.05 / 12
    fewest = next(k for k in range(2, 1001) if resolvable_difference(1.0, 1.0, k, k, alpha) <= difference)
    assert seeds_needed(difference, 1.0, 1.0, alpha) == fewest == seeds_needed(-difference, 1.0, 1.0, alpha)
    assert seeds_needed(difference, 1.0, 1.0, alpha, most=fewest) == fewest  # the most it looks at counts too
    assert fewest == 2 or seeds_needed(difference, 1.0, 1.0, alpha, most=fewest - 1) is None
    exactly = resolvable_difference(1.0, 1.0, fewest, fewest, alpha)  # what the fewest resolve, no less
    assert seeds_needed(exactly, 1.0, 1.0, alpha) == fewest


def test_random_deals_are_seeded_with_0_unless_asked_otherwise():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(11, 2)), rng.normal(size=(11, 2)) + [0.0, 0.8]
    p = permutation_max_t(a, b)
    assert p == pytest.approx(permutation_max_t(a, b, seed=0)) and p[1] > smallest_permutation_p(11, 11)
    assert p[1] != permutation_max_t(a, b, seed=1)[1]


def test_the_seeds_a_difference_needs_are_looked_for_up_to_1000_a_side():
    alpha = 0.05 / 12
    assert seeds_needed(resolvable_difference(1.0, 1.0, 1000, 1000, alpha), 1.0, 1.0, alpha) == 1000
    assert seeds_needed(resolvable_difference(1.0, 1.0, 1001, 1001, alpha), 1.0, 1.0, alpha) is None
