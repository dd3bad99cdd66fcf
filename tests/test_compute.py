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


def test_auto_precision_follows_the_hardware():
    compute = configure(ComputeParams(threads=1, device="cpu", precision="auto"))
    assert compute.bf16 == bf16_supported(torch.device("cpu"))


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
