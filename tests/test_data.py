"""Loading the canonical dataset: torchvision parses it, we check what it returns."""

import numpy as np
import pytest
import torch

from betavae.data import SPLITS, binarize_once, load_images, raw_dir, read_split
from betavae.errors import DataError
from betavae.idx import write_idx
from tests.conftest import make_images


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
