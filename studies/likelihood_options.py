"""Train and evaluate each way of scoring the images, as DVC experiments, and record their metrics.

    python -m studies.likelihood_options        # the four options below, one after another

| option | settings | what its numbers are |
|---|---|---|
| bernoulli-grey | the committed params | Bernoulli cross-entropy on grey levels: an objective, no likelihood |
| continuous-bernoulli | train.loss=continuous_bernoulli | ELBO and IWAE bound of a density on [0, 1]^784 |
| binarized | data.binarize=true | ELBO and IWAE bound of binarized images, at the default beta |
| binarized-beta-1 | data.binarize=true, train.beta=1 | the plain VAE: its NLL compares with published ones |

Each option runs `dvc exp run -S ... --name likelihood-OPTION evaluate` in the workspace, so only the
stages up to `evaluate` that depend on the changed params run again (an option's figures: `dvc exp apply`
it, then `dvc repro`). An option whose stages ran before with the same params, code and data (the
committed params after `dvc repro`, say) is restored from DVC's run cache instead of run. An option that is already an experiment of this commit is kept, so an interrupted run resumes. The
workspace is put back to the commit afterwards. Writes metrics/likelihood_options.json;
`python -m tools.docs` renders it in docs/likelihoods.md. The test NLL at K = 5000 of the plain VAE on
binarized data: `python -m studies.estimate_nll --rev likelihood-binarized-beta-1`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from betavae.machine import platform_record
from betavae.params import load_params
from studies.analysis.experiments import (exp_show, experiment_inputs, experiment_results, head_commit,
                                          run_experiments)
from studies.analysis.provenance import source
from studies.records import METRICS, PARAMS, REPO, command, read_record, relative, write_record

RECORD = METRICS / "likelihood_options.json"
OPTIONS = {
    "bernoulli-grey": [],
    "continuous-bernoulli": ["train.loss=continuous_bernoulli"],
    "binarized": ["data.binarize=true"],
    "binarized-beta-1": ["data.binarize=true", "train.beta=1"],
}


def experiment_name(option: str) -> str:
    return f"likelihood-{option}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(RECORD))
    args = parser.parse_args()

    params = load_params(PARAMS)
    run_experiments(REPO, {experiment_name(option): settings for option, settings in OPTIONS.items()},
                    targets=["evaluate"])
    results = experiment_results(exp_show(REPO), [experiment_name(option) for option in OPTIONS])
    write_record(Path(args.output), {
        "command": command(__spec__.name),
        "commit": head_commit(REPO),
        "platform": platform_record(params.compute),
        "options": {option: {"settings": settings, "metrics": results[experiment_name(option)]["metrics"]}
                    for option, settings in OPTIONS.items()},
        # what train and evaluate ran on, the options' own settings aside: the committed option's inputs
        "inputs": experiment_inputs(REPO, results[experiment_name("bernoulli-grey")]["rev"]),
    })
    print(f"wrote {relative(Path(args.output))}")


# --- Its table in the docs --------------------------------------------------------------------------------


def likelihood_options_table() -> str:
    record = read_record(RECORD)
    k = load_params(PARAMS).evaluate.iwae_samples
    lines = [f"{source(record)} 20 epochs each, the 10,000 test images; nats per image, bounds higher is better; "
             f"K = {k} (`evaluate.iwae_samples`).", "",
             "| option | settings | test MSE | KL | reconstruction term | ELBO | IWAE_K bound | test NLL = −IWAE_K |",
             "|---|---|---|---|---|---|---|---|"]
    for option, result in record["options"].items():
        m = result["metrics"]
        settings = ", ".join(f"`{setting}`" for setting in result["settings"]) or "committed `params.yaml`"
        if "elbo_nats" in m:
            term = f"{m['reconstruction_nats']:.2f} (−log p(x\\|z))"
            nll = f"{m['nll_nats']:.2f}" if "nll_nats" in m else "—"
            bounds = [f"{m['elbo_nats']:.2f}", f"{m['iwae_nats']:.2f}", nll]
        else:
            term = f"{m['bce_reconstruction']:.2f} (Bernoulli objective)"
            bounds = ["— (not a likelihood)"] * 3
        lines.append(f"| {option} | {settings} | {m['test_mse']:.4f} | {m['kl_nats']:.2f} | {term} | "
                     + " | ".join(bounds) + " |")
    return "\n".join(lines)


TABLES = {"likelihood-options": likelihood_options_table}


if __name__ == "__main__":
    main()
