"""Shared fixtures: the repository's params, and tiny generated Fashion-MNIST-shaped data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from betavae.data import SPLITS, raw_dir, write_idx
from betavae.params import Params, load_params

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.fixture
def params() -> Params:
    return load_params(REPO / "params.yaml")


@pytest.fixture
def tiny_model_config(params):
    return dataclasses.replace(params.model, latent_dim=4, channels=(4, 4, 8), hidden_dim=16)


def make_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """count uint8 28x28 images whose brightness pattern depends on the label, and labels 0..9."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.integers(0, 60, size=(count, 28, 28))
    for image, label in zip(images, labels):
        image[2 * label:2 * label + 8, 4:24] += 180
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_tiny_dataset(root: Path, train: int = 200, test: int = 50) -> Path:
    """Write generated train/test IDX files in the layout torchvision reads."""
    for split, count, seed in (("train", train, 1), ("test", test, 2)):
        images, labels = make_images(count, seed)
        image_file, label_file = SPLITS[split]
        write_idx(raw_dir(root) / image_file, images)
        write_idx(raw_dir(root) / label_file, labels)
    return root


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    return write_tiny_dataset(tmp_path / "tiny")
