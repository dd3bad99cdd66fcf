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
    assert parse_group_spec("committed:3,1-3") == ("committed", ["3", "1", "2"])
    for bad in ("committed:a", "committed:1-b", "committed:-3", "committed:5-4"):
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


# --- The command line, over a repository of its own --------------------------------------------------------

import subprocess as _subprocess

import yaml as _yaml

import studies.diff as _diff

PLATFORM = {"cpu_model": "AMD EPYC", "cpu_family": "family 25, model 1", "instruction_set": "AVX2",
            "precision": "fp32", "threads": 2}
DVC_YAML = {"stages": {"classifier": {"cmd": "c", "metrics": [{"metrics/classifier.json": {"cache": False}}]},
                       "train": {"cmd": "t", "metrics": [{"metrics/platform.json": {"cache": False}}]},
                       "evaluate": {"cmd": "e", "metrics": [{"metrics/eval.json": {"cache": False}}]}}}


def _write(root, path, content):
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(content if isinstance(content, str) else _json.dumps(content))


def _git(root, *args):
    _subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                    capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A committed run at train.beta 5 (test MSE 0.017, seed 0 of the spread), its seed spread, and a git
    history; the diff reads this folder as its repository."""
    _write(tmp_path, "dvc.yaml", _yaml.safe_dump(DVC_YAML))
    _write(tmp_path, "params.yaml", _yaml.safe_dump({"train": {"beta": 5, "seed": 0}}))
    _write(tmp_path, "metrics/eval.json", SEEDS["0"]["metrics/eval.json"])
    _write(tmp_path, "metrics/classifier.json", {"classifier_test_accuracy": 0.9})
    _write(tmp_path, "metrics/platform.json", PLATFORM)
    _write(tmp_path, "metrics/seed_spread.json", {"seeds": {
        seed: {**files, "metrics/classifier.json": {"classifier_test_accuracy": 0.9 + int(seed) / 1000}}
        for seed, files in SEEDS.items()}})
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "committed run")
    monkeypatch.setattr(_diff, "REPO", tmp_path)
    monkeypatch.setattr(_diff, "GROUPS", tmp_path / "metrics" / "groups")
    monkeypatch.setattr(_diff, "committed_inputs", lambda root: INPUTS)
    monkeypatch.setattr(_diff, "read_experiment_json",
                        lambda root, path, rev: _json.loads(_diff.git_show(root, f"{rev}:{path}")))
    return tmp_path


def _group(root, name, seeds, mse, settings=(), platform=PLATFORM):
    _write(root, f"metrics/groups/{name}.json", group_record(seeds, mse, platform, settings))


def _main(capsys, *argv):
    assert _diff.main(list(argv)) == 0
    return capsys.readouterr().out


def test_one_run_against_one_run_reads_the_commit_and_the_workspace(repo, capsys):
    _write(repo, "metrics/eval.json", files(0.019)["metrics/eval.json"])  # 20 seed sd above the committed run
    out = _main(capsys, "HEAD", "workspace")
    assert out.startswith("A = HEAD, B = workspace; seed noise from metrics/seed_spread.json (9 healthy seeds at "
                          "the committed params), judged as `make check-repro` judges:\n\nmetric ")
    table = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line and line[0].isalpha()}
    committed_mse = SEEDS["0"]["metrics/eval.json"]["test_mse"]
    assert table["test_mse"][1:3] == [f"{committed_mse:.5g}", "0.019"] and table["test_mse"][-1] == "YES"
    assert table["kl_nats"][-1] == "no" and table["active_units"][1:3] == ["7", "7"]
    assert "\nBeyond the seed noise: test_mse.\nOne run a side resolves only large differences" in out
    _write(repo, "metrics/eval.json", SEEDS["1"]["metrics/eval.json"])
    assert "\nNo difference beyond the seed noise: seeds alone could make these two runs.\n" in _main(
        capsys, "HEAD", "workspace")


def test_a_group_against_a_run_names_the_runs_settings_and_platform(repo, capsys):
    _group(repo, "g", range(5), [0.0170, 0.0171, 0.0169, 0.0172, 0.0170])
    _write(repo, "params.yaml", _yaml.safe_dump({"train": {"beta": 5.5, "seed": 3}}))  # the seed is no setting
    out = _main(capsys, "g", "workspace")
    assert out.startswith("A = group g (the committed params): 5 seeds (0, 1, 2, 3, 4), AMD EPYC (family 25, "
                          "model 1; AVX2, fp32, 2 threads)\nB = run workspace (train.beta=5.5), AMD EPYC (family 25,"
                          " model 1; AVX2, fp32, 2 threads)\nTest: one run against the group's prediction interval,"
                          " Holm; 2 metrics tested together at a family-wise α = 0.05.\n")
    (repo / "metrics" / "platform.json").unlink()  # a run that did not record its platform
    assert "B = run workspace (train.beta=5.5)\n" in _main(capsys, "g", "workspace")


def test_a_group_of_settings_against_a_group_of_other_settings(repo, capsys):
    _group(repo, "g", range(5), [0.0170, 0.0171, 0.0169, 0.0172, 0.0170], ["train.lr=0.002"])
    _group(repo, "h", range(5), [0.0180, 0.0181, 0.0179, 0.0182, 0.0180], ["train.beta=5.5"],
           dict(PLATFORM, instruction_set="AVX512-BF16", precision="bf16"))
    lines = _main(capsys, "g", "h", "--md").splitlines()
    assert lines[0] == ("A = group g (train.lr=0.002): 5 seeds (0, 1, 2, 3, 4), AMD EPYC (family 25, model 1; AVX2,"
                        " fp32, 2 threads)")
    assert lines[2].startswith("warning: the sides ran on different platform classes (instruction_set: 'AVX2' -> "
                               "'AVX512-BF16'; precision: 'fp32' -> 'bf16'): every difference includes the platform's")
    assert lines[3] == "Test: permutation max-t; 2 metrics tested together at a family-wise α = 0.05."
    assert lines[5] == "| " + " | ".join(_diff.GROUP_HEADER) + " |"
    rows_ = {line.split(" | ")[0][2:]: line[2:-2].split(" | ") for line in lines[7:] if line.startswith("| ")}
    assert rows_["posterior_collapse"] == ["posterior_collapse"] + ["-"] * 7 + ["not tested: not a number", "-", "-"]
    assert rows_["test_mse"][1:3] == ["0.01704 ± 0.00011", "0.01804 ± 0.00011"]
    assert rows_["test_mse"][8] == "YES"
    assert rows_["classifier_test_accuracy"][8] == "not tested: the same on every run"
    assert "Beyond the seed noise: kl_nats, test_mse." in "\n".join(lines)
    assert ("Not tested: classifier_test_accuracy (the same on every run), posterior_collapse (not a number)."
            in "\n".join(lines))


def test_too_few_seeds_and_a_collapsed_run_are_said_under_the_table(repo, capsys):
    _group(repo, "g", range(2), [0.0170, 0.0171])
    record = group_record(range(2), [0.0180, 0.0181])
    record["cells"]["1"]["files"]["metrics/eval.json"]["posterior_collapse"] = True
    _write(repo, "metrics/groups/h.json", record)
    out = _main(capsys, "g", "h", "--alpha", "0.001")
    assert "Test: Welch t, Holm; 2 metrics tested together at a family-wise α = 0.001.\n" in out
    assert "\nCollapsed on side B: 1.\n" in out
    _group(repo, "h", range(1), [0.0180])
    _group(repo, "g", range(2), [0.0170, 0.0171])
    out = _main(capsys, "g", "h")
    assert "\nToo few seeds to say anything (2 and 1): run more with `make group`.\n" in out


def test_the_committed_group_of_ten_seeds_stands_in_for_the_committed_params_one_run(repo, capsys):
    _group(repo, "h", range(5), [0.0180] * 5)
    _group(repo, "committed", range(_diff.COMMITTED_GROUP_SEEDS), [0.0170 + i * 1e-5 for i in range(10)])
    out = _main(capsys, "HEAD", "h")
    assert out.startswith("A = group committed (the committed params): 10 seeds (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), AMD "
                          "EPYC (family 25, model 1; AVX2, fp32, 2 threads), in place of HEAD's one run\n")
    _group(repo, "committed", range(9), [0.0170 + i * 1e-5 for i in range(9)])  # too few to stand in
    assert _main(capsys, "HEAD", "h").startswith("A = run HEAD (the committed params), AMD EPYC")
    _write(repo, "params.yaml", _yaml.safe_dump({"train": {"beta": 6, "seed": 0}}))
    _group(repo, "committed", range(10), [0.0170] * 10)
    assert _main(capsys, "workspace", "h").startswith("A = run workspace (train.beta=6)")  # other params: its own run


def test_a_stale_group_is_compared_with_a_warning_and_does_not_stand_in(repo, capsys, monkeypatch):
    _group(repo, "h", range(5), [0.0180] * 5)
    _group(repo, "committed", range(10), [0.0170 + i * 1e-5 for i in range(10)])
    monkeypatch.setattr(_diff, "committed_inputs", lambda root: {"train": {"deps": {}, "params": {}}})
    out = _main(capsys, "HEAD", "h")
    assert out.startswith("A = run HEAD (the committed params)")
    assert "\nwarning: group h was measured on other inputs of train and evaluate" in out


def test_bad_arguments_and_failures_end_with_one_line(repo, capsys):
    _group(repo, "g", range(2), [0.0170, 0.0171])
    for alpha in ("0", "1", "1.5", "-0.05"):
        with pytest.raises(SystemExit) as stop:
            _diff.main(["g", "HEAD", "--alpha", alpha])
        assert stop.value.code == 2 and "--alpha must lie between 0 and 1" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="^error: group g has no cell of seed 5$"):
        _diff.main(["g:5", "HEAD"])
    (repo / "params.yaml").rename(repo / "other.yaml")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "no params")
    failed_git = r"^error: `git show [0-9a-f]{40}:params.yaml` failed: fatal: path 'params.yaml' does not exist"
    with pytest.raises(SystemExit, match=failed_git):
        _diff.main(["g", "HEAD"])
    with pytest.raises(SystemExit, match=r"^error: \[Errno 2\] No such file or directory: '.*/params.yaml'$"):
        _diff.main(["g", "workspace"])


def test_a_group_rows_cells_are_its_numbers_to_the_digits_the_columns_show():
    from studies.analysis.comparison import Row
    from studies.analysis.groups import Summary
    ten, one = Summary(10, 0.017123456, 0.000151234), Summary(1, 0.0181234, float("nan"))
    row = Row("test_mse", ten, one, 0.00099, (0.000812345, 0.00116789), 9.87, None, 0.8765, (0.61234, 0.98765),
              0.0123456, "YES", 0.000234567, 3)
    assert _group_cells(row) == ["test_mse", "0.01712 ± 0.00015", "0.01812", "+0.00099 [0.000812, 0.00117]", "+9.87",
                                 "-", "0.88 [0.61, 0.99]", "0.0123", "YES", "0.000235", "3"]
    two = Summary(2, 6.25, 0.125)
    down = Row("kl_nats", ten, two, -0.25, None, None, 1.5, None, None, None, "no", 0.5, None)
    assert _group_cells(down)[1:] == ["0.01712 ± 0.00015", "6.25 ± 0.12", "-0.25", "-", "1.5", "-", "-", "no",
                                      "0.5", "over 1000"]
    same = Row("active_units", ten, ten, 0.0, None, None, None, None, None, None, "no", 1.0, 4)
    assert _group_cells(same)[-1] == "-"  # no difference seen: no seeds needed to resolve it


def test_sides_cannot_be_changed_once_loaded():
    import dataclasses
    side = Side("s", "s", {}, {}, (), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        side.warning = "changed"


def test_a_run_sides_settings_are_every_param_it_sets_otherwise_from_its_own_commit(repo, capsys):
    """Values above or below the committed ones, new keys, floats read twice, a branch's own params and platform,
    and `workspace` as the command line gives it (a string built at run time)."""
    _group(repo, "g", range(5), [0.0170, 0.0171, 0.0169, 0.0172, 0.0170])
    _write(repo, "params.yaml", _yaml.safe_dump({"train": {"beta": 5, "seed": 0, "lr": 0.003}}))
    _git(repo, "commit", "-qam", "lr")
    _git(repo, "checkout", "-qb", "zz")
    _write(repo, "params.yaml", _yaml.safe_dump({"train": {"beta": 4, "seed": 0, "lr": 0.003, "extra": 1}}))
    _write(repo, "metrics/platform.json", dict(PLATFORM, cpu_model="Intel Xeon"))
    _git(repo, "commit", "-qam", "beta 4 and a new key")
    _git(repo, "checkout", "-q", "-")  # back on the committed run; zz differs in params and platform
    assert "\nB = run zz (train.beta=4 train.extra=1), Intel Xeon (family 25" in _main(capsys, "g", "zz")
    _write(repo, "params.yaml", _yaml.safe_dump({"train": {"beta": 6, "seed": 0, "lr": 0.003}}))
    workspace = "".join(["work", "space"])
    assert "\nB = run workspace (train.beta=6), AMD EPYC (family 25" in _main(capsys, "g", workspace)


def test_a_committed_group_of_more_than_ten_seeds_stands_in_too(repo, capsys):
    _group(repo, "h", range(5), [0.0180] * 5)
    _group(repo, "committed", range(11), [0.0170 + i * 1e-5 for i in range(11)])
    assert _main(capsys, "HEAD", "h").startswith("A = group committed (the committed params): 11 seeds")


def test_the_module_runs_as_a_command():
    import sys
    done = _subprocess.run([sys.executable, "-m", "studies.diff", "--help"], capture_output=True, text=True,
                           cwd=_diff.REPO)
    assert done.returncode == 0 and done.stdout.startswith("usage: ")


def test_a_dvc_experiment_is_found_by_its_name(repo, capsys):
    _group(repo, "g", range(5), [0.0170, 0.0171, 0.0169, 0.0172, 0.0170])
    _write(repo, "params.yaml", _yaml.safe_dump({"train": {"beta": 7, "seed": 0}}))
    _git(repo, "commit", "-qam", "an experiment")
    experiment = _subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    _git(repo, "reset", "-q", "--hard", "HEAD~1")
    _git(repo, "update-ref", "refs/exps/ab/cdef0123/zz-beta-7", experiment)  # where DVC keeps an experiment
    assert "\nB = run zz-beta-7 (train.beta=7), AMD EPYC" in _main(capsys, "g", "zz-beta-7")
