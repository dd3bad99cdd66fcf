"""Training speed: a plain PyTorch loop (the reference) against the pipeline's training, side by side.

    python -m benchmarks.train_speed            # 20 epochs each, then the timings in a fresh clone (~25 min)
    python -m benchmarks.train_speed --epochs 2 --no-dvc

Each side trains in its own child process (so its peak memory is its own) on the same data, for the
same number of epochs, and is scored on the test set. The reference follows pytorch/examples' VAE: a
DataLoader over torchvision's dataset with ToTensor, fp32, batch 128, Adam at 1e-3, the same model and
the same per-image loss. Then, in a fresh clone of HEAD: the whole default `dvc repro` and a `dvc repro`
with nothing to do (with this environment's packages), and `make test` as the quick start runs it: its
own .venv first (pip, from its cache where it has one), then the suite, whose own time is kept too.
Results go to benchmarks/results.json, one entry per kind of machine (processor model, family and
instruction set, or GPU), so a run on one kind keeps the others' results; `python -m tools.docs` turns
them into the timing tables of the README and docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from betavae.compute import configure
from betavae.data import load_images
from betavae.evaluation import evaluate
from betavae.machine import platform_record
from betavae.model import BetaVAE
from betavae.objective import beta_vae_loss
from betavae.params import load_params
from betavae.training import train
from studies.analysis.experiments import head_commit
from studies.analysis.provenance import committed_inputs, provenance
from studies.records import DATA, PARAMS, REPO

RESULTS = REPO / "benchmarks" / "results.json"
SUITE_COMMAND = ("make", "test")  # the README's test command, .venv included


def train_reference(epochs: int, threads: int) -> tuple[torch.nn.Module, int]:
    """pytorch/examples-style loop; returns the model and the number of training images seen."""
    from torchvision import datasets, transforms  # here: tools.docs imports this module for its tables only
    params = load_params(PARAMS)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dataset = datasets.FashionMNIST(str(DATA), train=True, download=False, transform=transforms.ToTensor())
    loader = DataLoader(dataset, batch_size=128, shuffle=True)
    model = BetaVAE(params.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for images, _ in loader:
            optimizer.zero_grad()
            logits, mu, logvar = model(images)
            loss = beta_vae_loss("bce", logits, images, mu, logvar, params.train.beta).loss
            loss.backward()
            optimizer.step()
    return model.eval(), epochs * len(dataset)


def train_pipeline(epochs: int) -> tuple[torch.nn.Module, int]:
    """The train stage's own code with params.yaml; images seen excludes the validation passes."""
    params = load_params(PARAMS)
    compute = configure(params.compute)
    images, _ = load_images(DATA, "train")
    # A shorter run (--epochs) keeps the KL warm-up within it.
    settings = dataclasses.replace(params.train, epochs=epochs,
                                   kl_warmup_epochs=min(params.train.kl_warmup_epochs, epochs))
    with tempfile.TemporaryDirectory() as scratch:
        model = train(images, params.model, settings, Path(scratch) / "log.csv", compute, verbose=0)
    return model, epochs * (len(images) - settings.val_size)


def run_side(side: str, epochs: int, threads: int) -> dict:
    """Train one side, then score it; runs inside the child process."""
    start = time.perf_counter()
    model, seen = train_reference(epochs, threads) if side == "reference" else train_pipeline(epochs)
    seconds = time.perf_counter() - start
    torch.set_num_threads(threads)
    test_images, _ = load_images(DATA, "test")
    test_mse = evaluate(model, test_images, test_images, batch_size=1000, seed=0, binary_pixels=False)["test_mse"]
    return {"seconds": round(seconds, 2), "images_per_s": round(seen / seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "test_mse": test_mse, "epochs": epochs}


def in_child(side: str, epochs: int, threads: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.train_speed", "--side", side, "--epochs", str(epochs),
               "--threads", str(threads)]
    print(f"training {side} for {epochs} epochs ...", flush=True)
    output = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def time_command(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str]:
    """Seconds the command took, and its standard output; its output is shown if it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return round(time.perf_counter() - start, 2), result.stdout


def pytest_seconds(output: str) -> float:
    """The suite's own time from pytest's last line, e.g. `== 379 passed in 326.03s (0:05:26) ==`."""
    found = re.findall(r" passed.* in ([0-9.]+)s\b", output)
    if not found:
        raise ValueError("no pytest summary line (`N passed in Ss`) in the output")
    return float(found[-1])


def time_dvc() -> dict:
    """In a fresh clone of HEAD: the whole default pipeline and a `dvc repro` with nothing to do (this
    environment's packages), then `make test` from scratch (its own .venv, then the suite)."""
    venv = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # stages' python
    dvc = ["dvc", "repro"]
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        print("running the whole default dvc repro in a fresh clone ...", flush=True)
        result = {"full_dvc_repro_s": time_command(dvc, clone, venv)[0],
                  "noop_dvc_repro_s": time_command(dvc, clone, venv)[0]}
        print("running make test in another fresh clone (its .venv first) ...", flush=True)
        tests = Path(scratch) / "tests-clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(tests)], check=True)
        result["make_test_s"], output = time_command(list(SUITE_COMMAND), tests)
        result["pytest_s"] = pytest_seconds(output)
    return result


def machine_kind(record: dict) -> str:
    """The key of a machine kind in results.json, e.g. `AMD EPYC (family 26, model 2; AVX512-BF16)`."""
    family = f"{record['cpu_family']}; " if record.get("cpu_family") else ""
    kind = f"{record['cpu_model']} ({family}{record['instruction_set']})"
    return f"{kind}, {record['gpu']}" if record["gpu"] else kind


def save_results(results: dict, kind: str) -> None:
    """Replace this kind's entry in results.json, keep the other kinds'."""
    saved = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    by_kind = saved.get("by_machine_kind", {})
    by_kind[kind] = results
    RESULTS.write_text(json.dumps({"by_machine_kind": dict(sorted(by_kind.items()))}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="default: train.epochs from params.yaml")
    parser.add_argument("--threads", type=int, default=None, help="default: compute.threads from params.yaml")
    parser.add_argument("--no-dvc", action="store_true", help="skip the dvc repro timings")
    parser.add_argument("--side", choices=("reference", "pipeline"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    params = load_params(PARAMS)
    epochs = args.epochs or params.train.epochs
    threads = args.threads or params.compute.threads
    if args.side:
        print(json.dumps(run_side(args.side, epochs, threads)))
        return

    record = platform_record(dataclasses.replace(params.compute, threads=threads))
    results = {"machine": {**record, "cores": len(os.sched_getaffinity(0))},
               "compute": dataclasses.asdict(params.compute),
               # the code it timed: stale once train's or evaluate's inputs change (tools.docs --check)
               "commit": head_commit(REPO), "inputs": committed_inputs(REPO),
               "reference": in_child("reference", epochs, threads),
               "pipeline": in_child("pipeline", epochs, threads)}
    results["speedup"] = round(results["pipeline"]["images_per_s"] / results["reference"]["images_per_s"], 2)
    results["mse_change"] = round(results["pipeline"]["test_mse"] / results["reference"]["test_mse"] - 1, 4)
    save_results(results, machine_kind(record))  # the training results are kept if the timings fail
    if not args.no_dvc:
        results["dvc"] = time_dvc()
        save_results(results, machine_kind(record))
    print(json.dumps(results, indent=2))


# --- Its tables in the docs -------------------------------------------------------------------------------


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _make_test(dvc: dict) -> str:
    """`make test` from a fresh clone, and the suite's own part of it."""
    if dvc.get("pytest_s") is None:
        return "—"
    return f"{_minutes(dvc['make_test_s'])} (tests {_minutes(dvc['pytest_s'])})"


def _historical_entries(kinds: dict) -> list[str]:
    """A line per benchmark entry kept as historical, with its reason."""
    return [f"{kind}: {provenance(entry)}" for kind, entry in kinds.items() if "historical" in entry]


def benchmark_table() -> str:
    kinds = json.loads(RESULTS.read_text())["by_machine_kind"]
    lines = ["| machine kind | precision | reference img/s | pipeline img/s | speed-up | test MSE ref / ours "
             "| whole `dvc repro`, fresh clone | no-op `dvc repro` | `make test`, fresh clone (its tests) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for kind, result in kinds.items():
        ref, ours, dvc = result["reference"], result["pipeline"], result.get("dvc", {})
        lines.append(f"| {kind} | {result['machine']['precision']} | {ref['images_per_s']:,.0f} "
                     f"| {ours['images_per_s']:,.0f} | {result['speedup']:.2f}× "
                     f"| {ref['test_mse']:.5f} / {ours['test_mse']:.5f} "
                     f"| {_minutes(dvc.get('full_dvc_repro_s'))} | {dvc.get('noop_dvc_repro_s', '—')} s "
                     f"| {_make_test(dvc)} |")
    return "\n".join(lines + ["", *_historical_entries(kinds)] if _historical_entries(kinds) else lines)


def timings_table() -> str:
    """The README's short form of the benchmark table: how long the two quick-start commands take."""
    kinds = json.loads(RESULTS.read_text())["by_machine_kind"]
    lines = ["| CPU kind, 2 cores (`python -m benchmarks.train_speed`) | `dvc repro`, all stages | `make test` |",
             "|---|---|---|"]
    for kind, result in kinds.items():
        dvc = result.get("dvc", {})
        lines.append(f"| {kind}, {result['machine']['precision']} | {_minutes(dvc.get('full_dvc_repro_s'))} "
                     f"| {_make_test(dvc)} |")
    historical = [kind for kind, result in kinds.items() if "historical" in result]
    if historical:
        lines += ["", f"Measured on older training code: {'; '.join(historical)} (which code: "
                      f"[performance](docs/performance.md))."]
    return "\n".join(lines)


TABLES = {"benchmark": benchmark_table, "timings": timings_table}


if __name__ == "__main__":
    main()
