"""The cross-platform comparator: metrics within the seed spread pass, real moves and gaps fail."""

import json
import statistics

import pytest

from betavae.errors import BetaVAEError
from betavae.reproducibility import (SPREAD_FACTOR, comparable, compare, compare_exactly, flatten, format_table,
                                     order_free, robust_sd, seed_spread)


def metrics_files(mse, kl_per_dimension, active=7, accuracy=0.89):
    """Made-up metrics/eval.json and metrics/classifier.json contents."""
    return {"metrics/eval.json": {"test_mse": mse, "active_units": active,
                                  "kl_per_dimension": {f"z{d:02d}": v for d, v in enumerate(kl_per_dimension)}},
            "metrics/classifier.json": {"classifier_test_accuracy": accuracy}}


# Five seeds: test_mse sd 0.0005, accuracy sd 0.002, per-dimension KL spread around (2, 1, 0).
SEEDS = {str(seed): metrics_files(0.0175 + 0.0005 * d, [0.0, 1.0 + 0.1 * d, 2.0 + 0.1 * d], 7, 0.89 + 0.002 * d)
         for seed, d in enumerate([-1.5, -0.5, 0.0, 0.5, 1.5])}
COMMITTED = comparable(metrics_files(0.0176, [2.0, 0.0, 1.0]))


def verdicts(rows):
    return {row.metric: row.passed for row in rows}


def test_flatten_names_nested_metrics_as_dvc_does():
    assert flatten({"a": 1, "b": {"c": 2, "d": {"e": 3}}}) == {"a": 1, "b.c": 2, "b.d.e": 3}


def test_the_per_dimension_kl_is_compared_sorted_largest_first():
    ordered = order_free({"kl_per_dimension.z00": 0.1, "kl_per_dimension.z01": 3.0, "kl_per_dimension.z02": 1.0,
                          "test_mse": 0.02})
    assert ordered == {"test_mse": 0.02, "kl_per_dimension.sorted.00": 3.0, "kl_per_dimension.sorted.01": 1.0,
                       "kl_per_dimension.sorted.02": 0.1}


def test_the_spread_is_a_robust_standard_deviation_over_seeds():
    spread = seed_spread(SEEDS)
    assert spread["test_mse"] == pytest.approx(1.4826 * 0.0005 * 0.5)  # |offsets| 1.5, .5, 0, .5, 1.5: MAD .5
    assert spread["kl_per_dimension.sorted.02"] == 0.0


def test_one_collapsed_seed_does_not_widen_the_tolerance():
    values = [0.0176, 0.0179, 0.0176, 0.0179, 0.0873]  # the fifth: a run with no active units
    assert robust_sd(values) == pytest.approx(1.4826 * 0.0003)
    assert robust_sd(values) < statistics.stdev(values) / 50


def test_a_rerun_within_the_spread_passes():
    new = comparable(metrics_files(0.0176 + 0.001, [2.1, 0.005, 0.9], active=8, accuracy=0.891))
    rows = compare(COMMITTED, new, seed_spread(SEEDS))
    assert all(row.passed for row in rows), format_table(rows)


def test_a_move_beyond_the_spread_fails_and_says_by_how_much():
    new = comparable(metrics_files(0.0176 + 0.004, [2.0, 0.0, 1.0]))  # 0.004 > 4 sd = 0.0015
    rows = compare(COMMITTED, new, seed_spread(SEEDS))
    assert verdicts(rows) == {"test_mse": False, "active_units": True, "classifier_test_accuracy": True,
                              "kl_per_dimension.sorted.00": True, "kl_per_dimension.sorted.01": True,
                              "kl_per_dimension.sorted.02": True}
    mse = next(row for row in rows if row.metric == "test_mse")
    assert mse.difference == pytest.approx(0.004)
    assert mse.allowed == pytest.approx(SPREAD_FACTOR * seed_spread(SEEDS)["test_mse"])
    assert "| test_mse | 0.0176 | 0.0216 | 0.004 |" in format_table(rows)


def test_a_permuted_latent_order_passes():
    new = comparable(metrics_files(0.0176, [1.0, 2.0, 0.0]))  # same units, other dimensions
    assert all(row.passed for row in compare(COMMITTED, new, seed_spread(SEEDS)))


def test_the_same_values_in_another_order_fail_an_index_by_index_comparison():
    """Why sorting is needed: compared by index, the permutation above would fail."""
    committed = flatten(metrics_files(0.0176, [2.0, 0.0, 1.0])["metrics/eval.json"])
    new = flatten(metrics_files(0.0176, [1.0, 2.0, 0.0])["metrics/eval.json"])
    spread = {name: 0.01 for name in committed}
    assert not all(row.passed for row in compare(committed, new, spread))


def test_a_missing_metric_fails():
    new = comparable(metrics_files(0.0176, [2.0, 0.0, 1.0]))
    del new["classifier_test_accuracy"]
    rows = compare(COMMITTED, new, seed_spread(SEEDS))
    assert verdicts(rows)["classifier_test_accuracy"] is False
    assert "missing from the re-run" in format_table(rows)


def test_a_metric_without_a_measured_spread_fails():
    new = dict(COMMITTED, frechet=1.0)
    rows = compare(dict(COMMITTED, frechet=1.0), new, seed_spread(SEEDS))
    assert verdicts(rows)["frechet"] is False
    assert "no measured seed spread" in format_table(rows)


def test_integer_metrics_have_an_explicit_allowance():
    spread = seed_spread(SEEDS)  # active_units is 7 for every seed: sd 0, yet 7 -> 9 passes, 7 -> 10 fails
    assert verdicts(compare({"active_units": 7}, {"active_units": 9}, spread)) == {"active_units": True}
    assert verdicts(compare({"active_units": 7}, {"active_units": 10}, spread)) == {"active_units": False}


def test_the_same_metric_in_two_files_is_refused():
    with pytest.raises(BetaVAEError, match="test_mse"):
        comparable({"a.json": {"test_mse": 1.0}, "b.json": {"test_mse": 2.0}})


def test_the_committed_seed_spread_covers_every_committed_metric(params):
    """metrics/seed_spread.json has at least 5 seeds and a spread for each metric the pipeline commits."""
    from tests.conftest import REPO
    spread_file = json.loads((REPO / "metrics/seed_spread.json").read_text())
    assert len(spread_file["seeds"]) >= 5
    committed = comparable({path: json.loads((REPO / path).read_text())
                            for path in ("metrics/classifier.json", "metrics/eval.json")})
    rows = compare(committed, committed, seed_spread(spread_file["seeds"]))
    assert all(row.passed for row in rows), format_table(rows)
    numbers = [row for row in rows if row.note != "not a number"]
    assert all(row.allowed > 0 for row in numbers), format_table(rows)
    # the collapse flag is a yes or no: it must agree exactly, so a collapsed re-run fails
    assert {row.metric for row in rows} - {row.metric for row in numbers} == {"posterior_collapse"}
    collapsed = {row.metric: row for row in compare(committed, dict(committed, posterior_collapse=True),
                                                    seed_spread(spread_file["seeds"]))}
    assert not collapsed["posterior_collapse"].passed


def test_the_exact_comparison_allows_no_difference_at_all():
    rows = compare_exactly({"active_units": 7, "test_mse": 0.0176}, {"active_units": 8, "test_mse": 0.0176})
    assert verdicts(rows) == {"active_units": False, "test_mse": True}
    assert all(row.allowed == 0.0 for row in rows)
    assert verdicts(compare_exactly({"a": 1.0}, {})) == {"a": False}
