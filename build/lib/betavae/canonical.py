"""Canonical order: each split sorted by label, then by a hash of the pixels, so that the files (and
everything trained on them) do not depend on which source the data came from or in what order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from betavae.data import SPLITS, raw_dir, read_split
from betavae.idx import write_idx


def canonical_order(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Permutation sorting a split by label, then by the SHA-256 of each image's pixels."""
    pixels = images.reshape(len(images), -1).numpy()
    keys = [(int(label), hashlib.sha256(row.tobytes()).digest()) for label, row in zip(labels, pixels)]
    return torch.tensor(sorted(range(len(keys)), key=keys.__getitem__), dtype=torch.long)


def write_canonical(source_root: Path, target_root: Path) -> dict[str, str]:
    """Read both splits from source_root, write them in canonical order; returns file -> MD5."""
    directory = raw_dir(target_root)
    directory.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for split, (image_file, label_file) in SPLITS.items():
        images, labels = read_split(source_root, split)
        order = canonical_order(images, labels)
        write_idx(directory / image_file, images[order].numpy())
        write_idx(directory / label_file, labels[order].numpy().astype(np.uint8))
        checksums[image_file] = md5(directory / image_file)
        checksums[label_file] = md5(directory / label_file)
    return checksums


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()
