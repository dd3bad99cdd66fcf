"""visualize: reconstructions, latent traversals, the latent space, KL per dimension (the figure and its
numbers by unit index), training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from betavae.cli import run_stage
from betavae.compute import configure
from betavae.data import load_images
from betavae.model import load_model
from betavae.params import parse_stage_args
from betavae.report import TestSetView, draw_all

FIGURES = ["reconstructions", "traversals", "latent_space", "kl_per_dimension", "training_curves",
           "kl_per_dimension_json"]


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["model", "data_dir", "log_csv", *FIGURES])
    configure(params.compute)
    view = TestSetView(load_model(args.model), *load_images(args.data_dir, "test"))
    draw_all(view, params.visualize, Path(args.log_csv), {name: Path(getattr(args, name)) for name in FIGURES})


if __name__ == "__main__":
    run_stage(main)
