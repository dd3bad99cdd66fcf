"""Train and evaluate each way of scoring the images, as DVC experiments, and record their metrics.

    python scripts/likelihood_options.py                                        # the four options below
    python scripts/likelihood_options.py --nll-samples 5000 --nll-images 1000   # and the test NLL at K = 5000

| option | settings | what its numbers are |
|---|---|---|
| bernoulli-grey | the committed params | Bernoulli cross-entropy on grey levels: an objective, no likelihood |
| continuous-bernoulli | train.loss=continuous_bernoulli | ELBO and IWAE bound of a density on [0, 1]^784 |
| binarized | data.binarize=true | ELBO and IWAE bound of binarized images, at the default beta |
| binarized-beta-1 | data.binarize=true, train.beta=1 | the plain VAE: its NLL compares with published ones |

Each option runs `dvc exp run -S ... --name likelihood-OPTION` in the workspace, so only the stages
that depend on the changed params run again (an option equal to the commit restores from the run
cache). With --nll-samples, the last option's model also gets the importance-sampled test NLL
-IWAE_K on the first --nll-images binarized test images, next to K = evaluate.iwae_samples on the
same images. The workspace is put back to the commit afterwards. Writes
metrics/likelihood_options.json; `python scripts/docs.py` renders it in the README.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OPTIONS = {
    "bernoulli-grey": [],
    "continuous-bernoulli": ["train.loss=continuous_bernoulli"],
    "binarized": ["data.binarize=true"],
    "binarized-beta-1": ["data.binarize=true", "train.beta=1"],
}
NLL_OPTION = "binarized-beta-1"  # the last to run: the workspace still holds its model for the NLL


def experiment_name(option: str) -> str:
    return f"likelihood-{option}"


def importance_sampled_nll(samples: list[int], images: int) -> dict:
    """-IWAE_K of the workspace's model on the first `images` binarized test images, for each K."""
    import torch

    from betavae.compute import configure
    from betavae.data import binarize_once, load_images
    from betavae.evaluation import iwae_bound
    from betavae.model import load_model
    from betavae.params import load_params

    params = load_params(REPO / "params.yaml")
    configure(params.compute)
    model = load_model(REPO / "models" / "model.pt")
    test, _ = load_images(REPO / "data" / "fashion_mnist", "test")
    inputs = binarize_once(test, params.data.binarize_seed)[:images]
    results = {}
    for k in samples:
        started = time.monotonic()
        generator = torch.Generator().manual_seed(params.evaluate.seed)
        nll = -iwae_bound(model, inputs, k, params.evaluate.batch_size, generator, progress=True)
        results[str(k)] = {"nll_nats": nll.mean().item(),
                           "standard_error": nll.std().item() / math.sqrt(len(nll)),
                           "seconds": round(time.monotonic() - started)}
        print(f"K = {k}: test NLL {results[str(k)]['nll_nats']:.2f} ± {results[str(k)]['standard_error']:.2f} "
              f"nats on {len(nll)} images", flush=True)
    return {"option": NLL_OPTION, "images": len(inputs), "binarize_seed": params.data.binarize_seed,
            "samples": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nll-samples", type=int, help="K of the test NLL estimate of the last option")
    parser.add_argument("--nll-images", type=int, default=10000, help="first N test images for that estimate")
    parser.add_argument("--output", default=str(REPO / "metrics" / "likelihood_options.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from betavae.io import write_json
    from betavae.machine import platform_record
    from betavae.params import load_params
    from betavae.sweep import exp_show, experiment_results, restore_workspace, run_experiment

    params = load_params(REPO / "params.yaml")
    nll = None
    try:
        for done, (option, settings) in enumerate(OPTIONS.items()):
            print(f"== {option}: {' '.join(settings) or 'the committed params'}", flush=True)
            if done:
                restore_workspace(REPO)  # each option changes the committed params, not the last option's
            run_experiment(REPO, experiment_name(option), settings)
        if args.nll_samples:
            nll = importance_sampled_nll(sorted({params.evaluate.iwae_samples, args.nll_samples}), args.nll_images)
    finally:
        restore_workspace(REPO)
    results = experiment_results(exp_show(REPO), [experiment_name(option) for option in OPTIONS])
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    flags = f" --nll-samples {args.nll_samples} --nll-images {args.nll_images}" if args.nll_samples else ""
    write_json(args.output, {
        "command": "python scripts/likelihood_options.py" + flags,
        "commit": commit,
        "platform": platform_record(params.compute),
        "options": {option: {"settings": settings, "metrics": results[experiment_name(option)]["metrics"]}
                    for option, settings in OPTIONS.items()},
        "nll": nll,
    })
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
