"""Watch the encoder during the first epoch of training: which ReLU units die, and when.

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 \
        python -m studies.dead_units --seed 4 --precision fp32 --lr-warmup-steps 0

Trains as the train stage does (params.yaml, with the seed, precision and warm-up given here) and, every
25 batches, counts on the validation images the ReLU channels and hidden units that output 0 for every
image, the encoder's gradient norm, and the active latent units. The table in docs/pipeline.md
("Posterior collapse and the learning-rate warm-up") comes from this study.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
import torchbearer
from torch import nn
from torchbearer import callbacks

from betavae.activity import active_units
from betavae.batches import TensorBatches
from betavae.compute import configure
from betavae.data import binarize_once, load_images
from betavae.model import PAD, BetaVAE
from betavae.params import load_params
from betavae.training import build_trial, split_train_val
from studies.records import DATA, PARAMS



def dead_counts(model: BetaVAE, images: torch.Tensor) -> list[str]:
    """'dead of all' for each ReLU of the encoder: units whose output is 0 for every image."""
    counts, hidden = [], torch.nn.functional.pad(images, (PAD, PAD, PAD, PAD))
    for layer in model.encoder:
        hidden = layer(hidden)
        if isinstance(layer, nn.ReLU):
            peak = hidden.amax(dim=(0, 2, 3)) if hidden.dim() == 4 else hidden.amax(dim=0)
            counts.append(f"{int((peak <= 0).sum())} of {len(peak)}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="fp32")
    parser.add_argument("--lr-warmup-steps", type=int, default=0)
    parser.add_argument("--every", type=int, default=25, help="batches between two counts")
    args = parser.parse_args()
    params = load_params(PARAMS)
    train = dataclasses.replace(params.train, seed=args.seed, lr_warmup_steps=args.lr_warmup_steps)
    compute = configure(dataclasses.replace(params.compute, precision=args.precision))
    images, _ = load_images(DATA, "train")
    train_images, val_images = split_train_val(images.to(compute.device), train.val_size, train.seed)
    if params.data.binarize:
        val_images = binarize_once(val_images, params.data.binarize_seed)
    torch.manual_seed(train.seed)
    model = BetaVAE(params.model, train.loss).to(compute.device, memory_format=torch.channels_last)
    batches = TensorBatches(train_images, train.batch_size, seed=train.seed, binarize=params.data.binarize)
    print("| after batch | conv1 dead | conv2 dead | conv3 dead | hidden dead | encoder gradient norm | active units |")
    print("|---|---|---|---|---|---|---|")

    class Watch(callbacks.Callback):
        def on_backward(self, state: dict) -> None:
            grads = [p.grad.norm() for name, p in model.named_parameters() if not name.startswith("decoder")]
            self.gradient = float(torch.stack(grads).norm())

        @torch.no_grad()
        def on_step_training(self, state: dict) -> None:
            batch = state[torchbearer.BATCH]
            if batch % args.every and batch != len(batches) - 1:
                return
            model.eval()
            mu, _ = model.encode(val_images)
            print(f"| {batch} | " + " | ".join(dead_counts(model, val_images)) +
                  f" | {self.gradient:.3g} | {active_units(mu)} |", flush=True)
            model.train()

    # training's own Trial (the loss, the warm-ups, the stop on a non-finite loss), watched
    trial = build_trial(model, train, compute, len(batches), extra=[Watch()])
    trial.with_generators(batches).run(epochs=1)


if __name__ == "__main__":
    main()
