"""The check's own decisions, without running the pipeline: which mode, what counts as the same bits, and what
it says at the end (tests/test_check_repro.py runs it on the tiny pipeline)."""

import json
import re
import subprocess
import sys

import pytest

from studies import check_repro
from studies.check_repro import PLATFORM, _verdict, _without_platform_hash, choose_mode
from tests.conftest import committed_file, tool_environment

ZEN4 = {"cpu_vendor": "AuthenticAMD", "cpu_model": "AMD EPYC", "cpu_family": "family 25, model 17",
        "instruction_set": "AVX512-BF16", "kernels": "AVX512", "gpu": None, "torch": "2.14.1", "device": "cpu",
        "precision": "bf16", "threads": 2}


def test_the_same_platform_class_is_checked_exactly_and_another_statistically_saying_why():
    assert choose_mode("auto", ZEN4, dict(ZEN4))[0] == "exact"
    mode, why = choose_mode("auto", ZEN4, dict(ZEN4, instruction_set="AVX2", kernels="AVX2", precision="fp32"))
    assert mode == "statistical"
    assert "instruction_set: 'AVX512-BF16' -> 'AVX2'" in why and "precision: 'bf16' -> 'fp32'" in why
    assert choose_mode("auto", None, ZEN4)[0] == "statistical"  # no record of the committed platform
    assert choose_mode("exact", ZEN4, dict(ZEN4, threads=1)) == ("exact", "asked for with --mode exact")
    assert choose_mode("statistical", ZEN4, ZEN4)[0] == "statistical"


def test_only_the_platform_records_hash_is_left_out_of_dvc_lock():
    lock = {"stages": {"train": {"cmd": "python -m stages.train", "outs": [
        {"path": PLATFORM, "md5": "aa", "size": 3, "hash": "md5"}, {"path": "models/model.pt", "md5": "bb"}],
        "deps": [{"path": PLATFORM, "md5": "cc"}, {"path": "betavae/training.py", "md5": "dd"}]}}}
    stripped = _without_platform_hash(lock)["train"]
    assert stripped["outs"] == [{"path": PLATFORM}, {"path": "models/model.pt", "md5": "bb"}]
    assert stripped["deps"] == [{"path": PLATFORM}, {"path": "betavae/training.py", "md5": "dd"}]
    assert stripped["cmd"] == "python -m stages.train"


@pytest.mark.parametrize("mode, same_bits, another_class, said", [
    ("exact", False, False, "Reproduced exactly"),
    ("statistical", True, True, "Reproduced to the bit on another platform class"),
    ("statistical", True, False, "Reproduced to the bit: every metric"),
    ("statistical", False, True, "Reproduced within the seed spread"),
])
def test_a_pass_says_how_it_reproduced(mode, same_bits, another_class, said, capsys):
    assert _verdict([], mode, same_bits, another_class) == 0
    assert capsys.readouterr().out.startswith(said)


def test_a_failure_lists_every_problem_and_exits_1(capsys):
    assert _verdict(["metric test_mse: 0.02 against committed 0.017", "dvc status is not clean"], "statistical") == 1
    assert capsys.readouterr().err == ("NOT REPRODUCED (statistical):\n- metric test_mse: 0.02 against committed "
                                       "0.017\n- dvc status is not clean\n")


# The check itself on a git repository holding this commit's records, without re-running anything (--no-rerun):
# fast, so that the statements below hold under mutation testing too.
RECORDS = ["dvc.yaml", "dvc.lock", "params.yaml", "metrics/classifier.json", "metrics/eval.json",
           "metrics/platform.json", "metrics/seed_spread.json"]


@pytest.fixture
def records(tmp_path, monkeypatch):
    """A git repo of this commit's records (HEAD's), which studies.check_repro takes for the repository."""
    root = tmp_path / "records"
    for path in RECORDS:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(committed_file(path))
    env = tool_environment()
    for command in (("git", "init", "-q", "-b", "main"), ("git", "add", "-A"), ("git", "commit", "-qm", "records")):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    monkeypatch.setattr(check_repro, "REPO", root)
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(name, env[name])
    return root


def check(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["check_repro", "--no-rerun", *args])
    return check_repro.main()


def edit_json(path, **changes) -> None:
    path.write_text(json.dumps(dict(json.loads(path.read_text()), **changes)))


def test_the_committed_records_read_back_as_committed(records):
    assert check_repro.committed_json("metrics/eval.json") == json.loads((records / "metrics/eval.json").read_text())
    assert check_repro.committed_json("metrics/absent.json") is None


def test_unchanged_results_reproduce_exactly_in_the_mode_their_platform_record_picks(records, monkeypatch, capsys):
    assert check(monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith("Mode: exact, because this machine is of the committed results' platform class")
    assert "Reproduced exactly" in out


def test_unchanged_results_in_the_statistical_mode_come_back_to_the_bit(records, monkeypatch, capsys):
    assert check(monkeypatch, "--mode", "statistical") == 0
    out = capsys.readouterr().out
    assert ("Seed spread: 9 healthy seeds of metrics/seed_spread.json (seed 0, the committed run itself, left out).\n"
            in out)  # the committed run is seed 0 of the ten: it is left out of its own spread, and none collapsed
    assert "Reproduced to the bit: every metric" in out


def test_a_metric_within_its_tolerance_passes_the_statistical_mode_and_fails_the_exact(records, monkeypatch, capsys):
    eval_json = records / "metrics/eval.json"
    edit_json(eval_json, test_mse=json.loads(eval_json.read_text())["test_mse"] + 1e-7)
    assert check(monkeypatch, "--mode", "statistical") == 0
    assert "Reproduced within the seed spread" in capsys.readouterr().out
    assert check(monkeypatch, "--mode", "exact") == 1
    err = capsys.readouterr().err
    assert "- metric test_mse: " in err and "- metrics/eval.json differs from the committed file" in err


def test_a_metric_beyond_its_tolerance_fails_by_name(records, monkeypatch, capsys):
    eval_json = records / "metrics/eval.json"
    committed = json.loads(eval_json.read_text())["test_mse"]
    edit_json(eval_json, test_mse=committed + 0.01)
    assert check(monkeypatch, "--mode", "statistical") == 1
    err = capsys.readouterr().err
    assert err.startswith("NOT REPRODUCED (statistical):\n- metric test_mse: ")
    assert f"against committed {committed!r}" in err and "kl_nats" not in err


def test_a_missing_metrics_file_fails_the_check(records, monkeypatch, capsys):
    (records / "metrics/classifier.json").unlink()
    assert check(monkeypatch, "--mode", "exact") == 1
    assert "metrics/classifier.json differs from the committed file" in capsys.readouterr().err


def test_without_a_rerun_a_changed_param_is_allowed_but_results_are_compared(records, monkeypatch, capsys):
    (records / "params.yaml").write_text((records / "params.yaml").read_text() + "\n")
    assert check(monkeypatch, "--mode", "exact") == 0
    assert check_repro.changed_files(ignore_results=True) == ["params.yaml"]
    edit_json(records / "metrics/platform.json", threads=99)
    assert check_repro.changed_files(ignore_results=False) == ["metrics/platform.json", "params.yaml"]
    assert check_repro.bits_match_but_the_platform_record()  # it weighs the results files only


def test_only_the_platform_record_and_its_hash_changed_is_still_the_same_bits(records):
    edit_json(records / "metrics/platform.json", threads=99)
    assert check_repro.bits_match_but_the_platform_record()
    lock = records / "dvc.lock"
    committed = lock.read_text()
    platform_md5 = re.search(r"path: metrics/platform.json\n\s+hash: md5\n\s+md5: (\w+)", committed).group(1)
    lock.write_text(committed.replace(platform_md5, "0" * 32))  # what a re-run on another machine writes
    assert check_repro.bits_match_but_the_platform_record()
    eval_md5 = re.search(r"path: metrics/eval.json\n\s+hash: md5\n\s+md5: (\w+)", committed).group(1)
    lock.write_text(committed.replace(eval_md5, "0" * 32))
    assert not check_repro.bits_match_but_the_platform_record()  # another results file's hash changed
    lock.write_text(committed)
    edit_json(records / "metrics/eval.json", test_mse=0.5)
    assert not check_repro.bits_match_but_the_platform_record()


def test_a_mode_is_known_by_its_value_not_by_the_string_object(records, capsys):
    built = "".join  # strings built at runtime, equal to the literals but not the same objects
    assert choose_mode(built(["au", "to"]), ZEN4, dict(ZEN4))[0] == "exact"
    rows, failure = check_repro.metric_rows(built(["ex", "act"]))
    assert failure is None and all(row.passed for row in rows) and "Seed spread" not in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["automatic", "", "EXACT"])
def test_an_unknown_mode_is_refused(records, mode):
    with pytest.raises(ValueError, match="--mode must be auto, exact or statistical"):
        choose_mode(mode, ZEN4, ZEN4)
    with pytest.raises(ValueError, match="the mode is exact or statistical"):
        check_repro.metric_rows(mode)


def test_a_committed_file_git_cannot_show_is_none_and_other_git_failures_stop_the_check(records, monkeypatch):
    with pytest.raises(subprocess.CalledProcessError):
        check_repro.run("git", "show", "HEAD:absent.json")
    killed = subprocess.CompletedProcess(["git"], returncode=-9, stdout="{}", stderr="")
    monkeypatch.setattr(check_repro, "run", lambda *command, check=True: killed)
    assert check_repro.committed_json("metrics/eval.json") is None  # a git killed by a signal showed nothing


def test_the_statistical_mode_needs_a_seed_spread_of_the_committed_inputs(records, monkeypatch):
    spread = records / "metrics/seed_spread.json"
    record = json.loads(spread.read_text())
    record["inputs"]["train"]["params"]["train.beta"] = 6.0
    spread.write_text(json.dumps(record))
    with pytest.raises(SystemExit, match=r"measured on other inputs of train and evaluate .*train\.beta"):
        check(monkeypatch, "--mode", "statistical")
    spread.unlink()
    with pytest.raises(SystemExit, match="metrics/seed_spread.json is missing"):
        check(monkeypatch, "--mode", "statistical")


@pytest.mark.parametrize("status_code, reproduced", [(0, True), (1, False), (-9, False)])
def test_a_rerun_runs_every_stage_and_needs_a_clean_dvc_status_after_it(records, monkeypatch, capsys, status_code,
                                                                         reproduced):
    real, dvc_calls = subprocess.run, []

    def dvc_stands_in(command, **options):
        if command[0] != "dvc":
            return real(command, **options)
        dvc_calls.append((list(command), options.get("check")))
        code = status_code if command == ("dvc", "status", "-q") else 0
        if options.get("check") and code:
            raise subprocess.CalledProcessError(code, command)
        return subprocess.CompletedProcess(command, code, stdout="train:\n\tchanged outs\n", stderr="")

    monkeypatch.setattr(subprocess, "run", dvc_stands_in)
    monkeypatch.setattr(check_repro, "platform_record", lambda compute: json.loads((records / PLATFORM).read_text()))
    monkeypatch.setattr(sys, "argv", ["check_repro"])
    assert check_repro.main() == (0 if reproduced else 1)
    assert dvc_calls[0] == (["dvc", "repro", "--force"], True)
    assert ("dvc status is not clean after the re-run:\ntrain:\n\tchanged outs" in capsys.readouterr().err) != reproduced


def test_strings_built_at_runtime_pick_the_same_verdicts(records, monkeypatch, capsys):
    built = "".join
    eval_json = records / "metrics/eval.json"
    edit_json(eval_json, test_mse=json.loads(eval_json.read_text())["test_mse"] + 1e-7)
    assert check(monkeypatch, "--mode", built(["statis", "tical"])) == 0  # results may change in this mode
    assert "Reproduced within the seed spread" in capsys.readouterr().out
    subprocess.run(["git", "checkout", "--", "metrics/eval.json"], cwd=records, check=True)
    assert check(monkeypatch, "--mode", built(["statis", "tical"])) == 0
    assert "Reproduced to the bit: every metric" in capsys.readouterr().out
    edit_json(records / PLATFORM, instruction_set="AVX2")  # the workspace's run: another platform class
    assert check(monkeypatch, "--mode", built(["au", "to"])) == 0
    assert "Reproduced to the bit on another platform class" in capsys.readouterr().out


def test_a_verdict_without_the_bits_or_the_class_named_is_within_the_seed_spread(capsys):
    assert _verdict([], "statistical") == 0
    assert capsys.readouterr().out.startswith("Reproduced within the seed spread")
    assert _verdict([], "statistical", same_bits=True) == 0
    assert capsys.readouterr().out.startswith("Reproduced to the bit: every metric")
    assert _verdict([], "".join(["ex", "act"])) == 0
    assert capsys.readouterr().out.startswith("Reproduced exactly")


def test_the_check_runs_as_a_module():
    shown = subprocess.run([sys.executable, "-m", "studies.check_repro", "--help"], capture_output=True, text=True,
                           cwd=check_repro.REPO)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: ")
