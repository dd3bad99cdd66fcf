"""train: fit the beta-VAE on the training split; save the model with its config, and a per-epoch log."""

from __future__ import annotations

from typing import Sequence

from betavae.cli import parse_stage_args, run_stage
from betavae.compute import configure
from betavae.data import load_images
from betavae.model import save_checkpoint
from betavae.training import train


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["data_dir", "model", "log_csv"])
    compute = configure(params.compute)
    images, _ = load_images(args.data_dir, "train")
    model = train(images, params.model, params.train, args.log_csv, compute)
    save_checkpoint(model, args.model)


if __name__ == "__main__":
    run_stage(main)
