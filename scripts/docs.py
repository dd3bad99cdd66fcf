"""Refresh the generated tables in README.md and docs/*.md from the committed results, so they cannot drift.

    python scripts/docs.py            # rewrite every block between <!-- generated: NAME --> and <!-- end -->
    python scripts/docs.py --check    # exit 1 if any block is out of date (the tests run this)

Blocks: `headline` and `metrics` (metrics/*.json), `platform` (metrics/platform.json), `seed-spread`
(metrics/seed_spread.json), `likelihood-options` (metrics/likelihood_options.json), `test-nll`
(metrics/test_nll.json), `benchmark` (benchmarks/results.json).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from statistics import median
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end -->)", re.DOTALL)


def read_json(path: str) -> dict:
    return json.loads((REPO / path).read_text())


def _number(value: object) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def metrics_table() -> str:
    from betavae.reproducibility import flatten
    lines = ["| file | metric | value |", "|---|---|---|"]
    for path in ("metrics/classifier.json", "metrics/eval.json"):
        for name, value in flatten(read_json(path)).items():
            lines.append(f"| `{path}` | {name} | {_number(value)} |")
    return "\n".join(lines)


def headline_table() -> str:
    metrics = read_json("metrics/eval.json")
    return "\n".join([
        "| test MSE per pixel | active latent units | linear-probe accuracy from μ |", "|---|---|---|",
        f"| {metrics['test_mse']:.4f} (reference to beat: 0.0265) | {metrics['active_units']} of "
        f"{len(metrics['kl_per_dimension'])} | {metrics['linear_probe_accuracy']:.3f} (chance: 0.1) |"])


def platform_table() -> str:
    record = read_json("metrics/platform.json")
    return "\n".join(["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in record.items())])


def seed_spread_table() -> str:
    from betavae.reproducibility import allowed_difference, comparable, seed_spread
    spread_file = read_json("metrics/seed_spread.json")
    runs = {seed: comparable(files) for seed, files in spread_file["seeds"].items()}
    spread = seed_spread(spread_file["seeds"])
    platform = spread_file["platform"]
    lines = [f"Measured by `{spread_file['command']}` at commit `{spread_file['commit'][:7]}` on "
             f"{platform['cpu_model']} ({platform['instruction_set']}, {platform['precision']}, "
             f"{platform['threads']} threads); varied together: {', '.join(spread_file['varied'])}.", "",
             "| metric | " + " | ".join(f"seed {seed}" for seed in runs) + " | median | robust sd | allowed difference |",
             "|---" * (len(runs) + 4) + "|"]
    for metric, sd in spread.items():
        values = [float(run[metric]) for run in runs.values()]
        cells = [_number(run[metric]) for run in runs.values()]
        cells += [f"{median(values):.5g}", f"{sd:.3g}", f"{allowed_difference(metric, spread):.3g}"]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def likelihood_options_table() -> str:
    record = read_json("metrics/likelihood_options.json")
    platform = record["platform"]
    from betavae.params import load_params
    k = load_params(REPO / "params.yaml").evaluate.iwae_samples
    lines = [f"From `{record['command']}` at commit `{record['commit'][:7]}` on {platform['cpu_model']} "
             f"({platform['instruction_set']}, {platform['precision']}, {platform['threads']} threads), 20 epochs "
             f"each, the 10,000 test images; nats per image, bounds higher is better; K = {k} "
             f"(`evaluate.iwae_samples`).", "",
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


def test_nll_table() -> str:
    record = read_json("metrics/test_nll.json")
    platform = record["platform"]
    lines = [f"From `{record['command']}` at commit `{record['commit'][:7]}` on {platform['cpu_model']} "
             f"({platform['instruction_set']}, {platform['threads']} threads): the model of `{record['model']}`, "
             f"every {record['every']}th test image ({record['images']:,}, all classes), binarized once.", "",
             "| K | test NLL = −IWAE_K [nats] | ± standard error over images | change from the first K, paired "
             "| time |", "|---|---|---|---|---|"]
    for k, estimate in sorted(record["samples"].items(), key=lambda item: int(item[0])):
        change = (f"{estimate['change_from_first_k']:.2f} ± {estimate['change_standard_error']:.2f}"
                  if "change_from_first_k" in estimate else "—")
        lines.append(f"| {int(k):,} | {estimate['nll_nats']:.2f} | {estimate['standard_error']:.2f} | {change} "
                     f"| {estimate['seconds'] / 60:.0f} min |")
    return "\n".join(lines)


def benchmark_table() -> str:
    kinds = read_json("benchmarks/results.json")["by_machine_kind"]
    lines = ["| machine kind | precision | reference img/s | pipeline img/s | speed-up | test MSE ref / ours "
             "| whole `dvc repro`, fresh clone | no-op `dvc repro` |", "|---|---|---|---|---|---|---|---|"]
    for kind, result in kinds.items():
        ref, ours, dvc = result["reference"], result["pipeline"], result.get("dvc", {})
        lines.append(f"| {kind} | {result['machine']['precision']} | {ref['images_per_s']:,.0f} "
                     f"| {ours['images_per_s']:,.0f} | {result['speedup']:.2f}× "
                     f"| {ref['test_mse']:.5f} / {ours['test_mse']:.5f} "
                     f"| {dvc.get('full_dvc_repro_s', '-')} s | {dvc.get('noop_dvc_repro_s', '-')} s |")
    return "\n".join(lines)


GENERATORS: dict[str, Callable[[], str]] = {
    "headline": headline_table, "metrics": metrics_table, "platform": platform_table, "seed-spread": seed_spread_table,
    "likelihood-options": likelihood_options_table, "test-nll": test_nll_table, "benchmark": benchmark_table,
}


def refreshed(text: str) -> str:
    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise SystemExit(f"error: unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        return f"{match.group(1)}{GENERATORS[name]()}\n{match.group(4)}"
    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if a block is out of date; write nothing")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    stale = []
    for page in PAGES:
        text = page.read_text()
        new = refreshed(text)
        if new != text:
            stale.append(page.relative_to(REPO).as_posix())
            if not args.check:
                page.write_text(new)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run `python scripts/docs.py`", file=sys.stderr)
        return 1
    print(("refreshed: " + ", ".join(stale)) if stale else "every generated block is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
