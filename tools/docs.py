"""Refresh the generated tables in README.md and docs/*.md from the committed results, so they cannot drift.

    python -m tools.docs            # rewrite every block between <!-- generated: NAME --> and <!-- end -->
    python -m tools.docs --check    # exit 1 if any block is out of date (the tests run this)

Blocks: `stages` (dvc.yaml), `headline` and `metrics` (metrics/*.json), `platform` (metrics/platform.json),
`seed-spread` (metrics/seed_spread.json), `check-proof` (metrics/check_proof.json), `collapse-check`
(metrics/seed_spread.json and metrics/seed_spread_avx2.json), `likelihood-options`
(metrics/likelihood_options.json), `test-nll`, `nll-cost` and `nll-comparison` (metrics/test_nll.json),
`benchmark` and `timings` (benchmarks/results.json), `sweep-headline`, `sweep-summary`, `sweep-comparison`,
`sweep-udr` and `seed-sd-by-beta` (metrics/beta_sweep.json), `slurm-scripts` (studies/slurm/),
`mutation-summary` and `mutation-survivors` (metrics/mutation.json).

It formats what the studies recorded, their verdicts included; it decides nothing. `--check` also fails on
a study record that no longer describes the committed pipeline (studies.analysis.provenance).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from statistics import mean, stdev
from typing import Callable

import yaml

from betavae.canonical import md5
from betavae.params import load_params
from studies.analysis.provenance import provenance, stale_records
from studies.analysis.reproducibility import comparable, flatten
from studies.analysis.sweep import summary_of_record

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end -->)", re.DOTALL)


def read_json(path: str) -> dict:
    return json.loads((REPO / path).read_text())


def _number(value: object) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def metrics_table() -> str:
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
        f"{_latent_dim()} | {metrics['linear_probe_accuracy']:.3f} (chance: 0.1) |"])


def _latent_dim() -> int:
    """The committed model's latent dimension: params.yaml's, which the committed runs and spreads all use."""
    return load_params(REPO / "params.yaml").model.latent_dim


def platform_table() -> str:
    record = read_json("metrics/platform.json")
    return "\n".join(["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in record.items())])


def _committed_files() -> dict:
    return {path: read_json(path) for path in ("metrics/eval.json", "metrics/classifier.json")}


def seed_spread_table() -> str:
    """Every seed's compared metrics, and the mean, sd and tolerance the seed spread recorded for the check."""
    spread_file = read_json("metrics/seed_spread.json")
    check, platform = spread_file["check"], spread_file["platform"]
    runs = {seed: comparable(files) for seed, files in spread_file["seeds"].items()}
    own = check["committed_seed"]
    lines = [f"Measured by `{spread_file['command']}` at commit `{spread_file['commit'][:7]}` on "
             f"{platform['cpu_model']} ({platform.get('cpu_family', 'family unknown')}; "
             f"{platform['instruction_set']}, {platform['precision']}, {platform['threads']} threads); varied "
             f"together: {', '.join(spread_file['varied'])}. Collapsed seeds: "
             f"{', '.join(check['collapsed_seeds']) or 'none'}. The tolerances are the check's on this commit: sd over the "
             f"{len(check['healthy_seeds'])} healthy seeds other than the committed run"
             + (f" (seed {own})" if own else "") + f", {check['metrics_tested']} metrics tested together, so "
             f"t = {check['critical_t']:.3g} ({check['degrees_of_freedom']} degrees of freedom) and tolerance = "
             f"{check['critical_t']:.3g} × √2 × sd.", "",
             "| metric | " + " | ".join(f"seed {seed}" for seed in runs) + " | mean | sd | tolerance |",
             "|---" * (len(runs) + 4) + "|"]
    for metric, row in check["metrics"].items():
        cells = [_number(run[metric]) for run in runs.values()]
        cells += [f"{row['mean']:.5g}", f"{row['sd']:.3g}", f"{row['tolerance']:.3g}"]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _share(outcome: dict) -> str:
    hits, trials = outcome["failed"], outcome["trials"]
    return f"{hits} of {trials} ({100 * hits / trials:.0f}%)" if trials else "—"


def check_proof_table() -> str:
    """False alarms over healthy seed pairs, every seed against the committed run, each regression's share
    caught, and the platform change: the verdicts studies.check_proof recorded."""
    spread_file, proof = read_json("metrics/seed_spread.json"), read_json("metrics/check_proof.json")
    verdicts, platform = proof["verdicts"], proof["platform_change"]
    lines = [f"Made by `{spread_file['command']}` and `{proof['command']}` (commit `{proof['commit'][:7]}`), judged "
             f"by the check's own rule (`studies.analysis.reproducibility.judge`) against this commit's seed spread, "
             f"each time leaving out the runs being compared. {provenance(proof)}".rstrip(),
             "", "| comparison | pairs | failed (false alarms) or caught |", "|---|---|---|",
             f"| healthy seed against healthy seed, spread from the other seeds | "
             f"{verdicts['healthy_pairs']['trials']} | {_share(verdicts['healthy_pairs'])} failed |",
             f"| each healthy seed against the committed run (seed {verdicts['committed_seed']}) | "
             f"{verdicts['against_committed']['trials']} | {_share(verdicts['against_committed'])} failed |"]
    for name, regression in proof["regressions"].items():
        outcome = verdicts["regressions"][name]
        need = "must be ≥ 95%" if regression["required"] else "as measured"
        lines.append(f"| regression `{name}`: {regression['description']}; {len(regression['seeds'])} seeds × "
                     f"each healthy baseline seed | {outcome['trials']} | {_share(outcome)} caught ({need}) |")
    kernels = " ".join(f"{key}={value}" for key, value in platform["environment"].items())
    platform_verdict = verdicts["platform_change"]
    lines.append(f"| platform change `{platform['experiment']}`: {platform['description']} ({kernels}; kernels "
                 f"{platform['platform']['kernels']}) against the committed run | 1 | "
                 f"{'passed' if platform_verdict['passed'] else 'FAILED: ' + platform_verdict['reason']} |")
    alarms = verdicts["healthy_pairs"]["failures"] + verdicts["against_committed"]["failures"]
    lines += ["", "False alarms: " + ("none." if not alarms else "; ".join(f"{a['committed']} / {a['new']}: {a['reason']}"
                                                                          for a in alarms))]
    return "\n".join(lines)


def stage_table() -> str:
    """Each stage of dvc.yaml: its command, deps (package modules by name), params and outputs."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    lines = ["| stage | command | deps | params | outputs |", "|---|---|---|---|---|"]
    for name, stage in stages.items():
        deps = stage.get("deps", [])
        package = [Path(dep).stem for dep in deps if dep.startswith("betavae/")]
        other = [f"`{dep}`" for dep in deps if not dep.startswith("betavae/")]
        if package:
            other.append("`betavae/`: " + ", ".join(package))
        params = ", ".join(f"`{param}`" for param in stage.get("params", [])) or "none"
        outputs = []
        for kind, label in (("outs", "DVC cache"), ("metrics", "metrics, in git"), ("plots", "plot, in git")):
            for entry in stage.get(kind, []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                outputs.append(f"`{path}` ({label})")
        lines.append(f"| {name} | `{stage['cmd']}` | {'; '.join(other)} | {params} | {'; '.join(outputs)} |")
    return "\n".join(lines)


def collapse_check_table() -> str:
    """Test MSE, KL and active units of every seed in both seed-spread files (native and AVX2 kernels)."""
    lines = []
    for path in ("metrics/seed_spread.json", "metrics/seed_spread_avx2.json"):
        record = read_json(path)
        platform = record["platform"]
        pinned = " ".join(f"{key}={value}" for key, value in record.get("environment", {}).items())
        collapsed = [seed for seed, files in record["seeds"].items() if files["metrics/eval.json"]["posterior_collapse"]]
        lines += [f"`{record['command']}` at commit `{record['commit'][:7]}` on {platform['cpu_model']} "
                  f"({platform.get('cpu_family', 'family unknown')}; {platform['instruction_set']}, kernels "
                  f"{platform['kernels']}, {platform['precision']}, {platform['threads']} threads"
                  + (f"; {pinned}" if pinned else "") + f"): {len(collapsed)} of {len(record['seeds'])} seeds "
                  f"collapsed. {provenance(record)}".rstrip(), "", "| seed | test MSE | KL [nats] | active units | collapsed |", "|---|---|---|---|---|"]
        for seed, files in record["seeds"].items():
            metrics = files["metrics/eval.json"]
            lines.append(f"| {seed} | {metrics['test_mse']:.5f} | {metrics['kl_nats']:.3g} | "
                         f"{metrics['active_units']} of {_latent_dim()} | "
                         f"{'**yes**' if metrics['posterior_collapse'] else 'no'} |")
        healthy = [files["metrics/eval.json"] for seed, files in record["seeds"].items() if seed not in collapsed]
        summary = ", ".join(f"{name} {mean(run[name] for run in healthy):.4g} ± {stdev(run[name] for run in healthy):.2g}"
                            for name in ("test_mse", "kl_nats", "active_units"))
        lines += ["", f"Mean ± sample sd over the {len(healthy)} healthy seeds: {summary}.", ""]
    return "\n".join(lines[:-1])


def likelihood_options_table() -> str:
    record = read_json("metrics/likelihood_options.json")
    platform = record["platform"]
    k = load_params(REPO / "params.yaml").evaluate.iwae_samples
    lines = [f"From `{record['command']}` at commit `{record['commit'][:7]}` on {platform['cpu_model']} "
             f"({platform['instruction_set']}, {platform['precision']}, {platform['threads']} threads), 20 epochs "
             f"each, the 10,000 test images; nats per image, bounds higher is better; K = {k} "
             f"(`evaluate.iwae_samples`). {provenance(record)}".rstrip(), "",
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
             f"every {record['every']}th test image ({record['images']:,}, all classes), binarized once. "
             f"{provenance(record)}".rstrip(), "",
             "| K | test NLL = −IWAE_K [nats] | ± standard error over images | change from the first K, paired "
             "| time |", "|---|---|---|---|---|"]
    for k, estimate in sorted(record["samples"].items(), key=lambda item: int(item[0])):
        change = (f"{estimate['change_from_first_k']:.2f} ± {estimate['change_standard_error']:.2f}"
                  if "change_from_first_k" in estimate else "—")
        lines.append(f"| {int(k):,} | {estimate['nll_nats']:.2f} | {estimate['standard_error']:.2f} | {change} "
                     f"| {estimate['seconds'] / 60:.0f} min |")
    return "\n".join(lines)


def _nll_estimates() -> tuple[dict, dict, dict]:
    """The test-NLL record, its first and its largest K."""
    record = read_json("metrics/test_nll.json")
    samples = sorted(record["samples"].items(), key=lambda item: int(item[0]))
    return record, dict(samples[0][1], k=int(samples[0][0])), dict(samples[-1][1], k=int(samples[-1][0]))


def nll_cost() -> str:
    """Which images the estimate used, and what all of them would cost at the largest K."""
    record, _, largest = _nll_estimates()
    whole = 10000 / record["images"] * largest["seconds"] / 60
    share = "all 10,000 test images" if record["images"] >= 10000 else (
        f"{record['images']:,} of the 10,000 test images (every {record['every']}th: all classes alike)")
    return (f"It used {share}: K = {largest['k']:,} took {largest['seconds'] / 60:.0f} min on them, so all "
            f"10,000 would take about {whole:.0f} min on the same 2 cores.")


PUBLISHED_NLL = 228.70  # Exemplar VAE (NeurIPS 2020), VAE with a Gaussian prior: the paragraph above cites it


def nll_comparison() -> str:
    """Our test NLL on the whole test set at the largest K: the whole set's first-K estimate (the likelihood
    options) plus the paired change from the first K to the largest, measured on the estimate's images."""
    _, first, largest = _nll_estimates()
    whole = read_json("metrics/likelihood_options.json")["options"]["binarized-beta-1"]["metrics"]["nll_nats"]
    estimate = whole + largest["change_from_first_k"]
    return (f"Ours: {whole:.2f} nats at K = {first['k']} on the whole test set (the options' table), and K = "
            f"{largest['k']:,} changes the estimate by {largest['change_from_first_k']:+.2f} ± "
            f"{largest['change_standard_error']:.2f} nats on the estimate's images, so about {estimate:.1f} at K = "
            f"{largest['k']:,} over the whole set, {estimate - PUBLISHED_NLL:+.1f} nats from theirs. The "
            f"{largest['nll_nats']:.2f} in the K table is the estimate's images' own mean, which differs from the "
            f"whole set's by sampling (± {largest['standard_error']:.1f}).")


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
    kinds = read_json("benchmarks/results.json")["by_machine_kind"]
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
    kinds = read_json("benchmarks/results.json")["by_machine_kind"]
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


# The metrics the README shows per beta; docs/sweep.md shows every one.
SWEEP_HEADLINE = ("test_mse", "kl_nats", "active_units", "linear_probe_accuracy")


def _sweep() -> tuple[dict, dict]:
    """metrics/beta_sweep.json and its summary (mean and sd over seeds of every metric, per beta)."""
    record = read_json("metrics/beta_sweep.json")
    return record, summary_of_record(record)


def _plus_minus(mean_: float, sd: float) -> str:
    """mean ± sd, both to the sd's second significant digit."""
    if sd == 0:
        return f"{mean_:.4g} ± 0"
    decimals = max(0, 1 - math.floor(math.log10(sd)))
    return f"{mean_:.{decimals}f} ± {sd:.{decimals}f}"


def _sweep_source(record: dict) -> str:
    platforms = sorted({f"{p['cpu_model']} ({p['instruction_set']}, {p['precision']}, {p['threads']} threads)"
                        for p in (run["platform"] for run in record["runs"].values())})
    seeds = sorted({run["seed"] for run in record["runs"].values()})
    return (f"From `{record['command']}` at commit `{record['commit'][:7]}` on {' and '.join(platforms)}: "
            f"mean ± sample standard deviation over seeds {', '.join(map(str, seeds))}, on the 10,000 test images. "
            f"{provenance(record)}").rstrip()


def _sweep_table(names: tuple[str, ...] | None) -> str:
    record, summary = _sweep()
    betas = sorted(summary)
    names = names or tuple(summary[betas[0]])
    lines = [_sweep_source(record), "", "| metric | " + " | ".join(f"β = {beta:g}" for beta in betas) + " |",
             "|---" * (len(betas) + 1) + "|"]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_plus_minus(summary[b][name].mean, summary[b][name].sd)
                                                  for b in betas) + " |")
    return "\n".join(lines + _udr_rows(record, betas))


UDR_ROWS = (("udr", "UDR, median over pairs of seeds", "{:.2f}"),
            ("chance", "UDR by chance: the same codes in random axes", "{:.2f}"),
            ("above_chance", "UDR − chance", "{:+.2f}"))


def _udr_rows(record: dict, betas: list[float]) -> list[str]:
    """UDR, its chance level and their difference per beta, each with its bootstrap interval over seeds."""
    scored = [record["udr"].get(f"{beta:g}") for beta in betas]
    level = next((u["bootstrap"]["level"] for u in scored if u), 0.95)
    rows = []
    for name, label, form in UDR_ROWS:
        cells = [f"{form.format(u[name])} [{form.format(u['bootstrap'][name][0])}, "
                 f"{form.format(u['bootstrap'][name][1])}]" if u else "—" for u in scored]
        rows.append(f"| {label} [{level:.0%} bootstrap over seeds] | " + " | ".join(cells) + " |")
    return rows


def udr_sentence() -> str:
    """How far above its chance level each beta's UDR is, and where the sweep found it clear of chance."""
    record, summary = _sweep()
    clear_of_chance = record["verdicts"]["udr_above_chance"]
    scored = {beta: record["udr"][f"{beta:g}"] for beta in sorted(summary) if f"{beta:g}" in record["udr"]}
    parts = [f"{u['above_chance']:+.2f} [{u['bootstrap']['above_chance'][0]:+.2f}, "
             f"{u['bootstrap']['above_chance'][1]:+.2f}] at β = {beta:g}" for beta, u in scored.items()]
    clear = [f"{beta:g}" for beta in scored if clear_of_chance[f"{beta:g}"]]
    return (f"UDR above its chance level (the same models' codes in random axes, which score "
            f"{min(u['chance'] for u in scored.values()):.2f} to {max(u['chance'] for u in scored.values()):.2f}): "
            + "; ".join(parts) + ". Only where the interval excludes 0 (β = " + (", ".join(clear) or "none")
            + ") do two seeds' units agree more than arbitrary axes of the same information would.")


def sweep_headline_table() -> str:
    return _sweep_table(SWEEP_HEADLINE)


def sweep_summary_table() -> str:
    return _sweep_table(None)


def _comparison_table(names: tuple[str, ...] | None) -> str:
    record = read_json("metrics/beta_sweep.json")
    steps = record["verdicts"]["steps"]
    names = names or tuple(sorted(next(iter(steps.values()))))
    lines = [f"Each cell: the change of the mean from the first β to the second; **exceeds** where "
             f"{record['verdicts']['rule']}, *within* where seeds alone could make it.",
             "", "| metric | " + " | ".join(f"β {step.replace(' -> ', ' → ')}" for step in steps) + " |",
             "|---" * (len(steps) + 1) + "|"]
    for name in names:
        cells = [f"{steps[step][name]['difference']:+.3g} " + ("**exceeds**" if steps[step][name]["exceeds"]
                                                               else "*within*") for step in steps]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SD_BY_BETA = ("test_mse", "kl_nats", "active_units", "linear_probe_accuracy", "bce_objective",
              "frechet_classifier_samples")


def seed_sd_by_beta() -> str:
    """The sd over the sweep's seeds of headline metrics at each β, and its ratio to the committed β's."""
    record, summary = _sweep()
    committed = float(load_params(REPO / "params.yaml").train.beta)
    betas = sorted(summary)
    seeds = sorted({run["seed"] for run in record["runs"].values()})
    lines = [f"Sample sd over seeds {', '.join(map(str, seeds))} of each β, from the sweep in "
             f"`metrics/beta_sweep.json` (`{record['command']}`, commit `{record['commit'][:7]}`); in brackets, its "
             f"ratio to the sd at the committed β = {committed:g}. An sd of {len(seeds)} seeds is itself uncertain "
             f"by about half, so only ratios well beyond 2 or below 1/2 say much.", "",
             "| metric | " + " | ".join(f"β = {beta:g}" for beta in betas) + " |", "|---" * (len(betas) + 1) + "|"]
    for name in SD_BY_BETA:
        base = summary[committed][name].sd

        def cell(beta: float) -> str:
            sd = summary[beta][name].sd
            ratio = "" if beta == committed else (f" (×{sd / base:.2g})" if base else " (base sd 0)")
            return f"{sd:.2g}{ratio}"
        lines.append(f"| {name} | " + " | ".join(cell(beta) for beta in betas) + " |")
    return "\n".join(lines)


def sweep_comparison() -> str:
    return _comparison_table(None)


def slurm_scripts() -> str:
    """The SLURM batch scripts as they are in studies/slurm/, so the page cannot drift from them."""
    blocks = []
    for name in ("slice.sh", "collect.sh"):
        text = (REPO / "studies" / "slurm" / name).read_text().rstrip()
        blocks += [f"`studies/slurm/{name}`:", "", "```bash", text, "```", ""]
    return "\n".join(blocks[:-1])


MUTATION = "metrics/mutation.json"


def _md5(path: str) -> str | None:
    return md5(REPO / path) if (REPO / path).is_file() else None


def mutation_summary() -> str:
    """Per module: its tests, mutants, killed, survived (each equivalent, or not), incompetent, and the run."""
    record = read_json(MUTATION)
    lines = ["| module | tests run (the fast ones) | mutants | killed | survived: equivalent "
             "| survived: unexplained | incompetent | minutes |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for module, result in record["modules"].items():
        unexplained = sum(1 for survivor in result["survivors"] if survivor["why"] is None)
        tests = ", ".join(f"`{Path(test).name}`" for test in result["tests"])
        lines.append(f"| `{module}` | {tests} | {result['mutants']} | {result['killed']} | "
                     f"{result['survived'] - unexplained} | {unexplained} | {result['incompetent']} | "
                     f"{result['seconds'] / 60:.1f} |")
    lines.append(f"| **all** | | **{record['mutants']}** | **{record['killed']}** | "
                 f"**{record['survived'] - record['unexplained']}** | **{record['unexplained']}** | "
                 f"**{record['incompetent']}** | |")
    machine = record["machine"]
    files = {path: md5 for result in record["modules"].values() for path, md5 in result["files"].items()}
    changed = [path for path, md5 in files.items() if _md5(path) != md5]
    rerun = [f"`{module}` at `{result['commit'][:7]}`" for module, result in record["modules"].items()
             if result["commit"] != record["commit"]]
    lines += ["", f"{record['tool']} at commit `{record['commit'][:7]}`"
              + (" with uncommitted changes" if record["uncommitted_changes"] else "")
              + f", on {machine['cpu_model']} ({machine['cpu_family']}, {machine['instruction_set']}), "
              f"{record['workers']} modules at once on {machine['cores']} cores: "
              f"{record['wall_seconds'] / 60:.1f} min in all"
              + (f"; mutated again since: {', '.join(rerun)}" if rerun else "") + ". "
              + (f"**Changed since**: {', '.join(f'`{path}`' for path in changed)}; `make mutation` "
                 "measures them again." if changed else "Every module and test file is as it was measured.")]
    return "\n".join(lines)


def _operator(name: str) -> str:
    """ReplaceBinaryOperator_Add_Sub -> Add→Sub; other cosmic-ray operators keep their names."""
    match = re.fullmatch(r"Replace\w*?Operator_([A-Za-z]+)_([A-Za-z]+)", name)
    return f"{match.group(1)}→{match.group(2)}" if match else name


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def mutation_survivors() -> str:
    """Every surviving mutant, grouped by module, line and reason: what changed, and why nothing notices; those in
    type annotations in one row per module."""
    record = read_json(MUTATION)
    lines = ["| module | line | unmutated | mutants | why it changes nothing |", "|---|---:|---|---|---|"]
    for module, result in record["modules"].items():
        groups: dict[tuple, list[tuple[int, str]]] = {}
        for survivor in result["survivors"]:
            operator = (survivor["line"], _operator(survivor["operator"]))
            if survivor["in_annotation"]:
                key = ("type annotations", survivor["why"])
            else:
                key = (f"`{_cell(survivor['removed'])}`", _cell(survivor["why"] or "**UNEXPLAINED**"))
            groups.setdefault(key, []).append(operator)
        for (code, why), mutants in groups.items():
            at = ", ".join(str(line) for line in sorted({line for line, _ in mutants}))
            kinds = ", ".join(sorted({operator for _, operator in mutants}))
            lines.append(f"| `{module}` | {at} | {code} | {len(mutants)}: {kinds} | {why} |")
    return "\n".join(lines)


GENERATORS: dict[str, Callable[[], str]] = {
    "headline": headline_table, "metrics": metrics_table, "platform": platform_table, "seed-spread": seed_spread_table,
    "check-proof": check_proof_table, "collapse-check": collapse_check_table,
    "likelihood-options": likelihood_options_table, "test-nll": test_nll_table, "benchmark": benchmark_table,
    "timings": timings_table, "stages": stage_table,
    "sweep-headline": sweep_headline_table, "sweep-summary": sweep_summary_table,
    "sweep-comparison": sweep_comparison, "sweep-udr": udr_sentence, "seed-sd-by-beta": seed_sd_by_beta,
    "slurm-scripts": slurm_scripts, "nll-cost": nll_cost, "nll-comparison": nll_comparison,
    "mutation-summary": mutation_summary, "mutation-survivors": mutation_survivors,
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
    records = stale_records(REPO)
    for problem in records:
        print(f"stale record: {problem}", file=sys.stderr)
    stale = []
    for page in PAGES:
        text = page.read_text()
        new = refreshed(text)
        if new != text:
            stale.append(page.relative_to(REPO).as_posix())
            if not args.check:
                page.write_text(new)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run `python -m tools.docs`", file=sys.stderr)
    print(("refreshed: " + ", ".join(stale)) if stale and not args.check else
          "every generated block is up to date" if not stale else "")
    return 1 if args.check and (stale or records) else 0


if __name__ == "__main__":
    sys.exit(main())
