"""Training with a torchbearer Trial: betavae.objective.beta_vae_loss, wired into torchbearer.

StateAdapter puts mu and log sigma^2 into torchbearer state keys; the Trial's criterion computes the loss's
parts with beta_vae_loss from them and returns the reconstruction term, and the KL term joins the loss
through an @callbacks.add_to_loss callback, so torchbearer's loss is the function's own sum. This module is
the only place the model meets torchbearer; `build_trial` is the one way to make a training Trial.
"""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import torch
import torchbearer
from torch import nn
from torchbearer import Trial, callbacks, metrics

from betavae import resume
from betavae.activity import active_units, collapse_warning
from betavae.batches import TensorBatches
from betavae.compute import CPU_FP32, Autocast, Compute
from betavae.errors import ParamsError, TrainingError, WriteError
from betavae.io import atomic_write
from betavae.model import BetaVAE
from betavae.objective import LossParts, beta_vae_loss, kl_weight
from betavae.data import binarize_once
from betavae.params import DataParams, ModelConfig, TrainParams

GREY_LEVELS = DataParams(binarize=False, binarize_seed=0)

# The posterior's parameters, from the model's forward to the KL callback.
MU = torchbearer.state_key("mu")
LOGVAR = torchbearer.state_key("logvar")
# The batch's loss parts, from the criterion to the KL callback.
LOSS_PARTS = torchbearer.state_key("loss_parts")
# Batch means of the two loss terms, kept in state so torchbearer logs them per epoch.
RECONSTRUCTION = torchbearer.state_key("reconstruction")
KL = torchbearer.state_key("kl")


class StateAdapter(nn.Module):
    """The plain model as torchbearer calls it: logits out, mu and log variance into state."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        logits, mu, logvar = self.model(images)
        if state is not None:
            state[MU], state[LOGVAR] = mu, logvar
        return logits


def beta_vae_criterion(kind: str, beta: float, warmup_epochs: int = 0):
    """The Trial's criterion: beta_vae_loss of the batch, from the logits, the images and mu/logvar in state.

    Returns the reconstruction term; add_kl_term adds the KL term. During the first warmup_epochs of
    training the KL weight ramps up from 0 to 1; validation always scores the full objective.
    """
    def criterion(state: dict) -> torch.Tensor:
        parts = beta_vae_loss(kind, state[torchbearer.Y_PRED], state[torchbearer.Y_TRUE], state[MU], state[LOGVAR],
                              beta, _kl_weight(state, warmup_epochs))
        state[LOSS_PARTS] = parts
        state[RECONSTRUCTION], state[KL] = parts.reconstruction.detach(), parts.kl.detach()
        return parts.reconstruction
    return criterion


def _kl_weight(state: dict, warmup_epochs: int) -> float:
    if not warmup_epochs or state[torchbearer.DATA] != torchbearer.TRAIN_DATA:
        return 1.0
    return kl_weight(state[torchbearer.EPOCH], state[torchbearer.BATCH], state[torchbearer.STEPS], warmup_epochs)


@callbacks.add_to_loss
def add_kl_term(state: dict) -> torch.Tensor:
    """The KL term w · β · KL of the criterion's LossParts, added to the loss by torchbearer."""
    parts: LossParts = state[LOSS_PARTS]
    return parts.kl_term


def split_train_val(images: torch.Tensor, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random hold-out of val_size images from the training images."""
    if val_size >= len(images):
        raise ParamsError(f"train.val_size must be smaller than the {len(images)} training images, got {val_size}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[val_size:]], images[order[:val_size]]


def lr_factor(step: int, total_steps: int, warmup_steps: int, cosine: bool) -> float:
    """The learning rate of a training step as a fraction of train.lr.

    A linear warm-up over the first warmup_steps batches, (step + 1) / warmup_steps, times the cosine
    annealing from 1 to 0 over total_steps, (1 + cos(pi * step / total_steps)) / 2, or times 1 for constant.
    """
    warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    return warmup * (0.5 * (1.0 + math.cos(math.pi * step / total_steps)) if cosine else 1.0)


class LearningRateSchedule(callbacks.Callback):
    """Sets Adam's learning rate before every batch from lr_factor, and resumes with the Trial.

    The warm-up is what keeps the encoder alive: Adam's first updates have a near-unit size per weight
    whatever the gradient's scale, and at the full train.lr they can switch off most of the encoder's
    ReLU units within the first 50 batches, for good (no active latent unit at the end; docs/pipeline.md).
    torchbearer's own schedulers cannot resume when stepped per batch; this one keeps its state in the
    Trial's state_dict.
    """

    def __init__(self, total_steps: int, warmup_steps: int, cosine: bool):
        self.factor = lambda step: lr_factor(step, total_steps, warmup_steps, cosine)
        self.scheduler, self.saved = None, None

    def on_start(self, state: dict) -> None:
        optimizer = state[torchbearer.OPTIMIZER]
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.factor)
        if self.saved:
            self.scheduler.load_state_dict(self.saved)
            # Loading the state does not set the optimizer's rate; it would stay at the warm-up's first one.
            for group, base in zip(optimizer.param_groups, self.scheduler.base_lrs):
                group["lr"] = base * self.factor(self.scheduler.last_epoch)

    def on_step_training(self, state: dict) -> None:
        self.scheduler.step()

    def state_dict(self) -> dict:
        return self.scheduler.state_dict() if self.scheduler else {}

    def load_state_dict(self, state_dict: dict) -> LearningRateSchedule:
        self.saved = state_dict
        return self


def lr_schedule(params: TrainParams, steps_per_epoch: int) -> LearningRateSchedule:
    """train.lr_warmup_steps of linear warm-up, then constant at train.lr or cosine-annealed to 0 (train.lr_schedule)."""
    return LearningRateSchedule(params.epochs * steps_per_epoch, params.lr_warmup_steps, params.lr_schedule == "cosine")


@callbacks.on_criterion
def stop_on_non_finite_loss(state: dict) -> None:
    """Stop before a NaN or infinite loss reaches the weights."""
    loss = state[torchbearer.LOSS]
    if not torch.isfinite(loss):
        lr = state[torchbearer.OPTIMIZER].param_groups[0]["lr"]
        raise TrainingError(
            f"the training loss became {loss.item()} at epoch {state[torchbearer.EPOCH] + 1}, "
            f"batch {state[torchbearer.BATCH] + 1}; no model was written. Try a lower train.lr "
            f"(the learning rate was {lr:.3g}), compute.precision: fp32, or a smaller train.beta")


def build_trial(model: BetaVAE, params: TrainParams, compute: Compute, steps_per_epoch: int,
                extra: Sequence[callbacks.Callback] = (), verbose: int = 0) -> Trial:
    """The Trial that trains model with the beta-VAE loss: Adam at train.lr, the KL term, the stop on a
    non-finite loss, the learning-rate schedule, then the extra callbacks (loggers, checkpoints last)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, fused=True)
    trial = Trial(StateAdapter(Autocast(model, compute)), optimizer,
                  beta_vae_criterion(params.loss, params.beta, params.kl_warmup_epochs),
                  metrics=[metrics.mean(torchbearer.LOSS), metrics.mean(RECONSTRUCTION), metrics.mean(KL)],
                  callbacks=[add_kl_term, stop_on_non_finite_loss, lr_schedule(params, steps_per_epoch), *extra],
                  verbose=verbose)
    return trial.to(compute.device)


def train(images: torch.Tensor, config: ModelConfig, params: TrainParams, log_path: str | Path,
          compute: Compute = CPU_FP32, resume_dir: str | Path | None = None, verbose: int = 1,
          code: Sequence[Path] | None = None, data: DataParams = GREY_LEVELS) -> BetaVAE:
    """Train a BetaVAE on images [N, 1, 28, 28]; writes one CSV row of losses per epoch to log_path.

    With data.binarize, training sees a fresh binarization of its images every epoch and validation
    one fixed binarization. With resume_dir, a checkpoint is kept there after every epoch, and a run
    with the same params, data and code (the files in `code`; by default this module and what it
    imports) continues from it.
    """
    train_images, val_images = split_train_val(images.to(compute.device), params.val_size, params.seed)
    if params.batch_size > len(train_images):
        raise ParamsError(f"train.batch_size must be at most the {len(train_images)} training images, "
                          f"got {params.batch_size}")
    if data.binarize:
        val_images = binarize_once(val_images, data.binarize_seed)
    torch.manual_seed(params.seed)
    model = BetaVAE(config, params.loss).to(compute.device, memory_format=torch.channels_last)
    batches = TensorBatches(train_images, params.batch_size, seed=params.seed, binarize=data.binarize)
    with _work_dir(resume_dir) as work:
        tag = resume.fingerprint(images, (config, params, compute, data), code or resume.code_files(__file__))
        checkpoint = resume.load_checkpoint(work, tag)
        log = work / resume.LOG
        trial = build_trial(model, params, compute, len(batches), verbose=verbose, extra=[
            callbacks.CSVLogger(str(log), append=checkpoint is not None, write_header=checkpoint is None),
            resume.EpochCheckpoint(work, tag, batches.generator)])
        trial.with_generators(batches, val_generator=TensorBatches(val_images, params.batch_size))
        if checkpoint is not None:
            done = resume.restore(trial, checkpoint, batches.generator, log)
            print(f"resuming from {work} after epoch {done} of {params.epochs}")
        try:
            trial.run(epochs=params.epochs)
        except OSError as error:  # torchbearer's own per-epoch log
            raise WriteError(f"cannot write {log}: {error.strerror or error}; finished epochs are kept in "
                             f"{work}") from None
        with atomic_write(log_path, "wb") as f:
            f.write(log.read_bytes())
    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    warn_on_collapse(model, val_images.cpu())
    return model


@torch.no_grad()
def warn_on_collapse(model: BetaVAE, val_images: torch.Tensor) -> None:
    """Print one warning line if the trained model's posterior has collapsed on the validation images."""
    mu = torch.cat([model.encode(batch)[0] for batch in val_images.split(1000)])
    warning = collapse_warning(active_units(mu), model.config.latent_dim, "validation images")
    if warning:
        print(warning, file=sys.stderr)


@contextlib.contextmanager
def _work_dir(resume_dir: str | Path | None) -> Iterator[Path]:
    """The resume directory, kept; without one, a temporary directory."""
    if resume_dir is not None:
        Path(resume_dir).mkdir(parents=True, exist_ok=True)
        yield Path(resume_dir)
        return
    with tempfile.TemporaryDirectory() as scratch:
        yield Path(scratch)
