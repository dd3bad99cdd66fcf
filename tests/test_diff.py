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


# --- Groups as sides ---------------------------------------------------------------------------------------

import json as _json

from betavae.errors import BetaVAEError
from studies.diff import Side, _group_cells, changed_keys, group_side, load_side, parse_group_spec, summary_lines
from studies.analysis.comparison import compare_sides


def test_a_side_is_a_group_or_some_of_its_seeds():
    assert parse_group_spec("beta-5.5") == ("beta-5.5", None)
    assert parse_group_spec("committed:0-4") == ("committed", ["0", "1", "2", "3", "4"])
    assert parse_group_spec("committed:0,2,7-8") == ("committed", ["0", "2", "7", "8"])
    for bad in ("committed:a", "committed:1-b", "committed:-3"):
        with pytest.raises(BetaVAEError, match="NAME:0-4"):
            parse_group_spec(bad)


def test_the_changed_keys_are_the_settings_the_two_sides_give_differently():
    def side(*settings):
        return Side("s", "s", {}, {}, tuple(settings), None)
    assert changed_keys(side(), side("train.beta=5.5")) == ["train.beta"]
    assert changed_keys(side("train.beta=5.5", "train.lr=0.002"), side("train.beta=5.5")) == ["train.lr"]
    assert changed_keys(side("train.beta=6"), side("train.beta=7")) == ["train.beta"]
    assert changed_keys(side("train.beta=6"), side("train.beta=6")) == []


def group_record(seeds, mse, platform=None, settings=()):
    cells = {str(seed): {"files": {"metrics/eval.json": {"test_mse": value, "kl_nats": 6.0 + value,
                                                          "posterior_collapse": False},
                                   "metrics/classifier.json": {"classifier_test_accuracy": 0.9}},
                         "platform": platform or {"cpu_model": "x"}}
             for seed, value in zip(seeds, mse)}
    return {"group": "g", "settings": list(settings), "cells": cells, "platform": platform or {"cpu_model": "x"},
            "inputs": INPUTS, "command": "python -m studies.seed_group --seeds 0", "commit": "abc"}


INPUTS = {"train": {"deps": {"betavae/training.py": "0" * 32}, "params": {}}}


def test_a_group_side_reads_its_cells_or_the_seeds_asked_for(tmp_path, monkeypatch):
    import studies.diff as diff
    (tmp_path / "metrics" / "groups").mkdir(parents=True)
    (tmp_path / "metrics" / "groups" / "g.json").write_text(_json.dumps(group_record(range(5), [0.1] * 5)))
    monkeypatch.setattr(diff, "committed_inputs", lambda repo: INPUTS)
    whole = group_side(tmp_path, "g")
    assert list(whole.runs) == ["0", "1", "2", "3", "4"] and whole.warning is None
    some = load_side(tmp_path, "g:1-2")
    assert list(some.runs) == ["1", "2"] and some.spec == "g:1-2"
    monkeypatch.setattr(diff, "committed_inputs", lambda repo: {"train": {"deps": {}, "params": {}}})
    assert "measured on other inputs" in group_side(tmp_path, "g").warning  # a group of older code says so
    with pytest.raises(BetaVAEError, match="group g has no cell of seed 5, 6, 7"):
        load_side(tmp_path, "g:4-7")


def test_the_group_table_shows_both_sides_the_interval_and_what_the_seeds_resolve():
    a = {str(i): {"test_mse": 0.017 + 1e-4 * ((i * 7) % 5 - 2) / 2, "x": 1.0} for i in range(10)}
    b = {str(i): {"test_mse": 0.0175 + 1e-4 * ((i * 3) % 5 - 2) / 2, "x": 1.0} for i in range(5)}
    result = compare_sides(a, b, ["train.beta"])
    cells = {row.metric: _group_cells(row) for row in result.rows}
    assert cells["test_mse"][-3] == "YES" and cells["test_mse"][3].startswith("+0.0005 [")
    assert cells["x"][-3] == "not tested: the same on every run"
    side = Side("s", "s", a, {}, (), None)
    lines = summary_lines(result, side, Side("t", "t", b, {}, (), None))
    assert lines[0] == "Beyond the seed noise: test_mse." and "Not tested: x (the same on every run)." in lines
