"""Where and how tensors are computed: thread count, device, training precision, determinism."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from betavae.errors import ParamsError
from betavae.params import ComputeParams


@dataclass(frozen=True)
class Compute:
    device: torch.device
    bf16: bool  # train under bfloat16 autocast (weights, optimizer and losses stay fp32)


CPU_FP32 = Compute(device=torch.device("cpu"), bf16=False)


def configure(params: ComputeParams) -> Compute:
    """Fix threads, ask for deterministic kernels, resolve `auto` device and precision."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS needs it
    torch.set_num_threads(params.threads)
    torch.use_deterministic_algorithms(True)
    return resolve(params)


def resolve(params: ComputeParams) -> Compute:
    """The device and precision that `auto` stands for on this machine; changes nothing."""
    device = _resolve_device(params.device)
    return Compute(device=device, bf16=_resolve_bf16(params.precision, device))


def _resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("compute.device is cuda, but no CUDA device is available; use auto or cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _resolve_bf16(precision: str, device: torch.device) -> bool:
    supported = bf16_supported(device)
    if precision == "bf16" and not supported:
        raise ParamsError(f"compute.precision is bf16, but this {device.type} has no fast bfloat16; use auto or fp32")
    return precision == "bf16" or (precision == "auto" and supported)


def bf16_supported(device: torch.device) -> bool:
    """bfloat16 matrix units: AMX or AVX512-BF16 on a CPU, compute capability 8+ on a GPU."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()


class Autocast(nn.Module):
    """Runs the wrapped model's forward under bfloat16 autocast when compute.bf16; returns fp32.

    Weights, optimizer state and the losses stay in fp32; only the forward's matrix work is bf16.
    The model may return one tensor or a tuple of them.
    """

    def __init__(self, model: nn.Module, compute: Compute):
        super().__init__()
        self.model, self.device_type, self.enabled = model, compute.device.type, compute.bf16

    def forward(self, inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.enabled):
            outputs = self.model(inputs)
        if isinstance(outputs, tuple):
            return tuple(output.float() for output in outputs)
        return outputs.float()
