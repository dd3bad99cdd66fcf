"""The check's own decisions, without running the pipeline: which mode, what counts as the same bits, and what
it says at the end (tests/test_check_repro.py runs it on the tiny pipeline)."""

import pytest

from studies.check_repro import PLATFORM, _verdict, _without_platform_hash, choose_mode

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
