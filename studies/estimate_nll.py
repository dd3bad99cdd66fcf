"""The test NLL of a model trained on binarized data, by importance sampling (−IWAE_K), at several K.

    python -m studies.estimate_nll --rev likelihood-binarized-beta-1 --samples 50 5000 --images 2000

The model comes from the workspace (models/model.pt) or, with --rev, from a git revision or DVC
experiment. The test images are binarized once with data.binarize_seed, as the evaluate stage does;
--images N takes every (10000 / N)-th of them, so that every class is there (the split is sorted by
label). The same images and evaluate.seed serve every K. Writes metrics/test_nll.json; K = 5000 over
all 10,000 images takes about 85 min on 2 CPU cores (AMD EPYC Zen 4); the IWAE pass uses the GPU where there is one.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import yaml

from betavae.compute import configure
from betavae.data import binarize_once, load_images
from betavae.evaluation import iwae_bound
from betavae.io import write_json
from betavae.machine import platform_record
from betavae.params import load_params
from studies.analysis.experiments import experiment_inputs, head_commit, load_experiment_model, stage_inputs
from studies.analysis.provenance import committed_inputs, own_settings

REPO = Path(__file__).resolve().parent.parent


def model_inputs(rev: str | None) -> dict:
    """The code and params of train and evaluate behind the model: its experiment's, or the workspace's."""
    if rev:
        return experiment_inputs(REPO, rev)
    return stage_inputs(yaml.safe_load((REPO / "dvc.lock").read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", help="a git revision or DVC experiment name; default: the workspace's model")
    parser.add_argument("--samples", type=int, nargs="+", default=[50, 5000], help="the values of K")
    parser.add_argument("--images", type=int, default=10000, help="how many test images, spread over the split")
    parser.add_argument("--output", default=str(REPO / "metrics" / "test_nll.json"))
    args = parser.parse_args()

    params = load_params(REPO / "params.yaml")
    compute = configure(params.compute)
    model = load_experiment_model(REPO, args.rev).to(compute.device)
    if model.loss != "bce":
        sys.exit(f"error: the model was trained with train.loss {model.loss}; this NLL is for the Bernoulli "
                 f"on binarized data")
    test, _ = load_images(REPO / "data" / "fashion_mnist", "test")
    stride = max(1, len(test) // args.images)
    inputs = binarize_once(test, params.data.binarize_seed)[::stride][:args.images].to(compute.device)
    estimates = {}
    for k in args.samples:
        started = time.monotonic()
        generator = torch.Generator().manual_seed(params.evaluate.seed)
        nll = -iwae_bound(model, inputs, k, params.evaluate.batch_size, generator, progress=True).cpu().double()
        estimates[str(k)] = {"nll_nats": nll.mean().item(), "standard_error": nll.std().item() / math.sqrt(len(nll)),
                             "seconds": round(time.monotonic() - started)}
        if len(estimates) == 1:
            first = nll
        else:  # paired on the same images: far more precise than either estimate alone
            gap = nll - first
            estimates[str(k)]["change_from_first_k"] = gap.mean().item()
            estimates[str(k)]["change_standard_error"] = gap.std().item() / math.sqrt(len(gap))
        print(f"K = {k}: test NLL {nll.mean():.2f} ± {estimates[str(k)]['standard_error']:.2f} nats "
              f"({len(nll)} images, {estimates[str(k)]['seconds']} s)", flush=True)
    rev = f" --rev {args.rev}" if args.rev else ""
    measured = model_inputs(args.rev)
    write_json(args.output, {
        "command": f"python -m studies.estimate_nll{rev} --samples {' '.join(map(str, args.samples))} "
                   f"--images {args.images}",
        "commit": head_commit(REPO), "model": args.rev or "models/model.pt", "images": len(inputs),
        "every": stride,
        "binarize_seed": params.data.binarize_seed, "platform": platform_record(params.compute),
        "samples": estimates,
        "inputs": measured,
        "settings": own_settings(measured, committed_inputs(REPO)),  # the model's own -S values, e.g. train.beta=1
    })
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
