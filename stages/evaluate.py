"""evaluate: test-set MSE, the reconstruction term (with the ELBO and IWAE bounds where it is a likelihood),
KL per dimension, active units, probes, sample quality."""

from __future__ import annotations

import sys
from typing import Sequence

from betavae.activity import collapse_warning
from betavae.classifier import load_classifier
from betavae.cli import run_stage
from betavae.compute import configure
from betavae.data import load_images
from betavae.evaluation import full_evaluation
from betavae.io import write_json
from betavae.model import load_model
from betavae.params import parse_stage_args


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["model", "classifier", "data_dir", "metrics_json"])
    configure(params.compute)
    model = load_model(args.model)
    classifier = load_classifier(args.classifier)
    train, test = load_images(args.data_dir, "train"), load_images(args.data_dir, "test")
    metrics = full_evaluation(model, classifier, train, test, params.evaluate, params.data)
    write_json(args.metrics_json, metrics)
    print(", ".join(f"{name} {value:.5g}" for name, value in metrics.items() if isinstance(value, (int, float))))
    warning = collapse_warning(metrics["active_units"], model.config.latent_dim, "test images")
    if warning:
        print(warning, file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
