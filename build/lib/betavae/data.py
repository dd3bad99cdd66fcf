"""The canonical Fashion-MNIST on disk, and loading it.

Four uncompressed IDX files in `<root>/FashionMNIST/raw/`, the layout that torchvision's
`FashionMNIST(root, download=False)` parses, each split in canonical order (betavae.canonical),
fetched by betavae.sources.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.datasets import FashionMNIST

from betavae.errors import DataError
from betavae.idx import check_idx_file

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_SIZE = 28


def raw_dir(root: str | Path) -> Path:
    """Where torchvision looks for the uncompressed IDX files."""
    return Path(root) / "FashionMNIST" / "raw"


def read_split(root: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse one split with torchvision: images uint8 [N, 28, 28], labels int64 [N]."""
    directory = raw_dir(root)
    for name, ndim in zip(SPLITS[split], (3, 1)):
        check_idx_file(directory / name, ndim)
    try:
        dataset = FashionMNIST(str(root), train=split == "train", download=False)
    except (AssertionError, ValueError, RuntimeError) as error:  # torchvision's reports of malformed IDX
        raise DataError(f"cannot parse the {split} IDX files in {directory}: {error!r}") from None
    images, labels = dataset.data, dataset.targets.long()
    _check_split(directory, split, images, labels)
    return images, labels


def _check_split(directory: Path, split: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    where = f"{directory}/{SPLITS[split][0]}"
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{where}: expected uint8 images of 28x28, got {images.dtype} {tuple(images.shape)}")
    if len(images) != len(labels) or len(images) == 0:
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= len(CLASSES):
        raise DataError(f"{directory}/{SPLITS[split][1]}: labels must lie in 0..9")


def load_images(root: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 [N, 1, 28, 28] in [0, 1], and labels int64 [N]."""
    images, labels = read_split(root, split)
    return images.unsqueeze(1).float().div_(255.0), labels


def binarize(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A Bernoulli sample of images in [0, 1]: each pixel is 1 with probability its grey level, else 0.

    The uniform noise is drawn on the CPU from `generator`, so the sample is the same on every device.
    """
    noise = torch.rand(images.shape, generator=generator)
    return (noise.to(images.device) < images).to(images.dtype)


def binarize_once(images: torch.Tensor, seed: int) -> torch.Tensor:
    """The fixed binarization of a held-out set (validation, test), drawn from `seed`."""
    return binarize(images, torch.Generator().manual_seed(seed))
