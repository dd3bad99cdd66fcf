"""What decides the bits of a run: the processor and its instruction set, torch, device, precision, threads."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from betavae.compute import resolve
from betavae.params import ComputeParams

# Two runs whose records agree on these keys give byte-identical results (same seeds, code and data).
PLATFORM_CLASS = ("cpu_vendor", "cpu_model", "cpu_family", "instruction_set", "kernels", "gpu", "torch", "device", "precision",
                  "threads")


def _cpuinfo_fields(cpuinfo: str | None) -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (or in the text given)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_vendor_and_model(cpuinfo: str | None = None) -> tuple[str, str]:
    """Vendor id and model name from /proc/cpuinfo (platform.processor() where there is none)."""
    fields = _cpuinfo_fields(cpuinfo)
    fallback = platform.processor() or platform.machine()
    return fields.get("vendor_id", fallback), fields.get("model name", fallback)


def cpu_family(cpuinfo: str | None = None) -> str | None:
    """'family F, model M' from /proc/cpuinfo: tells CPU generations apart that share a model name
    (a virtual machine's "AMD EPYC" is Zen 4 at family 25 and Zen 5 at family 26)."""
    fields = _cpuinfo_fields(cpuinfo)
    if "cpu family" not in fields:
        return None
    return f"family {fields['cpu family']}, model {fields.get('model', '?')}"


def instruction_set() -> str:
    """The processor's widest matrix and vector units: AMX, AVX512-BF16, AVX-512, AVX2, or older."""
    checks = (("AMX", torch.cpu._is_amx_tile_supported), ("AVX512-BF16", torch.cpu._is_avx512_bf16_supported),
              ("AVX-512", torch.cpu._is_avx512_supported), ("AVX2", torch.cpu._is_avx2_supported))
    return next((name for name, supported in checks if supported()), "older than AVX2")


def kernels() -> str:
    """The vector kernels torch's own operators use: AVX512, AVX2 or DEFAULT (ATEN_CPU_CAPABILITY can lower it)."""
    return torch.backends.cpu.get_cpu_capability()


def platform_record(params: ComputeParams) -> dict:
    """Everything that decides a run's bits, for the results it sits beside."""
    compute = resolve(params)
    vendor, model = cpu_vendor_and_model()
    gpu = torch.cuda.get_device_name(compute.device) if compute.device.type == "cuda" else None
    return {"cpu_vendor": vendor, "cpu_model": model, "cpu_family": cpu_family(), "instruction_set": instruction_set(),
            "kernels": kernels(), "gpu": gpu,
            "torch": torch.__version__, "device": compute.device.type,
            "precision": "bf16" if compute.bf16 else "fp32", "threads": params.threads}


def same_platform_class(first: dict, second: dict) -> bool:
    return all(first.get(key) == second.get(key) for key in PLATFORM_CLASS)


def platform_differences(committed: dict, current: dict) -> list[str]:
    """`key: committed -> current` for each key of the platform class that differs."""
    return [f"{key}: {committed.get(key)!r} -> {current.get(key)!r}"
            for key in PLATFORM_CLASS if committed.get(key) != current.get(key)]
