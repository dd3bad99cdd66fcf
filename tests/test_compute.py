import pytest
import torch

from betavae.compute import CPU_FP32, Autocast, Compute, bf16_supported, configure
from betavae.errors import ParamsError
from betavae.params import ComputeParams


def test_auto_picks_cuda_only_when_there_is_one():
    compute = configure(ComputeParams(threads=1, device="auto", precision="fp32"))
    assert compute.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert compute.bf16 is False and torch.get_num_threads() == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_one_is_a_params_error():
    with pytest.raises(ParamsError, match="compute.device is cuda"):
        configure(ComputeParams(threads=1, device="cuda", precision="auto"))


@pytest.mark.parametrize("amx, avx512_bf16, expected", [(True, False, True), (False, True, True),
                                                         (True, True, True), (False, False, False)])
def test_bf16_is_supported_on_a_cpu_with_amx_or_avx512_bf16(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert bf16_supported(torch.device("cpu")) is expected


@pytest.mark.parametrize("avx512_bf16", [True, False])
def test_auto_precision_follows_the_hardware(monkeypatch, avx512_bf16):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    compute = configure(ComputeParams(threads=1, device="cpu", precision="auto"))
    assert compute.bf16 is avx512_bf16
    assert configure(ComputeParams(threads=1, device="cpu", precision="fp32")).bf16 is False


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.seen = None

    def forward(self, x):
        out = self.linear(x)
        self.seen = out.dtype
        return out


def test_autocast_computes_in_bf16_and_returns_fp32():
    model = Tiny()
    out = Autocast(model, Compute(device=torch.device("cpu"), bf16=True))(torch.randn(2, 4))
    assert model.seen == torch.bfloat16 and out.dtype == torch.float32
    Autocast(model, CPU_FP32)(torch.randn(2, 4))
    assert model.seen == torch.float32


def test_autocast_returns_every_output_of_a_tuple_in_fp32():
    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

        def forward(self, x):
            out = self.linear(x)
            return out, out * 2

    first, second = Autocast(Pair(), Compute(device=torch.device("cpu"), bf16=True))(torch.randn(2, 4))
    assert first.dtype == second.dtype == torch.float32
