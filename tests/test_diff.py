"""The seed-aware diff: any two runs judged by the check's own rule, with the seed noise beside each metric."""

import random

import pytest

from studies.analysis.reproducibility import comparable, judge, seed_spread
from studies.diff import format_rows, rows, seed_aware_diff

RNG = random.Random(0)


def files(mse, kl=6.3, per_unit=(1.9, 1.8, 0.7, 0.6)):
    return {"metrics/eval.json": {"test_mse": mse, "kl_nats": kl, "active_units": 7, "posterior_collapse": False,
                                  "kl_largest_units": {"1": per_unit[0], "2": per_unit[0] + per_unit[1]}}}


SEEDS = {str(seed): files(0.017 + RNG.gauss(0, 1e-4), 6.3 + RNG.gauss(0, 0.03),
                          (1.9 + RNG.gauss(0, 0.05), 1.8 + RNG.gauss(0, 0.05)))
         for seed in range(10)}


def test_two_seeds_of_the_spread_are_judged_without_themselves_and_pass():
    verdict, spread = seed_aware_diff(SEEDS["0"], SEEDS["1"], SEEDS)
    assert verdict.passed
    assert set(spread.seeds) == {str(seed) for seed in range(2, 10)}  # both runs left out of their own noise
    expected = judge(comparable(SEEDS["0"]), comparable(SEEDS["1"]), seed_spread(SEEDS, leave_out=("0", "1")))
    assert verdict == expected  # one rule, one code path with the check


def test_a_change_beyond_the_noise_is_named_and_the_rest_pass():
    other = files(0.019, 6.3)  # test MSE 20 seed sd away; the KL as the seeds' mean
    verdict, spread = seed_aware_diff(SEEDS["0"], other, SEEDS)
    assert not verdict.passed and "test_mse" in verdict.reason
    table = {cells[0]: cells for cells in rows(verdict, spread.sd)}
    assert table["test_mse"][-1] == "YES" and table["kl_nats"][-1] == "no"
    assert float(table["test_mse"][4]) == pytest.approx((0.019 - SEEDS["0"]["metrics/eval.json"]["test_mse"])
                                                        / spread.sd["test_mse"], rel=1e-2)
    assert float(table["test_mse"][5]) == pytest.approx(spread.tolerance("test_mse", len(spread.sd)), rel=1e-2)


def test_the_diff_compares_no_unit_by_its_index():
    verdict, _ = seed_aware_diff(SEEDS["0"], SEEDS["1"], SEEDS)
    assert {row.metric for row in verdict.rows} >= {"kl_largest_units.1", "kl_largest_units.2"}
    assert not any("kl_per_dimension" in row.metric for row in verdict.rows)


def test_plain_text_lines_up_and_markdown_is_a_table():
    verdict, spread = seed_aware_diff(SEEDS["0"], files(0.019), SEEDS)
    plain = format_rows(rows(verdict, spread.sd), markdown=False).splitlines()
    assert plain[0].split() == ["metric", "A", "B", "B", "-", "A", "in", "seed", "sd", "tolerance", "beyond", "seed",
                                "noise"]
    assert len({line.index(line.split()[1]) for line in plain[1:]}) == 1  # the A column starts at one place
    markdown = format_rows(rows(verdict, spread.sd), markdown=True).splitlines()
    assert markdown[1] == "|---|---|---|---|---|---|---|" and all(line.startswith("| ") for line in markdown[2:])
