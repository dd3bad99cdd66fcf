"""Training with a torchbearer Trial: reconstruction criterion + beta * KL via @add_to_loss."""

from __future__ import annotations

from pathlib import Path

import torch
import torchbearer
from torch import nn
from torchbearer import Trial, callbacks, metrics

from betavae.compute import Compute
from betavae.errors import ParamsError
from betavae.io import atomic_path
from betavae.losses import kl_divergence, reconstruction_loss
from betavae.model import LOGVAR, MU, BetaVAE
from betavae.params import ModelConfig, TrainParams

CPU_FP32 = Compute(device=torch.device("cpu"), bf16=False)

# Batch means of the two loss terms, kept in state so torchbearer logs them per epoch.
RECONSTRUCTION = torchbearer.state_key("reconstruction")
KL = torchbearer.state_key("kl")


def reconstruction_criterion(kind: str):
    """The Trial's criterion: mean per-image reconstruction loss of the batch."""
    def criterion(state: dict) -> torch.Tensor:
        loss = reconstruction_loss(kind, state[torchbearer.Y_PRED], state[torchbearer.Y_TRUE]).mean()
        state[RECONSTRUCTION] = loss.detach()
        return loss
    return criterion


def beta_kl_term(beta: float) -> callbacks.Callback:
    """Callback adding beta * mean KL(q(z|x) || N(0, I)) to the loss, from mu/logvar in state."""
    @callbacks.add_to_loss
    def add_beta_kl(state: dict) -> torch.Tensor:
        kl = kl_divergence(state[MU], state[LOGVAR]).mean()
        state[KL] = kl.detach()
        return beta * kl
    return add_beta_kl


def split_train_val(images: torch.Tensor, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random hold-out of val_size images from the training images."""
    if val_size >= len(images):
        raise ParamsError(f"train.val_size must be smaller than the {len(images)} training images, got {val_size}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[val_size:]], images[order[:val_size]]


class TensorBatches:
    """(x, x) batches sliced from one in-memory tensor, reshuffled each epoch when seeded.

    Slicing a resident tensor costs one gather per epoch, where a DataLoader indexes and
    collates every image of every batch.
    """

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int | None = None):
        self.images, self.batch_size = images, batch_size
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __iter__(self):
        images = self.images
        if self.generator is not None:
            images = images[torch.randperm(len(images), generator=self.generator).to(images.device)]
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size]
            yield batch, batch


class Autocast(nn.Module):
    """Runs the wrapped model under bfloat16 autocast; hands fp32 logits, mu and logvar to the losses."""

    def __init__(self, model: BetaVAE, device_type: str, enabled: bool):
        super().__init__()
        self.model, self.device_type, self.enabled = model, device_type, enabled

    def forward(self, images: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.enabled):
            logits = self.model(images, state)
        if state is not None:
            state[MU], state[LOGVAR] = state[MU].float(), state[LOGVAR].float()
        return logits.float()


def lr_schedule(params: TrainParams, steps_per_epoch: int) -> list[callbacks.Callback]:
    """constant: Adam at train.lr throughout; cosine: annealed from train.lr to 0, stepped per batch."""
    if params.lr_schedule == "cosine":
        return [callbacks.CosineAnnealingLR(T_max=params.epochs * steps_per_epoch, step_on_batch=True)]
    return []


def train(images: torch.Tensor, config: ModelConfig, params: TrainParams, log_path: str | Path,
          compute: Compute = CPU_FP32, verbose: int = 1) -> BetaVAE:
    """Train a BetaVAE on images [N, 1, 28, 28]; writes one CSV row of losses per epoch to log_path."""
    train_images, val_images = split_train_val(images.to(compute.device), params.val_size, params.seed)
    if params.batch_size > len(train_images):
        raise ParamsError(f"train.batch_size must be at most the {len(train_images)} training images, "
                          f"got {params.batch_size}")
    torch.manual_seed(params.seed)
    model = BetaVAE(config).to(compute.device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, fused=True)
    batches = TensorBatches(train_images, params.batch_size, seed=params.seed)
    with atomic_path(log_path) as temporary_log:
        trial = Trial(Autocast(model, compute.device.type, compute.bf16), optimizer,
                      reconstruction_criterion(params.loss),
                      metrics=[metrics.mean(torchbearer.LOSS), metrics.mean(RECONSTRUCTION), metrics.mean(KL)],
                      callbacks=[beta_kl_term(params.beta), *lr_schedule(params, len(batches)),
                                 callbacks.CSVLogger(str(temporary_log))],
                      verbose=verbose)
        trial.with_generators(batches,
                              val_generator=TensorBatches(val_images, params.batch_size))
        trial.to(compute.device).run(epochs=params.epochs)
    return model.to("cpu", memory_format=torch.contiguous_format).eval()
