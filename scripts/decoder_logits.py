"""Where a model's decoder puts its logits: on the test pixels that are exactly 0, and on the others.

    python scripts/decoder_logits.py                                        # models/model.pt
    python scripts/decoder_logits.py --rev likelihood-continuous-bernoulli  # a DVC experiment's model

Decodes the posterior means of the first --images test images and prints the 5th, 50th and 95th
percentiles of the logits on each set of pixels. A density on [0, 1] can grow without limit at an exact
0, and this shows whether the model has learned to chase that (README: which loss answers which question).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PERCENTILES = (0.05, 0.5, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", help="a git revision or DVC experiment name; default: the workspace's model")
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import dvc.api
    import torch

    from betavae.data import load_images
    from betavae.model import load_model

    with tempfile.TemporaryDirectory() as scratch:
        path = REPO / "models" / "model.pt"
        if args.rev:
            path = Path(scratch) / "model.pt"
            with dvc.api.open("models/model.pt", repo=str(REPO), rev=args.rev, mode="rb") as model_file:
                path.write_bytes(model_file.read())
        model = load_model(path)
    images = load_images(REPO / "data" / "fashion_mnist", "test")[0][:args.images]
    with torch.no_grad():
        logits = model.decode_logits(model.encode(images)[0])
    print(f"{model.loss} model{f' of {args.rev}' if args.rev else ''}, first {len(images)} test images:")
    for name, pixels in (("pixels that are exactly 0", images == 0), ("the other pixels", images > 0)):
        quantiles = torch.quantile(logits[pixels].double(), torch.tensor(PERCENTILES, dtype=torch.float64))
        shown = ", ".join(f"{p:.0%} {q:.3g}" for p, q in zip(PERCENTILES, quantiles.tolist()))
        print(f"  {name} ({pixels.float().mean():.0%} of all): logit percentiles {shown}")


if __name__ == "__main__":
    main()
