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
from betavae.machine import platform_record
from betavae.params import load_params
from studies.analysis.experiments import experiment_inputs, head_commit, load_experiment_model, stage_inputs
from studies.analysis.provenance import committed_inputs, own_settings, source
from studies.likelihood_options import RECORD as OPTIONS_RECORD
from studies.records import DATA, METRICS, PARAMS, REPO, command, read_record, relative, write_record

RECORD = METRICS / "test_nll.json"


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
    parser.add_argument("--output", default=str(RECORD))
    args = parser.parse_args()

    params = load_params(PARAMS)
    compute = configure(params.compute)
    model = load_experiment_model(REPO, args.rev).to(compute.device)
    if model.loss != "bce":
        sys.exit(f"error: the model was trained with train.loss {model.loss}; this NLL is for the Bernoulli "
                 f"on binarized data")
    test, _ = load_images(DATA, "test")
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
    measured = model_inputs(args.rev)
    arguments = (["--rev", args.rev] if args.rev else []) + ["--samples", *args.samples, "--images", args.images]
    write_record(Path(args.output), {
        "command": command(__spec__.name, arguments),
        "commit": head_commit(REPO), "model": args.rev or "models/model.pt", "images": len(inputs),
        "every": stride,
        "binarize_seed": params.data.binarize_seed, "platform": platform_record(params.compute),
        "samples": estimates,
        "inputs": measured,
        "settings": own_settings(measured, committed_inputs(REPO)),  # the model's own -S values, e.g. train.beta=1
    })
    print(f"wrote {relative(Path(args.output))}")


# --- Its tables in the docs -------------------------------------------------------------------------------


def test_nll_table() -> str:
    record = read_record(RECORD)
    lines = [f"{source(record)} The model of `{record['model']}`, every {record['every']}th test image "
             f"({record['images']:,}, all classes), binarized once.", "",
             "| K | test NLL = −IWAE_K [nats] | ± standard error over images | change from the first K, paired "
             "| time |", "|---|---|---|---|---|"]
    for k, estimate in sorted(record["samples"].items(), key=lambda item: int(item[0])):
        change = (f"{estimate['change_from_first_k']:.2f} ± {estimate['change_standard_error']:.2f}"
                  if "change_from_first_k" in estimate else "—")
        lines.append(f"| {int(k):,} | {estimate['nll_nats']:.2f} | {estimate['standard_error']:.2f} | {change} "
                     f"| {estimate['seconds'] / 60:.0f} min |")
    return "\n".join(lines)


def _estimates() -> tuple[dict, dict, dict]:
    """The record, its first and its largest K."""
    record = read_record(RECORD)
    samples = sorted(record["samples"].items(), key=lambda item: int(item[0]))
    return record, dict(samples[0][1], k=int(samples[0][0])), dict(samples[-1][1], k=int(samples[-1][0]))


def nll_cost() -> str:
    """Which images the estimate used, and what all of them would cost at the largest K."""
    record, _, largest = _estimates()
    whole = 10000 / record["images"] * largest["seconds"] / 60
    share = "all 10,000 test images" if record["images"] >= 10000 else (
        f"{record['images']:,} of the 10,000 test images (every {record['every']}th: all classes alike)")
    return (f"It used {share}: K = {largest['k']:,} took {largest['seconds'] / 60:.0f} min on them, so all "
            f"10,000 would take about {whole:.0f} min on the same 2 cores.")


PUBLISHED_NLL = 228.70  # Exemplar VAE (NeurIPS 2020), VAE with a Gaussian prior: docs/likelihoods.md cites it


def nll_comparison() -> str:
    """Our test NLL on the whole test set at the largest K: the whole set's first-K estimate (the likelihood
    options) plus the paired change from the first K to the largest, measured on the estimate's images."""
    _, first, largest = _estimates()
    whole = read_record(OPTIONS_RECORD)["options"]["binarized-beta-1"]["metrics"]["nll_nats"]
    estimate = whole + largest["change_from_first_k"]
    return (f"Ours: {whole:.2f} nats at K = {first['k']} on the whole test set (the options' table), and K = "
            f"{largest['k']:,} changes the estimate by {largest['change_from_first_k']:+.2f} ± "
            f"{largest['change_standard_error']:.2f} nats on the estimate's images, so about {estimate:.1f} at K = "
            f"{largest['k']:,} over the whole set, {estimate - PUBLISHED_NLL:+.1f} nats from theirs. The "
            f"{largest['nll_nats']:.2f} in the K table is the estimate's images' own mean, which differs from the "
            f"whole set's by sampling (± {largest['standard_error']:.1f}).")


TABLES = {"test-nll": test_nll_table, "nll-cost": nll_cost, "nll-comparison": nll_comparison}


if __name__ == "__main__":
    main()
