"""The platform record: what decides a run's bits."""

from pathlib import Path

import pytest

from betavae.machine import (PLATFORM_CLASS, cpu_family, cpu_vendor_and_model, instruction_set, platform_differences,
                             platform_record, same_platform_class)

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14
flags\t\t: fpu avx2

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
"""


def test_vendor_and_model_come_from_cpuinfo():
    assert cpu_vendor_and_model(CPUINFO) == ("AuthenticAMD", "AMD EPYC 9R14")


def test_the_cpu_family_tells_generations_with_one_model_name_apart():
    assert cpu_family(CPUINFO) == "family 25, model 17"
    assert cpu_family(CPUINFO.replace(": 25", ": 26").replace(": 17", ": 2")) == "family 26, model 2"
    assert cpu_family("vendor_id\t: ARM\n") is None


def test_the_record_names_everything_that_decides_the_bits(params):
    record = platform_record(params.compute)
    assert set(PLATFORM_CLASS) <= set(record)
    assert record["threads"] == params.compute.threads
    assert record["precision"] in ("fp32", "bf16") and record["device"] in ("cpu", "cuda")
    flags = set(open("/proc/cpuinfo").read().split()) if Path("/proc/cpuinfo").is_file() else set()
    if flags:  # independently of torch: the CPU's own flags
        expected = ("AMX" if "amx_tile" in flags else "AVX512-BF16" if "avx512_bf16" in flags
                    else "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "older than AVX2")
        assert record["instruction_set"] == expected
    else:
        assert record["instruction_set"] == instruction_set()
    assert record["kernels"] in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR", "VSX", "SVE256")
    assert record["torch"].startswith("2.")


def test_lowering_the_kernels_shows_in_the_record(params):
    """ATEN_CPU_CAPABILITY=default (the stand-in for another CPU) makes another platform class."""
    import subprocess
    import sys
    from tests.conftest import REPO
    code = "from betavae.machine import kernels; print(kernels())"
    lowered = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                             env={"ATEN_CPU_CAPABILITY": "default", "PATH": "/usr/bin:/bin"})
    assert lowered.stdout.strip() == "DEFAULT"


def test_instruction_set_names_the_widest_units(monkeypatch):
    import torch
    for check in ("_is_amx_tile_supported", "_is_avx512_bf16_supported", "_is_avx512_supported",
                  "_is_avx2_supported"):
        monkeypatch.setattr(torch.cpu, check, lambda: False)
    assert instruction_set() == "older than AVX2"
    monkeypatch.setattr(torch.cpu, "_is_avx2_supported", lambda: True)
    assert instruction_set() == "AVX2"
    monkeypatch.setattr(torch.cpu, "_is_avx512_supported", lambda: True)
    assert instruction_set() == "AVX-512"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert instruction_set() == "AVX512-BF16"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert instruction_set() == "AMX"


@pytest.mark.parametrize("key", PLATFORM_CLASS)
def test_any_key_of_the_class_makes_another_platform(params, key):
    record = platform_record(params.compute)
    other = dict(record, **{key: "something else"})
    assert same_platform_class(record, dict(record))
    assert not same_platform_class(record, other)
    assert platform_differences(record, other) == [f"{key}: {record[key]!r} -> 'something else'"]
