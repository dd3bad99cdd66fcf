"""Watch the encoder during the first epoch of training: which ReLU units die, and when.

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 \
        python scripts/dead_units.py --seed 4 --precision fp32 --lr-warmup-steps 0

Trains as the train stage does (params.yaml, with the seed, precision and warm-up given here) and, every
25 batches, counts on the validation images the ReLU channels and hidden units that output 0 for every
image, the encoder's gradient norm, and the active latent units. The table in docs/pipeline.md
("Posterior collapse and the learning-rate warm-up") comes from this script.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def dead_counts(model, images) -> list[str]:
    """'dead of all' for each ReLU of the encoder: units whose output is 0 for every image."""
    import torch
    from torch import nn
    from betavae.model import PAD
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
    sys.path.insert(0, str(REPO))
    import torch
    import torchbearer
    from torchbearer import Trial, callbacks

    from betavae.activity import active_units
    from betavae.batches import TensorBatches
    from betavae.compute import Autocast, configure
    from betavae.data import load_images
    from betavae.model import BetaVAE
    from betavae.params import load_params
    from betavae.training import StateAdapter, beta_kl_term, lr_schedule, reconstruction_criterion, split_train_val

    params = load_params(REPO / "params.yaml")
    train = dataclasses.replace(params.train, seed=args.seed, lr_warmup_steps=args.lr_warmup_steps)
    compute = configure(dataclasses.replace(params.compute, precision=args.precision))
    images, _ = load_images(REPO / "data" / "fashion_mnist", "train")
    train_images, val_images = split_train_val(images, train.val_size, train.seed)
    torch.manual_seed(train.seed)
    model = BetaVAE(params.model, train.loss).to(memory_format=torch.channels_last)
    batches = TensorBatches(train_images, train.batch_size, seed=train.seed)
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

    trial = Trial(StateAdapter(Autocast(model, compute)), torch.optim.Adam(model.parameters(), lr=train.lr, fused=True),
                  reconstruction_criterion(train.loss),
                  callbacks=[beta_kl_term(train.beta, train.kl_warmup_epochs), lr_schedule(train, len(batches)),
                             Watch()], verbose=0)
    trial.with_generators(batches).run(epochs=1)


if __name__ == "__main__":
    main()
