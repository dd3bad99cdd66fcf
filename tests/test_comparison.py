"""Two sides compared metric by metric: the test their sizes allow, what is not tested, the verdicts, and the
family-wise false-alarm rate measured on simulated seeds."""

import numpy as np
import pytest

from studies.analysis.comparison import (PERMUTATION, PREDICTION, TOO_FEW, WELCH, compare_sides, method_for,
                                         untested_reason)


def side(values, **fixed):
    """{seed: metrics} from {metric: [value per seed]} and metrics fixed on every seed."""
    count = len(next(iter(values.values())))
    return {str(i): {**{name: float(v[i]) for name, v in values.items()}, **fixed} for i in range(count)}


@pytest.mark.parametrize("sizes, method", [((5, 5), PERMUTATION), ((10, 5), PERMUTATION), ((6, 10), PERMUTATION),
                                           ((4, 5), WELCH), ((2, 2), WELCH), ((1, 4), PREDICTION), ((3, 1), PREDICTION),
                                           ((1, 2), TOO_FEW), ((1, 1), TOO_FEW)])
def test_the_test_follows_the_seeds_a_side(sizes, method):
    assert method_for(*sizes) == method


def test_what_is_shown_but_not_tested():
    assert untested_reason("test_mse", [0.1, 0.1], [0.1, 0.1], ["train.beta"]) == "the same on every run"
    assert untested_reason("classifier_test_accuracy", [0.9, 0.8], [0.9, 0.7], ["train.beta"]) == \
        "the params compared cannot move it"
    assert untested_reason("classifier_test_accuracy", [0.9, 0.8], [0.9, 0.7], ["classifier.epochs"]) is None
    assert untested_reason("posterior_collapse", [False], [True], []) == "not a number"
    assert untested_reason("test_mse", [0.1, 0.2], [0.1, 0.3], ["train.beta"]) is None


def test_a_shift_of_many_seed_sd_is_beyond_the_noise_and_the_rest_is_not():
    rng = np.random.default_rng(0)
    a = side({"test_mse": 0.017 + 1e-4 * rng.normal(size=10), "kl_nats": 6.3 + 0.08 * rng.normal(size=10)},
             classifier_test_accuracy=0.9, posterior_collapse=False)
    b = side({"test_mse": 0.0175 + 1e-4 * rng.normal(size=5), "kl_nats": 6.3 + 0.08 * rng.normal(size=5)},
             classifier_test_accuracy=0.9, posterior_collapse=False)
    result = compare_sides(a, b, ["train.beta"])
    rows = {row.metric: row for row in result.rows}
    assert result.method == PERMUTATION and result.tested == ["kl_nats", "test_mse"]
    assert result.beyond == ["test_mse"] and rows["kl_nats"].verdict == "no"
    assert rows["test_mse"].interval[0] > 0 and rows["test_mse"].superiority == 1.0
    assert rows["test_mse"].seeds_needed <= 5 and rows["test_mse"].resolvable < rows["test_mse"].difference
    assert rows["classifier_test_accuracy"].verdict == "not tested: the same on every run"
    assert rows["posterior_collapse"].verdict == "not tested: not a number"


def test_too_few_seeds_say_so_instead_of_no():
    a = side({"test_mse": [0.017]})
    b = side({"test_mse": [0.0171, 0.0172]})
    result = compare_sides(a, b, ["train.beta"])
    assert result.method == TOO_FEW and result.rows[0].verdict == TOO_FEW.value and result.beyond == []


def test_one_run_against_a_group_gets_a_prediction_interval():
    group = side({"test_mse": [0.0170, 0.0171, 0.0169, 0.0170, 0.0172]})
    far, near = side({"test_mse": [0.0180]}), side({"test_mse": [0.01705]})
    assert compare_sides(group, far).beyond == ["test_mse"]
    row = compare_sides(group, near).rows[0]
    assert row.verdict == "no" and row.interval[0] < row.difference < row.interval[1]


# --- Every number of a row, worked out from its definition (the slow simulation last: a mutant's run stops at
# its first failing test) ---------------------------------------------------------------------------------------

import dataclasses
import math

from studies.analysis import groups
from studies.analysis.comparison import Row, adjusted_p


def test_a_rows_numbers_for_two_groups_are_their_definitions():
    a, b = [1.0, 2.0, 4.0], [3.0, 5.0, 6.0, 8.0]
    sa, sb = groups.Summary.of(a), groups.Summary.of(b)
    result = compare_sides(side({"m": a, "k": [7, 7, 8]}), side({"m": b, "k": [7, 8, 8, 8]}), alpha=0.05)
    row = {r.metric: r for r in result.rows}["m"]
    assert row.difference == pytest.approx(5.5 - 7 / 3)
    assert row.interval == pytest.approx(groups.welch_interval(a, b)[1:3])
    assert row.in_sd == pytest.approx((5.5 - 7 / 3) / math.sqrt((sa.sd ** 2 + sb.sd ** 2) / 2))
    assert row.sd_ratio == pytest.approx(sb.sd / sa.sd)
    assert row.superiority == pytest.approx(groups.probability_of_superiority(a, b))
    assert row.resolvable == pytest.approx(groups.resolvable_difference(sa.sd, sb.sd, 3, 4, 0.05 / 2))  # 2 tested
    assert row.seeds_needed == groups.seeds_needed(row.difference, sa.sd, sb.sd, 0.05 / 2)
    assert row.p == pytest.approx(groups.holm([groups.welch_p([7, 7, 8], [7, 8, 8, 8]), groups.welch_p(a, b)])[1])


def test_a_count_resolves_no_less_than_one_unit_and_other_metrics_their_own_size():
    values = {"active_units": [7.0, 7.1, 7.0, 7.1, 7.0], "m": [7.0, 7.1, 7.0, 7.1, 7.0]}
    result = compare_sides(side(values), side({name: [v + 0.01 for v in vals] for name, vals in values.items()}))
    rows = {row.metric: row for row in result.rows}
    assert rows["active_units"].resolvable == 1.0 and 0 < rows["m"].resolvable < 1.0
    one = compare_sides(side({"active_units": [7.0, 7.1, 7.0], "m": [7.0, 7.1, 7.0]}), side({"active_units": [7.02],
                                                                                             "m": [7.02]}))
    found = {row.metric: row for row in one.rows}
    assert found["active_units"].resolvable == 1.0 and 0 < found["m"].resolvable < 1.0


@pytest.mark.parametrize("group_first", [True, False])
def test_one_run_against_a_group_on_either_side(group_first):
    group, run = [1.0, 2.0, 4.0], [5.0]
    a, b = (group, run) if group_first else (run, group)
    row = compare_sides(side({"m": a}), side({"m": b})).rows[0]
    summary = groups.Summary.of(group)
    difference = (5.0 - 7 / 3) * (1 if group_first else -1)
    interval, resolvable = groups.prediction_interval(difference, summary.sd, 3, 0.05)
    assert row.difference == pytest.approx(difference) and row.interval == pytest.approx(interval)
    assert row.in_sd == pytest.approx(difference / summary.sd) and row.resolvable == pytest.approx(resolvable)
    assert row.p == pytest.approx(groups.prediction_p(group, 5.0))
    assert row.sd_ratio is None and row.superiority is None


def test_two_seeds_against_one_allow_no_interval_and_no_test():
    row = compare_sides(side({"m": [1.0, 2.0]}), side({"m": [5.0]})).rows[0]
    assert row.verdict == TOO_FEW.value and row.interval is None and row.resolvable is None and row.p is None


def test_a_p_at_alpha_itself_is_beyond_the_noise_and_alpha_below_the_smallest_p_is_too_few_seeds():
    a, b = side({"m": [1.0, 2.0, 3.0, 4.0, 5.0]}), side({"m": [11.0, 12.0, 13.0, 14.0, 15.0]})
    smallest = groups.smallest_permutation_p(5, 5)  # 2 of the 252 deals reach the observed |t|
    at = compare_sides(a, b, alpha=smallest)
    assert at.method is PERMUTATION and at.rows[0].p == pytest.approx(smallest) and at.beyond == ["m"]
    below = compare_sides(a, b, alpha=smallest * 0.99)
    assert below.method is TOO_FEW and below.rows[0].verdict == TOO_FEW.value and below.rows[0].p is None
    assert below.rows[0].interval is not None  # the numbers are still shown


@pytest.mark.parametrize("sizes", [(5, 5), (2, 3), (1, 3)])
def test_with_no_metric_to_test_the_rows_are_shown_and_nothing_is_tested(sizes):
    result = compare_sides(side({"m": [1.0] * sizes[0]}), side({"m": [1.0] * sizes[1]}))
    assert result.tested == [] and result.rows[0].verdict == "not tested: the same on every run"


def test_the_adjusted_p_of_each_test_on_more_seeds_than_metrics():
    a = np.array([[1.0, 10.0], [2.0, 12.0], [3.0, 11.0]])
    b = np.array([[4.0, 10.5], [5.0, 11.5], [7.0, 12.5], [6.0, 11.0]])
    welch = groups.holm([groups.welch_p(a[:, 0], b[:, 0]), groups.welch_p(a[:, 1], b[:, 1])])
    assert adjusted_p(WELCH, a, b) == pytest.approx(welch)
    run = b[:1]
    assert adjusted_p(PREDICTION, a, run) == pytest.approx(groups.holm(
        [groups.prediction_p(a[:, 0], 4.0), groups.prediction_p(a[:, 1], 10.5)]))
    assert adjusted_p(PREDICTION, run, a) == pytest.approx(adjusted_p(PREDICTION, a, run))
    with pytest.raises(ValueError, match="too few seeds: no test"):
        adjusted_p(TOO_FEW, a, b)


def test_rows_and_comparisons_cannot_be_changed_once_made():
    result = compare_sides(side({"m": [1.0, 2.0]}), side({"m": [3.0, 4.0]}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.rows[0].p = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.method = PERMUTATION
    assert isinstance(result.rows[0], Row)


def test_collapsed_runs_are_listed_per_side():
    a = {"0": {"m": 1.0, "active_units": 0}, "1": {"m": 2.0, "active_units": 5}}
    b = {"x": {"m": 1.5, "active_units": 5}, "y": {"m": 2.5, "active_units": 5, "posterior_collapse": True}}
    assert compare_sides(a, b).collapsed == {"A": ["0"], "B": ["y"]}
    assert compare_sides(b, a).collapsed == {"A": ["y"], "B": ["0"]}


def test_the_family_wise_false_alarm_rate_holds_on_simulated_seeds():
    """Two groups of 5 from one law with correlated metrics, 200 times: any metric flagged is a false alarm."""
    rng = np.random.default_rng(1)
    covariance = 0.6 * np.ones((6, 6)) + 0.4 * np.eye(6)
    alarms = 0
    for _ in range(200):
        draws = rng.multivariate_normal(np.zeros(6), covariance, size=10)
        a = side({f"m{j}": draws[:5, j] for j in range(6)})
        b = side({f"m{j}": draws[5:, j] for j in range(6)})
        alarms += bool(compare_sides(a, b).beyond)
    assert alarms / 200 <= 0.05 + 2 * (0.05 * 0.95 / 200) ** 0.5  # the nominal 5%, and sampling error


def test_two_seeds_a_side_get_the_welch_interval_and_the_seed_statistics():
    a = side({"test_mse": [0.0170, 0.0172]})
    b = side({"test_mse": [0.0180, 0.0183]})
    [row] = compare_sides(a, b, ["train.beta"]).rows
    assert row.interval is not None and row.interval[0] < row.difference < row.interval[1]
    assert row.sd_ratio == pytest.approx(1.5) and row.superiority == 1.0 and row.resolvable is not None


def test_beyond_lists_the_metrics_whose_verdict_is_yes_by_value():
    from studies.analysis.comparison import Comparison, Row
    rows = [Row("kl_nats", None, None, verdict="".join(["Y", "E", "S"])), Row("test_mse", None, None, verdict="no")]
    assert Comparison(WELCH, 0.05, ["kl_nats", "test_mse"], rows).beyond == ["kl_nats"]
