"""Measure how much every metric moves between seeds at the default params (the cross-platform yardstick).

    python scripts/seed_spread.py                # seeds 0-4; a seed takes ~15 min on 2 AVX2 cores (fp32)
    python scripts/seed_spread.py --seeds 0 1 2 3 4 5 6

For each seed s, the classifier, train and evaluate stages run as their own scripts, in a scratch
directory, with params.yaml as committed except classifier.seed, train.seed and evaluate.seed = s: a
run on another CPU is like a run with other seeds, since different rounding early on sends training
down another path. Writes metrics/seed_spread.json: every seed's metrics as the stages wrote them,
with the platform and commit they were measured on. `make check-repro` derives its tolerances from it;
`python scripts/docs.py` shows it as a table in docs/reproducibility.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "fashion_mnist"
SEEDED = (("classifier", "seed"), ("train", "seed"), ("evaluate", "seed"))


def params_with_seed(seed: int) -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, key in SEEDED:
        params[section][key] = seed
    return params


def run_stage(name: str, *args: str | Path) -> None:
    subprocess.run([sys.executable, "-m", f"stages.{name}", *map(str, args)], cwd=REPO, check=True)


def run_seed(seed: int, scratch: Path) -> dict:
    """classifier, train and evaluate with every seed set to `seed`; returns their metrics files' content."""
    work = scratch / f"seed-{seed}"
    work.mkdir()
    params = work / "params.yaml"
    params.write_text(yaml.safe_dump(params_with_seed(seed), sort_keys=False))
    run_stage("classifier", DATA, work / "classifier.pt", work / "classifier.json", "--params", params)
    run_stage("train", DATA, work / "model.pt", work / "training.csv", work / "platform.json", work / "resume",
              "--params", params)
    run_stage("evaluate", work / "model.pt", work / "classifier.pt", DATA, work / "eval.json", "--params", params)
    return {"metrics/classifier.json": json.loads((work / "classifier.json").read_text()),
            "metrics/eval.json": json.loads((work / "eval.json").read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--output", default=str(REPO / "metrics" / "seed_spread.json"))
    args = parser.parse_args()
    if len(args.seeds) < 3:
        parser.error("a spread needs at least 3 seeds")
    if not DATA.is_dir():
        sys.exit(f"error: {DATA} is missing; run `dvc repro download` first")
    sys.path.insert(0, str(REPO))
    from betavae.io import write_json
    from betavae.machine import platform_record
    from betavae.params import load_params
    from betavae.sweep import head_commit

    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        for done, seed in enumerate(args.seeds):
            started = time.monotonic()
            print(f"== seed {seed} ({done + 1} of {len(args.seeds)})", flush=True)
            runs[str(seed)] = run_seed(seed, Path(scratch))
            print(f"== seed {seed} took {time.monotonic() - started:.0f} s", flush=True)
    write_json(args.output, {
        "command": "python scripts/seed_spread.py --seeds " + " ".join(map(str, args.seeds)),
        "commit": head_commit(REPO),
        "varied": [f"{section}.{key}" for section, key in SEEDED],
        "platform": platform_record(load_params(REPO / "params.yaml").compute),
        "seeds": runs,
    })
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
