"""classifier: train the small Fashion-MNIST classifier whose features score samples offline."""

from __future__ import annotations

from typing import Sequence

from betavae.classifier import predict, save_classifier, train_classifier
from betavae.cli import run_stage
from betavae.compute import configure
from betavae.data import load_images
from betavae.io import write_json
from betavae.params import parse_stage_args


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["data_dir", "model", "metrics_json"])
    compute = configure(params.compute)
    images, labels = load_images(args.data_dir, "train")
    model = train_classifier(images, labels, params.classifier, compute)
    test_images, test_labels = load_images(args.data_dir, "test")
    accuracy = predict(model, test_images).eq(test_labels).float().mean().item()
    save_classifier(model, args.model)
    write_json(args.metrics_json, {"classifier_test_accuracy": accuracy})
    print(f"classifier test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    run_stage(main)
