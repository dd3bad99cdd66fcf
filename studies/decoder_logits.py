"""Where a model's decoder puts its logits: on the test pixels that are exactly 0, and on the others.

    python -m studies.decoder_logits                                        # models/model.pt
    python -m studies.decoder_logits --rev likelihood-continuous-bernoulli  # a DVC experiment's model

Decodes the posterior means of --images test images (spread over the split, so every class is there)
and prints the 5th, 50th and 95th percentiles of the logits on each set of pixels. A density on [0, 1] can grow without limit at an exact
0, and this shows whether the model has learned to chase that (docs/likelihoods.md).
"""

from __future__ import annotations

import argparse

import torch

from betavae.data import load_images
from studies.analysis.experiments import load_experiment_model
from studies.records import DATA, REPO

PERCENTILES = (0.05, 0.5, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", help="a git revision or DVC experiment name; default: the workspace's model")
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()

    model = load_experiment_model(REPO, args.rev)
    test = load_images(DATA, "test")[0]
    images = test[::max(1, len(test) // args.images)][:args.images]  # every class: the split is sorted by label
    with torch.no_grad():
        logits = model.decode_logits(model.encode(images)[0])
    print(f"{model.loss} model{f' of {args.rev}' if args.rev else ''}, {len(images)} test images of all classes:")
    for name, pixels in (("pixels that are exactly 0", images == 0), ("the other pixels", images > 0)):
        quantiles = torch.quantile(logits[pixels].double(), torch.tensor(PERCENTILES, dtype=torch.float64))
        shown = ", ".join(f"{p:.0%} {q:.3g}" for p, q in zip(PERCENTILES, quantiles.tolist()))
        print(f"  {name} ({pixels.float().mean():.0%} of all): logit percentiles {shown}")


if __name__ == "__main__":
    main()
