"""evaluate: test-set MSE, reconstruction loss, KL and ELBO of the trained model."""

from __future__ import annotations

from typing import Sequence

from betavae.cli import parse_stage_args, run_stage
from betavae.compute import configure
from betavae.data import load_images
from betavae.evaluation import evaluate
from betavae.io import write_json
from betavae.model import load_checkpoint


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["model", "data_dir", "metrics_json"])
    configure(params.compute)
    model = load_checkpoint(args.model)
    images, _ = load_images(args.data_dir, "test")
    metrics = evaluate(model, images, params.evaluate.batch_size, params.evaluate.seed)
    write_json(args.metrics_json, metrics)
    print(", ".join(f"{name} {value:.5g}" for name, value in metrics.items()))


if __name__ == "__main__":
    run_stage(main)
