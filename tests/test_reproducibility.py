"""The cross-platform comparator: a family-wise t test against the seed spread, its error rate on made-up
normal data, collapse as its own verdict, and the committed spread's provenance."""

import dataclasses
import json
import math
import random

import pytest
import torch
import yaml

from betavae import evaluation
from betavae.errors import BetaVAEError
from betavae.evaluation import kl_of_largest_units
from studies.analysis import reproducibility
from studies.analysis.experiments import stage_inputs
from studies.analysis.reproducibility import (FAMILY_WISE_ALPHA, comparable, compare, compare_exactly, critical_t,
                                              flatten, format_table, is_collapsed, judge, judge_against_spread,
                                              order_free, prediction_tolerance, seed_spread)
from tests.conftest import REPO


def metrics_files(mse, kl_per_dimension, active=7, accuracy=0.89, collapsed=False):
    """Made-up metrics/eval.json and metrics/classifier.json contents."""
    return {"metrics/eval.json": {"test_mse": mse, "active_units": active, "posterior_collapse": collapsed,
                                  "kl_per_dimension": {f"z{d:02d}": v for d, v in enumerate(kl_per_dimension)}},
            "metrics/classifier.json": {"classifier_test_accuracy": accuracy}}


# Five seeds: test_mse sd 0.0005 (offsets -1.5 .. 1.5, sample sd 1.0607 x 0.0005), per-dimension KL around (2, 1, 0).
OFFSETS = [-1.5, -0.5, 0.0, 0.5, 1.5]
SEEDS = {str(seed): metrics_files(0.0175 + 0.0005 * d, [0.0, 1.0 + 0.1 * d, 2.0 + 0.1 * d], 7, 0.89 + 0.002 * d)
         for seed, d in enumerate(OFFSETS)}
COMMITTED = comparable(metrics_files(0.0176, [2.0, 0.0, 1.0]))
MSE_SD = 0.0005 * math.sqrt(sum(d * d for d in OFFSETS) / 4)


def verdicts(rows):
    return {row.metric: row.passed for row in rows}


def test_flatten_names_nested_metrics_as_dvc_does():
    assert flatten({"a": 1, "b": {"c": 2, "d": {"e": 3}}}) == {"a": 1, "b.c": 2, "b.d.e": 3}


def test_the_per_dimension_kl_is_compared_as_the_kl_of_the_largest_units():
    ordered = order_free({"kl_per_dimension.z00": 0.1, "kl_per_dimension.z01": 3.0, "kl_per_dimension.z02": 1.0,
                          "test_mse": 0.02})
    assert ordered == {"test_mse": 0.02, "kl_largest_units.1": 3.0, "kl_largest_units.2": 4.0}


def test_as_many_largest_units_are_derived_as_evaluate_reports():
    assert reproducibility.KL_LARGEST_UNITS == evaluation.KL_LARGEST_UNITS


def test_a_record_with_the_kl_by_unit_index_compares_as_one_with_the_largest_units():
    """Records made before evaluate reported kl_largest_units (the committed sweep, the proof) still compare."""
    per_unit = [0.0014, 0.6478, 0.7080, 1.8859, 0.6942, 0.4739, 0.0416, 0.0023, 1.8421, 0.00006]
    old = comparable({"metrics/eval.json": {"kl_per_dimension": {f"z{d:02d}": v for d, v in enumerate(per_unit)}}})
    new = comparable({"metrics/eval.json": {"kl_largest_units": kl_of_largest_units(torch.tensor(per_unit))}})
    assert old.keys() == new.keys() == {"kl_largest_units.1", "kl_largest_units.2"}
    assert old == pytest.approx(new)


def test_two_units_swapping_ranks_move_the_largest_units_kl_only_by_their_difference():
    """Sorted per-unit values jump by the gap between two units when they swap; the sums do not."""
    before = order_free({"kl_per_dimension.z00": 1.00, "kl_per_dimension.z01": 0.90, "kl_per_dimension.z02": 0.5})
    after = order_free({"kl_per_dimension.z00": 0.94, "kl_per_dimension.z01": 0.96, "kl_per_dimension.z02": 0.5})
    assert after["kl_largest_units.1"] - before["kl_largest_units.1"] == pytest.approx(-0.04)
    assert after["kl_largest_units.2"] == pytest.approx(before["kl_largest_units.2"])


def test_the_spread_is_the_sample_standard_deviation_over_healthy_seeds():
    spread = seed_spread(SEEDS)
    assert spread.sd["test_mse"] == pytest.approx(MSE_SD)
    assert spread.seeds == ("0", "1", "2", "3", "4") and spread.collapsed == ()
    assert "posterior_collapse" not in spread.sd  # a yes or no has no spread: it must agree exactly


def test_a_collapsed_seed_is_reported_but_sets_no_tolerance():
    seeds = dict(SEEDS, **{"5": metrics_files(0.087, [0.0, 0.0, 0.0], active=0, collapsed=True)})
    spread = seed_spread(seeds)
    assert spread.collapsed == ("5",)
    assert spread.sd["test_mse"] == pytest.approx(MSE_SD)


def test_left_out_seeds_set_nothing_and_three_healthy_seeds_are_needed():
    spread = seed_spread(SEEDS, leave_out=("0", "4"))
    assert spread.seeds == ("1", "2", "3")
    assert spread.sd["test_mse"] == pytest.approx(0.0005 * 0.5)
    with pytest.raises(BetaVAEError, match="at least 3 healthy seeds, got 2"):
        seed_spread(SEEDS, leave_out=("0", "1", "2"))


def test_the_tolerance_is_the_bonferroni_t_quantile_times_root_two_sd():
    spread = seed_spread(SEEDS)
    rows = compare(COMMITTED, COMMITTED, spread)
    tested = sum(1 for row in rows if row.note != "not a number")
    assert tested == 5  # test_mse, active_units, accuracy, kl_largest_units.1 and .2
    t_999_4 = 7.1731822  # Student's t quantile 0.999 = 1 - 0.01 / (2 * 5), 4 degrees of freedom (printed tables)
    assert critical_t(5, tested) == pytest.approx(t_999_4, abs=1e-7)
    assert next(row for row in rows if row.metric == "test_mse").allowed == pytest.approx(t_999_4 * math.sqrt(2) * MSE_SD)


def test_the_critical_t_has_the_closed_forms_of_one_and_two_degrees_of_freedom():
    p = 1 - FAMILY_WISE_ALPHA / (2 * 3)
    assert critical_t(2, 3) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    assert critical_t(3, 3) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


def test_a_rerun_within_the_spread_passes():
    new = comparable(metrics_files(0.0176 + 0.002, [2.1, 0.005, 0.9], active=8, accuracy=0.891))
    verdict = judge(COMMITTED, new, seed_spread(SEEDS))
    assert verdict.passed, format_table(verdict.rows)


def test_a_move_beyond_the_spread_fails_and_says_by_how_much():
    new = comparable(metrics_files(0.0176 + 0.008, [2.0, 0.0, 1.0]))  # tolerance 7.17 x 1.41 x 0.00053 = 0.0054
    verdict = judge(COMMITTED, new, seed_spread(SEEDS))
    assert not verdict.passed and not verdict.collapsed
    assert verdict.reason == "1 of 6 metrics beyond their tolerance: test_mse"
    mse = next(row for row in verdict.rows if row.metric == "test_mse")
    assert mse.difference == pytest.approx(0.008)
    assert "| test_mse | 0.0176 | 0.0256 | 0.008 |" in format_table(verdict.rows)


def test_a_collapsed_rerun_fails_as_a_collapse_not_as_drifted_metrics():
    new = comparable(metrics_files(0.087, [0.0, 0.0, 0.0], active=0, collapsed=True))
    verdict = judge(COMMITTED, new, seed_spread(SEEDS))
    assert not verdict.passed and verdict.collapsed
    assert verdict.reason == "training collapsed: 0 active latent units"


def test_a_permuted_latent_order_passes():
    new = comparable(metrics_files(0.0176, [1.0, 2.0, 0.0]))  # same units, other dimensions
    assert judge(COMMITTED, new, seed_spread(SEEDS)).passed


def test_a_missing_metric_fails():
    new = comparable(metrics_files(0.0176, [2.0, 0.0, 1.0]))
    del new["classifier_test_accuracy"]
    rows = compare(COMMITTED, new, seed_spread(SEEDS))
    assert verdicts(rows)["classifier_test_accuracy"] is False
    assert "missing from the re-run" in format_table(rows)


def test_a_metric_without_a_measured_spread_fails():
    rows = compare(dict(COMMITTED, frechet=1.0), dict(COMMITTED, frechet=1.0), seed_spread(SEEDS))
    assert verdicts(rows)["frechet"] is False
    assert "no measured seed spread" in format_table(rows)


def test_counts_may_always_move_by_one():
    spread = seed_spread(SEEDS)  # active_units is 7 for every seed: sd 0, yet 7 -> 8 passes, 7 -> 9 fails
    assert verdicts(compare({"active_units": 7}, {"active_units": 8}, spread)) == {"active_units": True}
    assert verdicts(compare({"active_units": 7}, {"active_units": 9}, spread)) == {"active_units": False}


def test_the_same_metric_in_two_files_is_refused():
    with pytest.raises(BetaVAEError, match="test_mse"):
        comparable({"a.json": {"test_mse": 1.0}, "b.json": {"test_mse": 2.0}})


def test_of_several_metrics_in_two_files_the_first_by_name_is_named():
    with pytest.raises(BetaVAEError, match=r"^metric kl_nats appears in b\.json and in another metrics file$"):
        comparable({"a.json": {"test_mse": 1.0, "kl_nats": 2.0}, "b.json": {"test_mse": 2.0, "kl_nats": 3.0}})


def test_every_metric_of_either_side_counts_in_the_bonferroni_correction():
    """A metric the re-run lacks still counts among the m tested: the others' tolerances use m, not m − 1."""
    spread = seed_spread(SEEDS)
    tested = sum(1 for metric in COMMITTED if metric in spread.sd)
    new = {metric: value for metric, value in COMMITTED.items() if metric != "classifier_test_accuracy"}
    [row] = [row for row in compare(COMMITTED, new, spread) if row.metric == "test_mse"]
    assert row.allowed == spread.tolerance("test_mse", tested) != spread.tolerance("test_mse", tested - 1)


def test_a_metric_only_the_rerun_has_fails():
    rows = compare(COMMITTED, dict(COMMITTED, frechet=1.0), seed_spread(SEEDS))
    assert verdicts(rows)["frechet"] is False
    assert "not in the committed results" in format_table(rows)


def test_metrics_that_are_not_numbers_must_be_equal():
    """Values as read from JSON files: equal strings are other objects, so equality is by value."""
    committed, same, other, lower = (json.loads(text) for text in ('{"device": "cpu"}', '{"device": "cpu"}',
                                                                   '{"device": "cuda"}', '{"device": "bf16"}'))
    spread = seed_spread(SEEDS)
    assert verdicts(compare(committed, same, spread)) == {"device": True}
    assert verdicts(compare(committed, other, spread)) == {"device": False}
    assert verdicts(compare(committed, lower, spread)) == {"device": False}
    assert [row.allowed for row in compare(committed, other, spread)] == [0.0]  # no allowance for a text


def test_a_number_against_a_text_fails_as_not_a_number():
    rows = compare({"test_mse": 0.0176}, {"test_mse": "n/a"}, seed_spread(SEEDS))
    assert verdicts(rows) == {"test_mse": False}
    assert "not a number" in format_table(rows)


def test_the_exact_comparison_fails_a_value_either_side_and_passes_equal_values_read_apart():
    assert [row.passed for row in compare_exactly({"x": 1.0, "y": 0.5}, {"x": 0.5, "y": 1.0})] == [False, False]
    committed, new = json.loads('{"x": 0.123456789, "y": 1e300}'), json.loads('{"x": 0.123456789, "y": 1e300}')
    assert [row.passed for row in compare_exactly(committed, new)] == [True, True]


def test_the_table_says_pass_or_fail_per_metric():
    rows = compare({"test_mse": 0.0176, "kl": 1.0}, {"test_mse": 0.0176}, seed_spread(SEEDS))
    lines = format_table(rows).splitlines()[2:]
    assert lines[0].startswith("| kl |") and lines[0].endswith("| FAIL (missing from the re-run) |")
    assert lines[1].startswith("| test_mse |") and lines[1].endswith("| pass |")


def test_a_record_with_the_kl_of_one_unit_compares_that_units_kl():
    assert order_free({"kl_per_dimension.z00": 3.0, "test_mse": 0.1}) == {"test_mse": 0.1, "kl_largest_units.1": 3.0}


def test_a_comparisons_difference_is_new_minus_committed():
    spread = seed_spread(SEEDS)
    [row] = compare({"test_mse": 1.5}, {"test_mse": 0.25}, spread)
    assert row.difference == -1.25
    [row] = compare({"device": "cpu"}, {"device": "cuda"}, spread)
    assert row.difference is None


def test_a_run_is_collapsed_by_its_flag_or_by_no_active_unit():
    assert is_collapsed({"posterior_collapse": True, "active_units": 3})
    assert is_collapsed({"posterior_collapse": False, "active_units": 0}) and is_collapsed({"active_units": 0})
    assert not is_collapsed({"posterior_collapse": False, "active_units": 1}) and not is_collapsed({})


def test_the_error_for_too_few_seeds_counts_the_collapsed_only_when_there_are_some():
    two = {seed: SEEDS[seed] for seed in ("0", "1")}
    with pytest.raises(BetaVAEError, match=r"^a seed spread needs at least 3 healthy seeds, got 2$"):
        seed_spread(two)
    collapsed = dict(two, c=metrics_files(0.05, [0.0, 0.0, 0.0], active=0, collapsed=True))
    with pytest.raises(BetaVAEError, match=r"^a seed spread needs at least 3 healthy seeds, got 2 \(1 collapsed\)$"):
        seed_spread(collapsed)


def test_comparisons_spreads_and_verdicts_cannot_be_changed_once_made():
    spread = seed_spread(SEEDS)
    verdict = judge(COMMITTED, COMMITTED, spread)
    for record, field in ((verdict, "passed"), (verdict.rows[0], "passed"), (spread, "sd")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, field, None)


def normal_trials(trials, seeds, metrics, alpha, rng):
    """The share of made-up healthy pairs judge fails: every metric normal with its own sd, independent."""
    sds = [10.0 ** rng.uniform(-4, 2) for _ in range(metrics)]

    def draw():
        return {"metrics/eval.json": {f"m{i}": rng.gauss(1.0, sd) for i, sd in enumerate(sds)}}
    failed = 0
    for _ in range(trials):
        spread = seed_spread({str(seed): draw() for seed in range(seeds)})
        failed += not judge(comparable(draw()), comparable(draw()), spread, alpha).passed
    return failed / trials


@pytest.mark.parametrize("seeds, metrics, alpha, trials", [(10, 12, 0.1, 4000), (4, 5, 0.2, 4000),
                                                           (8, 12, 0.01, 12000)])
def test_on_normal_data_the_false_alarm_rate_is_the_designed_one(seeds, metrics, alpha, trials):
    """Independent normal metrics: the family-wise rate is exactly 1 - (1 - alpha/m)^m, just under alpha."""
    rate = normal_trials(trials, seeds, metrics, alpha, random.Random(seeds * 1000 + metrics))
    design = 1 - (1 - alpha / metrics) ** metrics
    assert abs(rate - design) < 4 * math.sqrt(design * (1 - design) / trials), (rate, design)


def test_on_normal_data_a_shift_of_many_sds_is_caught():
    rng = random.Random(3)
    spread = seed_spread({str(s): {"f": {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}} for s in range(10)})
    shifted = [judge({"f.a": rng.gauss(0, 1), "f.b": rng.gauss(0, 1)},
                     {"f.a": rng.gauss(12, 1), "f.b": rng.gauss(0, 1)}, spread).passed for _ in range(200)]
    assert sum(shifted) <= 2


def committed_files():
    return {path: json.loads((REPO / path).read_text()) for path in ("metrics/classifier.json", "metrics/eval.json")}


def test_the_committed_seed_spread_has_ten_healthy_seeds_and_covers_every_committed_metric():
    spread_file = json.loads((REPO / "metrics/seed_spread.json").read_text())
    spread = seed_spread(spread_file["seeds"])
    assert len(spread.seeds) >= 10
    committed = comparable(committed_files())
    rows = compare(committed, committed, spread)
    assert all(row.passed for row in rows), format_table(rows)
    numbers = [row for row in rows if row.note != "not a number"]
    assert all(row.allowed > 0 for row in numbers), format_table(rows)
    assert {row.metric for row in rows} - {row.metric for row in numbers} == {"posterior_collapse"}


def test_the_committed_seed_spread_was_measured_on_the_committed_train_and_evaluate():
    """What studies/check_repro.py requires before it uses the spread: the same code and params, seeds aside."""
    spread_file = json.loads((REPO / "metrics/seed_spread.json").read_text())
    committed = stage_inputs(yaml.safe_load((REPO / "dvc.lock").read_text()))
    assert spread_file["inputs"] == json.loads(json.dumps(committed))


def test_the_exact_comparison_allows_no_difference_at_all():
    rows = compare_exactly({"active_units": 7, "test_mse": 0.0176}, {"active_units": 8, "test_mse": 0.0176})
    assert verdicts(rows) == {"active_units": False, "test_mse": True}
    assert all(row.allowed == 0.0 for row in rows)
    assert verdicts(compare_exactly({"a": 1.0}, {})) == {"a": False}


def prediction_trials(trials, seeds, metrics, alpha, rng):
    """The share of made-up healthy re-runs judge_against_spread fails (each a fresh draw of the seeds' law)."""
    sds = [10.0 ** rng.uniform(-4, 2) for _ in range(metrics)]

    def draw():
        return {"metrics/eval.json": {f"m{i}": rng.gauss(1.0, sd) for i, sd in enumerate(sds)}}
    failed = 0
    for _ in range(trials):
        spread = seed_spread({str(seed): draw() for seed in range(seeds)})
        failed += not judge_against_spread(comparable(draw()), spread, alpha).passed
    return failed / trials


@pytest.mark.parametrize("seeds, metrics, alpha, trials", [(10, 12, 0.1, 4000), (5, 5, 0.2, 4000)])
def test_against_the_seeds_law_the_false_alarm_rate_is_the_designed_one(seeds, metrics, alpha, trials):
    rate = prediction_trials(trials, seeds, metrics, alpha, random.Random(seeds * 7 + metrics))
    design = 1 - (1 - alpha / metrics) ** metrics
    assert abs(rate - design) < 4 * math.sqrt(design * (1 - design) / trials), (rate, design)


def test_the_prediction_tolerance_is_the_bonferroni_t_times_sd_times_root_of_one_plus_one_over_n():
    rng = random.Random(5)
    spread = seed_spread({str(s): {"f": {"a": rng.gauss(0, 1), "n": 7}} for s in range(10)})
    t = critical_t(10, 1, FAMILY_WISE_ALPHA)
    assert prediction_tolerance(spread, "a", 1) == pytest.approx(t * math.sqrt(1.1) * spread.sd["a"])
    assert prediction_tolerance(spread, "a", 1) < spread.tolerance("a", 1)  # tighter than √2
    verdict = judge_against_spread({"a": spread.mean["a"] + 0.99 * prediction_tolerance(spread, "a", 1),
                                    "n": 7}, spread)
    assert verdict.passed
    moved = judge_against_spread({"a": spread.mean["a"] + 1.01 * prediction_tolerance(spread, "a", 2),
                                  "n": 7}, spread)
    assert not moved.passed and "a" in moved.reason
    assert not judge_against_spread({"a": 0.0, "n": 7, "active_units": 0}, spread).passed


def test_only_the_flag_true_marks_a_collapse_not_a_count_of_one():
    """evaluate writes the flag as a JSON boolean; a 1 there is not it (active units say collapse otherwise)."""
    assert is_collapsed({"posterior_collapse": True, "active_units": 5})
    assert not is_collapsed({"posterior_collapse": 1, "active_units": 5})
    assert is_collapsed({"posterior_collapse": False, "active_units": 0})


def test_against_the_seeds_law_counts_move_by_one_and_missing_unmeasured_or_odd_metrics_fail():
    spread = seed_spread(SEEDS)  # active_units is 7 for every seed: sd 0
    assert judge_against_spread({"active_units": 8}, spread).rows[0].passed
    assert not judge_against_spread({"active_units": 9}, spread).rows[0].passed
    new = comparable(metrics_files(0.0176, [2.0, 0.0, 1.0]))
    del new["classifier_test_accuracy"]
    rows = {row.metric: row for row in judge_against_spread(dict(new, frechet=1.0, test_mse="n/a"), spread).rows}
    assert (rows["classifier_test_accuracy"].passed, rows["classifier_test_accuracy"].note) == (
        False, "missing from the re-run")
    assert (rows["frechet"].passed, rows["frechet"].note) == (False, "no measured seed spread")
    assert (rows["test_mse"].passed, rows["test_mse"].note) == (False, "not a number")
    collapsed = judge_against_spread(comparable(metrics_files(0.087, [0.0, 0.0, 0.0], active=0, collapsed=True)),
                                     spread)
    assert (collapsed.passed, collapsed.collapsed) == (False, True)
