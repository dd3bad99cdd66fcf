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


@pytest.mark.parametrize("sizes, method", [((5, 5), PERMUTATION), ((10, 5), PERMUTATION), ((4, 5), WELCH),
                                           ((2, 2), WELCH), ((1, 4), PREDICTION), ((3, 1), PREDICTION),
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
    assert result.method == TOO_FEW and result.rows[0].verdict == TOO_FEW and result.beyond == []


def test_one_run_against_a_group_gets_a_prediction_interval():
    group = side({"test_mse": [0.0170, 0.0171, 0.0169, 0.0170, 0.0172]})
    far, near = side({"test_mse": [0.0180]}), side({"test_mse": [0.01705]})
    assert compare_sides(group, far).beyond == ["test_mse"]
    row = compare_sides(group, near).rows[0]
    assert row.verdict == "no" and row.interval[0] < row.difference < row.interval[1]


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
