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


def runtime(text: str) -> str:
    """The string as params read from YAML hold it: built at run time, so not the interned literal."""
    return "".join(list(text))


def test_compute_is_immutable():
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        CPU_FP32.bf16 = True


def test_configure_asks_for_deterministic_kernels():
    torch.use_deterministic_algorithms(False)
    configure(ComputeParams(threads=1, device="cpu", precision="fp32"))
    assert torch.are_deterministic_algorithms_enabled()


def test_device_and_precision_are_compared_by_value(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParamsError, match="compute.device is cuda"):
        configure(ComputeParams(threads=1, device=runtime("cuda"), precision="auto"))
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert configure(ComputeParams(threads=1, device=runtime("auto"), precision="fp32")).device.type == "cpu"
    with pytest.raises(ParamsError, match="compute.precision is bf16"):
        configure(ComputeParams(threads=1, device="cpu", precision=runtime("bf16")))


def test_a_cpu_device_stays_on_the_cpu_when_cuda_is_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    compute = configure(ComputeParams(threads=1, device="cpu", precision="auto"))
    assert compute == Compute(device=torch.device("cpu"), bf16=False)
    assert configure(ComputeParams(threads=1, device=runtime("auto"), precision="auto")) == Compute(
        device=torch.device("cuda"), bf16=True)


@pytest.mark.parametrize("precision", ["bf16", "auto"])
def test_bf16_where_the_hardware_has_it(monkeypatch, precision):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    compute = configure(ComputeParams(threads=1, device="cpu", precision=runtime(precision)))
    assert compute.bf16 is True


def test_a_gpu_asks_cuda_for_bf16_not_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert bf16_supported(torch.device(runtime("cuda"))) is True
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert bf16_supported(torch.device("cuda")) is False
