"""Loading the canonical dataset: torchvision parses it, we check what it returns."""

import numpy as np
import pytest
import torch

from betavae.data import SPLITS, binarize_once, load_images, raw_dir, read_split
from betavae.errors import DataError
from betavae.idx import write_idx
from tests.conftest import make_images, write_tiny_dataset


def test_idx_files_round_trip_through_torchvision(tiny_data):
    images, labels = read_split(tiny_data, "train")
    expected_images, expected_labels = make_images(200, seed=1)
    assert images.dtype == torch.uint8 and images.shape == (200, 28, 28)
    assert np.array_equal(images.numpy(), expected_images)
    assert np.array_equal(labels.numpy(), expected_labels)


def test_load_images_scales_to_unit_range(tiny_data):
    images, labels = load_images(tiny_data, "test")
    assert images.shape == (50, 1, 28, 28) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    assert labels.dtype == torch.int64


def test_missing_file_is_named(tiny_data):
    (raw_dir(tiny_data) / SPLITS["test"][1]).unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        read_split(tiny_data, "test")


def test_truncated_file_is_reported(tiny_data):
    path = raw_dir(tiny_data) / SPLITS["train"][0]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="train"):
        read_split(tiny_data, "train")


def test_labels_out_of_range_are_rejected(tiny_data):
    path = raw_dir(tiny_data) / SPLITS["train"][1]
    data = bytearray(path.read_bytes())
    data[-1] = 12
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="labels must lie in 0..9"):
        read_split(tiny_data, "train")


def test_images_and_labels_of_different_lengths_are_rejected(tiny_data):
    images, labels = make_images(10, seed=5)
    write_idx(raw_dir(tiny_data) / SPLITS["test"][1], labels[:7])
    with pytest.raises(DataError, match="50 images but 7 labels"):
        read_split(tiny_data, "test")


def test_binarize_once_is_a_fixed_bernoulli_sample_of_the_grey_levels():
    images = torch.linspace(0, 1, 10_000).view(100, 1, 10, 10)
    sample = binarize_once(images, seed=3)
    assert torch.equal(sample, binarize_once(images, seed=3))
    assert not torch.equal(sample, binarize_once(images, seed=4))
    assert set(sample.unique().tolist()) == {0.0, 1.0}
    assert sample.mean().item() == pytest.approx(0.5, abs=0.02)
    assert sample.flatten()[:100].sum() < 10 and sample.flatten()[-100:].sum() > 90  # dark stays dark, light light


class _Parsed:
    """What torchvision's FashionMNIST hands back: .data and .targets."""

    def __init__(self, data: torch.Tensor, targets: torch.Tensor):
        self.data, self.targets = data, targets


def _torchvision_returns(monkeypatch, data: torch.Tensor, targets: torch.Tensor) -> None:
    monkeypatch.setattr("betavae.data.FashionMNIST", lambda *args, **kwargs: _Parsed(data, targets))


@pytest.mark.parametrize("data, targets, message", [
    (torch.zeros(4, 28, 28), torch.zeros(4), r"train-images-idx3-ubyte: expected uint8 images of 28x28"),
    (torch.zeros(4, 27, 28, dtype=torch.uint8), torch.zeros(4), r"train-images-idx3-ubyte: expected uint8"),
    (torch.zeros(4, 29, 28, dtype=torch.uint8), torch.zeros(4), r"train-images-idx3-ubyte: expected uint8"),
    (torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4), r"train-images-idx3-ubyte: expected uint8"),
    (torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(5), r"train-images-idx3-ubyte: 4 images but 5 labels"),
    (torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0), r"0 images but 0 labels"),
    (torch.zeros(4, 28, 28, dtype=torch.uint8), torch.tensor([0, 1, 2, -1]), r"train-labels-idx1-ubyte: labels"),
    (torch.zeros(4, 28, 28, dtype=torch.uint8), torch.tensor([0, 1, 2, 10]), r"train-labels-idx1-ubyte: labels"),
])
def test_what_torchvision_parsed_is_checked_and_the_file_named(tiny_data, monkeypatch, data, targets, message):
    _torchvision_returns(monkeypatch, data, targets)
    with pytest.raises(DataError, match=message):
        read_split(tiny_data, "train")


@pytest.mark.parametrize("count, labels", [(300, lambda n: torch.arange(n) % 10), (4, lambda n: torch.arange(n) + 1),
                                           (1, lambda n: torch.tensor([9]))])
def test_any_count_of_valid_images_with_labels_in_range_passes(tiny_data, monkeypatch, count, labels):
    data = torch.zeros(count, 28, 28, dtype=torch.uint8)
    _torchvision_returns(monkeypatch, data, labels(count))
    images, parsed_labels = read_split(tiny_data, "train")
    assert images is data and torch.equal(parsed_labels, labels(count))


@pytest.mark.parametrize("error", [AssertionError("shape"), ValueError("buffer"), RuntimeError("frombuffer")])
def test_each_kind_of_torchvision_parse_error_is_a_data_error_naming_the_split(tiny_data, monkeypatch, error):
    def fails(*args, **kwargs):
        raise error
    monkeypatch.setattr("betavae.data.FashionMNIST", fails)
    with pytest.raises(DataError, match=f"cannot parse the test IDX files .*{type(error).__name__}"):
        read_split(tiny_data, "test")


def test_reading_never_downloads_a_missing_split(tiny_data, monkeypatch):
    for name in SPLITS["train"]:
        (raw_dir(tiny_data) / name).unlink()
    monkeypatch.setattr("torchvision.datasets.FashionMNIST.download", lambda self: pytest.fail("tried to download"))
    with pytest.raises(DataError, match="cannot parse the test IDX files"):  # torchvision wants all four files
        read_split(tiny_data, "test")


def test_the_split_is_chosen_by_its_name_not_by_the_string_object(tiny_data):
    built_at_runtime = "".join(["tra", "in"])  # equal to "train", but not the interned literal
    images, _ = read_split(tiny_data, built_at_runtime)
    assert len(images) == 200


def test_grey_levels_map_0_to_0_and_255_to_1_exactly(tmp_path):
    root = write_tiny_dataset(tmp_path / "extremes", train=10, test=10)
    images, labels = make_images(10, seed=2)
    images[0, 0, :3] = (0, 255, 51)
    write_idx(raw_dir(root) / SPLITS["test"][0], images)
    loaded, _ = load_images(root, "test")
    assert loaded[0, 0, 0, :3].tolist() == [0.0, 1.0, pytest.approx(0.2)]


def test_a_pixel_is_one_exactly_where_its_uniform_draw_is_below_its_grey_level():
    draws = torch.rand(4, 1, 5, 5, generator=torch.Generator().manual_seed(7))
    assert binarize_once(draws, seed=7).sum() == 0       # P(U < u) for the very draw u: never
    assert binarize_once(draws.nextafter(torch.ones(())), seed=7).sum() == draws.numel()
