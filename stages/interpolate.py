"""interpolate: decoded walks between the posterior means of test images of two classes."""

from __future__ import annotations

from typing import Sequence

from betavae.cli import run_stage
from betavae.compute import configure
from betavae.data import CLASSES, load_images
from betavae.figures import save_interpolation_figure
from betavae.latent import interpolation_rows
from betavae.model import load_model
from betavae.params import parse_stage_args


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["model", "data_dir", "png"])
    configure(params.compute)
    model = load_model(args.model)
    images, labels = load_images(args.data_dir, "test")
    settings = params.interpolate
    rows, pairs = interpolation_rows(model, images, labels, settings.pairs, settings.steps, settings.method)
    labels = [f"{CLASSES[a]} → {CLASSES[b]}" for a, b in pairs]
    title = {"linear": "Linear", "slerp": "Spherical (slerp)"}[settings.method]
    save_interpolation_figure(rows, labels, args.png, f"{title} interpolation between posterior means")


if __name__ == "__main__":
    run_stage(main)
