"""sample: a grid of images decoded from z ~ N(0, I)."""

from __future__ import annotations

from typing import Sequence

from betavae.cli import run_stage
from betavae.compute import configure
from betavae.figures import save_image_grid
from betavae.latent import sample_prior
from betavae.model import load_model
from betavae.params import parse_stage_args


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["model", "png"])
    configure(params.compute)
    model = load_model(args.model)
    images = sample_prior(model, params.sample.count, params.sample.seed)
    save_image_grid(images, args.png, f"{len(images)} samples decoded from z ~ N(0, I)")


if __name__ == "__main__":
    run_stage(main)
