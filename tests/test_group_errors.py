"""The group diff's measured errors: every split of a group, false alarms with their interval, and power."""

import numpy as np
import pytest
from scipy import stats

from studies.diff import Side
from studies.group_errors import judged, null_splits, one_against_one, rate, splits


def side(name, values, settings=()):
    runs = {str(i): {name_: float(v[i]) for name_, v in values.items()} for i in range(len(next(iter(values.values()))))}
    return Side(name, name, runs, {}, tuple(settings), None)


def test_ten_seeds_split_into_two_fives_126_ways_each_pair_of_halves_once():
    found = splits([str(seed) for seed in range(10)], 5)
    assert len(found) == 126 == 252 // 2
    assert len({frozenset(map(frozenset, pair)) for pair in found}) == 126
    assert all(sorted(first + second) == sorted(map(str, range(10))) for first, second in found)


def test_a_false_alarm_rate_comes_with_its_exact_binomial_interval():
    measured = rate(3, 126)
    assert measured["rate"] == pytest.approx(3 / 126)
    expected = stats.binomtest(3, 126).proportion_ci(0.95)
    assert measured["interval"] == pytest.approx([expected.low, expected.high])


def test_splits_of_one_law_rarely_alarm_and_a_real_change_is_caught():
    rng = np.random.default_rng(2)
    committed = side("committed", {"test_mse": 0.017 + 1e-4 * rng.normal(size=10),
                                   "kl_nats": 6.3 + 0.08 * rng.normal(size=10)})
    measured = null_splits(committed, 0.05)
    assert measured["trials"] == 126 and measured["false_alarms"] <= 126 * 0.15
    changed = side("beta-5.5", {"test_mse": 0.0175 + 1e-4 * rng.normal(size=5),
                                "kl_nats": 6.0 + 0.08 * rng.normal(size=5)}, ["train.beta=5.5"])
    found = judged(committed, changed, 0.05)
    assert found["beyond"] == ["kl_nats", "test_mse"] and found["seeds"] == [10, 5]
    assert found["metrics"]["test_mse"]["interval"][0] > 0 and found["method"] == "permutation max-t"


def test_one_run_a_side_needs_about_nine_seed_sd():
    found = one_against_one()
    assert found["tolerance_in_sd"] == pytest.approx(7.34, abs=0.05) or found["seeds"] != 9
    assert found["tolerance_in_sd"] < found["resolvable_in_sd"] < found["tolerance_in_sd"] + 3
