"""Study records name the code and params they measured; one that no longer matches dvc.lock is caught."""

import json
import shutil

import pytest

from studies.analysis.provenance import (BENCHMARK, committed_inputs, input_differences, own_settings, platform_text,
                                         provenance, record_paths, source, stale_records)
from tests.conftest import REPO


@pytest.fixture
def copy(tmp_path):
    """The committed records, benchmark and dvc.lock, in a folder of their own."""
    for path in [*record_paths(REPO), BENCHMARK, "dvc.lock"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, tmp_path / path)
    return tmp_path


def edit(root, path, change):
    record = json.loads((root / path).read_text())
    change(record)
    (root / path).write_text(json.dumps(record))


def test_every_committed_record_is_current_or_says_it_is_historical():
    assert stale_records(REPO) == []
    current = [path for path in record_paths(REPO) if "historical" not in json.loads((REPO / path).read_text())]
    assert {"metrics/seed_spread.json", "metrics/likelihood_options.json", "metrics/test_nll.json"} <= set(current)
    spread = json.loads((REPO / "metrics/seed_spread.json").read_text())
    assert not input_differences(spread["inputs"], committed_inputs(REPO))  # no settings of its own
    avx2 = json.loads((REPO / "metrics/seed_spread_avx2.json").read_text())
    assert avx2["settings"] == ["compute.precision=fp32"]  # the AVX2 kernels' precision, set on purpose
    assert own_settings(avx2["inputs"], committed_inputs(REPO)) == ['compute.precision="fp32"']


def test_a_record_measured_on_other_train_code_is_stale_and_names_its_refresh_command(copy):
    def other_code(record):
        record["inputs"]["train"]["deps"]["betavae/training.py"] = "0" * 32
    edit(copy, "metrics/seed_spread.json", other_code)
    assert stale_records(copy) == [
        "metrics/seed_spread.json was measured on other inputs of train and evaluate than dvc.lock's (train deps: "
        "betavae/training.py): refresh it with `python -m studies.seed_spread --seeds 0 1 2 3 4 5 6 7 8 9`, or "
        "mark it historical"]


def test_a_record_without_inputs_is_stale_unless_marked_historical(copy):
    edit(copy, "metrics/test_nll.json", lambda record: [record.pop(key, None) for key in ("inputs", "historical")])
    [problem] = stale_records(copy)
    assert problem.startswith("metrics/test_nll.json") and "does not say which inputs" in problem
    edit(copy, "metrics/test_nll.json", lambda record: record.update(historical="kept for the record"))
    assert stale_records(copy) == []


def test_a_benchmark_entry_is_checked_by_kind_of_machine(copy):
    def current_but_one(results):
        for entry in results["by_machine_kind"].values():
            entry.pop("historical", None)
            entry["inputs"] = committed_inputs(REPO)
        next(iter(results["by_machine_kind"].values()))["inputs"]["evaluate"]["params"]["evaluate.batch_size"] = 1
    edit(copy, BENCHMARK, current_but_one)
    [problem] = stale_records(copy)
    assert problem.startswith(f"{BENCHMARK} (") and "evaluate params: evaluate.batch_size" in problem
    assert "`python -m benchmarks.train_speed`" in problem


def test_the_docs_show_a_historical_record_with_its_commit_and_cpu():
    record = {"historical": "kept for the comparison", "commit": "82959f3abc",
              "platform": {"cpu_model": "AMD EPYC", "cpu_family": "family 26, model 2", "instruction_set": "AVX512-BF16"}}
    assert provenance(record) == ("**Historical**: measured at commit `82959f3` on AMD EPYC family 26, model 2 "
                                  "AVX512-BF16; kept for the comparison")
    assert provenance({"commit": "82959f3"}) == ""


def test_a_record_of_an_experiment_compares_its_code_and_every_param_but_its_own_settings(copy):
    """The NLL's model trained with data.binarize=true and train.beta=1 on purpose: those are not staleness."""
    committed = committed_inputs(REPO)
    trained = json.loads(json.dumps(committed))
    trained["train"]["params"].update({"data.binarize": True, "train.beta": 1})
    assert own_settings(trained, committed) == ["data.binarize=true", "train.beta=1"]
    edit(copy, "metrics/test_nll.json", lambda record: record.update(inputs=trained, settings=own_settings(
        trained, committed)))
    assert stale_records(copy) == []
    trained["train"]["params"]["train.lr"] = 0.1  # a committed param the record did not set: stale
    edit(copy, "metrics/test_nll.json", lambda record: record.update(inputs=trained))
    [problem] = stale_records(copy)
    assert "train params: train.lr" in problem


def test_the_docs_name_a_current_records_command_and_a_historical_ones_as_that_commits_text():
    platform = {"cpu_model": "AMD EPYC", "cpu_family": "family 25, model 1", "instruction_set": "AVX2",
                "precision": "fp32", "threads": 2}
    assert platform_text(platform) == "AMD EPYC (family 25, model 1; AVX2, fp32, 2 threads)"
    current = {"command": "python -m studies.seed_group --seeds 0 1", "commit": "abcdef123", "platform": platform}
    assert source(current) == ("Made by `python -m studies.seed_group --seeds 0 1` at commit `abcdef1` on AMD EPYC "
                               "(family 25, model 1; AVX2, fp32, 2 threads).")
    old = dict(current, command="python scripts/old.py", historical="kept")
    assert source(old).startswith("Made at commit `abcdef1` by that commit's command, python scripts/old.py, on")
    assert "`python scripts" not in source(old)  # not shown as a command that runs today


def test_a_stage_or_key_on_one_side_only_is_a_difference():
    committed = {"train": {"deps": {"betavae/model.py": "a"}, "params": {"train.beta": 5}},
                 "evaluate": {"deps": {"betavae/evaluation.py": "b"}, "params": {}}}
    measured = {"train": {"deps": {"betavae/model.py": "a"}, "params": {"train.beta": 5, "train.new": 1}}}
    assert input_differences(measured, committed) == ["evaluate deps: betavae/evaluation.py", "train params: train.new"]
    assert input_differences(committed, committed) == []


def test_a_historical_record_names_the_machine_it_was_measured_on():
    record = {"historical": "kept", "machine": {"cpu_model": "Intel Xeon", "instruction_set": "AMX"}}
    assert provenance(record) == "**Historical**: measured on Intel Xeon AMX; kept"
    runs = {"historical": "kept", "runs": {"a": {"platform": {"cpu_model": "AMD EPYC"}}}}
    assert provenance(runs) == "**Historical**: measured on AMD EPYC; kept"
