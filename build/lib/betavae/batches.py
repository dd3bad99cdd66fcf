"""Mini-batches sliced from tensors held in memory (on the GPU when training runs there)."""

from __future__ import annotations

from typing import Iterator

import torch

from betavae.data import binarize


class TensorBatches:
    """(x, target) batches sliced from in-memory tensors, reshuffled each epoch when seeded.

    The target is x itself (an autoencoder) unless targets are given. Slicing a resident tensor
    costs one gather per epoch, where a DataLoader indexes and collates every image of every batch.
    With binarize (needs a seed), every batch is a fresh Bernoulli sample of its images (dynamic
    binarization), drawn from the same seeded generator as the order, so a resumed run repeats it.
    """

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int | None = None,
                 targets: torch.Tensor | None = None, binarize: bool = False):
        if binarize and seed is None:
            raise ValueError("dynamic binarization needs a seed")
        self.images, self.targets, self.batch_size, self.binarize = images, targets, batch_size, binarize
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, targets = self.images, self.targets
        if self.generator is not None:
            order = torch.randperm(len(images), generator=self.generator).to(images.device)
            images = images[order]
            targets = None if targets is None else targets[order]
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size]
            if self.binarize:
                batch = binarize(batch, self.generator)
            yield batch, (batch if targets is None else targets[start:start + self.batch_size])
