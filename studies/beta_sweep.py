"""A beta x seeds sweep as seed groups: run it, or a slice of it, share it, and summarise it.

    python -m studies.beta_sweep                             # beta 0.5 1 2 5 10 x seeds 0-4, here, then summarise
    python -m studies.beta_sweep --betas 1 5 --seeds 0 1 2 3 4 5
    python -m studies.beta_sweep --slice 1/2 --push origin   # machine 1 of 2: its share, pushed
    python -m studies.beta_sweep --slice 2/2 --push origin   # machine 2 of 2
    python -m studies.beta_sweep --collect --pull origin     # any machine: pull every slice, summarise

Each beta is a seed group (studies/seed_group.py): the committed beta's is the group `committed`, which
`make diff` compares against, and beta B's is `beta-B` (-S train.beta=B). Only train.seed varies; the
classifier and evaluate seeds stay at the committed values. A cell already in its group's record, or run
before on this commit, is not trained again, so an interrupted sweep resumes. `--push REMOTE` sends the
slice's experiments to the git remote and their outputs to the default DVC remote (`dvc exp push`); `--pull
REMOTE` fetches them, and the collector records each in its group and scores UDR with every slice's models.
Every machine must be on the same commit with the same --betas and --seeds.

Summarising reads the groups' records and writes metrics/beta_sweep.json (every cell's metrics, mean ± sd per
beta, UDR per beta with its chance level and bootstrap interval over seeds, each step of beta judged by the
group diff, the seed sd at each beta against the committed beta's with its interval) and
plots/beta_sweep.png.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from itertools import combinations
from pathlib import Path

from betavae.errors import BetaVAEError
from betavae.machine import platform_record
from studies import seed_group
from studies.analysis.experiments import existing_experiments, head_commit, pull_experiments, push_experiments
from studies.analysis.provenance import source
from studies.analysis.sweep import (COMMITTED_GROUP, beta_group, cell_metrics, grid, parse_slice, sd_by_beta,
                                    slice_of, summarize, summary_of_record, verdicts)
from studies.analysis.sweep_figure import save_beta_sweep_figure
from studies.analysis.udr import udr_from_pairs
from studies.records import (BETA_SWEEP, DATA, GROUPS, PLOTS, REPO, command, read_record, relative,
                             write_record)

DEFAULT_BETAS = (0.5, 1.0, 2.0, 5.0, 10.0)
DEFAULT_SEEDS = (0, 1, 2, 3, 4)


def committed_beta() -> float:
    """HEAD's train.beta: the workspace's params.yaml may hold an interrupted experiment's values."""
    return float(seed_group.committed_params(REPO).train.beta)


def cells_by_group(cells: list[tuple[float, int]]) -> dict[tuple[str, tuple[str, ...]], list[int]]:
    """{(group, settings): seeds} of the cells."""
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for beta, seed in cells:
        name, settings = beta_group(beta, committed_beta())
        groups.setdefault((name, tuple(settings)), []).append(seed)
    return groups


def run_cells(cells: list[tuple[float, int]], score_udr: bool) -> None:
    """Train each cell not in its group's record yet, one after another, each recorded as it finishes."""
    todo = {key: seed_group.todo(seed_group.record_path(key[0]), seeds) for key, seeds in cells_by_group(cells).items()}
    here = platform_record(seed_group.committed_params(REPO).compute)
    print(seed_group.estimate(sum(map(len, todo.values())), here, GROUPS), flush=True)
    for (name, settings), seeds in todo.items():
        if seeds:
            seed_group.run_cells(REPO, name, list(settings), seeds, seed_group.record_path(name), DATA, score_udr)


def record_pulled(cells: list[tuple[float, int]]) -> None:
    """Put every cell that ran elsewhere (its experiment pulled here) into its group's record, then score UDR."""
    for (name, settings), seeds in cells_by_group(cells).items():
        seed_group.record_experiments(REPO, name, list(settings), seeds, seed_group.record_path(name), DATA)


def group_udr(record: dict, seeds: list[int]) -> dict | None:
    """UDR of the group's cells among `seeds` from the pair scores its record holds (None if one is missing)."""
    kept = [str(seed) for seed in seeds if str(seed) in record["cells"]]
    pairs = record.get("udr_pairs", {})
    if len(kept) < 2 or any(f"{a}-{b}" not in pairs for a, b in combinations(kept, 2)):
        return None
    index = {seed: i for i, seed in enumerate(kept)}
    scores = {(index[a], index[b]): pairs[f"{a}-{b}"]["udr"] for a, b in combinations(kept, 2)}
    chance = {(index[a], index[b]): pairs[f"{a}-{b}"]["chance"] for a, b in combinations(kept, 2)}
    return udr_from_pairs(scores, chance, len(kept))


def summarise(betas: list[float], seeds: list[int], output: Path, figure: Path, made_by: str) -> None:
    records = {beta: read_record(seed_group.record_path(beta_group(beta, committed_beta())[0])) for beta in betas}
    by_beta = {beta: cell_metrics(record, seeds) for beta, record in records.items()}
    missing = [f"β {beta:g} seed {seed}" for beta in betas for seed in seeds if str(seed) not in by_beta[beta]]
    if missing:
        raise BetaVAEError(f"the sweep lacks {len(missing)} cells ({', '.join(missing[:4])}…): run them first")
    summary = summarize(by_beta)
    udr = {f"{beta:g}": scored for beta, record in records.items() if (scored := group_udr(record, seeds))}
    committed = records[committed_beta()] if committed_beta() in records else next(iter(records.values()))
    record = {
        "command": made_by, "commit": head_commit(REPO), "platform": committed["platform"],
        "inputs": committed["inputs"], "settings": [f"train.beta={beta:g}" for beta in betas],
        "seeds": seeds, "groups": {f"{beta:g}": rec["group"] for beta, rec in records.items()},
        "runs": {f"{rec['group']}-seed-{seed}": {"beta": beta, "seed": int(seed), "metrics": metrics,
                                                 "platform": rec["cells"][seed]["platform"]}
                 for beta, rec in records.items() for seed, metrics in by_beta[beta].items()},
        "summary": {f"{beta:g}": {name: vars(spread) for name, spread in metrics.items()}
                    for beta, metrics in summary.items()},
        "udr": udr,
        "sd_by_beta": sd_by_beta(summary, committed_beta()) if committed_beta() in summary else {},
        "verdicts": verdicts(by_beta, udr),
    }
    write_record(output, record)
    save_beta_sweep_figure(summary, {float(beta): scored for beta, scored in udr.items()}, figure)
    for beta, metrics in summary.items():
        shown = ", ".join(f"{name} {s.mean:.4g} ± {s.sd:.2g}" for name, s in metrics.items()
                          if name in ("test_mse", "kl_nats", "active_units"))
        scored = udr.get(f"{beta:g}")
        shown += f"; UDR {scored['udr']:.3f}, by chance {scored['chance']:.3f}" if scored else ""
        print(f"beta {beta:g} ({metrics['test_mse'].count} seeds): {shown}")
    print(f"wrote {relative(output)} and {relative(figure)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", default=list(DEFAULT_BETAS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--slice", help="run only this machine's share, e.g. 1/2; then nothing is summarised")
    parser.add_argument("--push", metavar="REMOTE", help="after running, push the experiments to this git remote")
    parser.add_argument("--collect", action="store_true", help="run nothing; record what ran elsewhere, summarise")
    parser.add_argument("--pull", metavar="REMOTE", help="before summarising, pull the experiments from there")
    parser.add_argument("--output", default=str(BETA_SWEEP), help="the sweep's record")
    parser.add_argument("--figure", default=str(PLOTS / "beta_sweep.png"))
    args = parser.parse_args(argv)
    try:
        cells = grid(args.betas, args.seeds)
        mine = slice_of(cells, *parse_slice(args.slice)) if args.slice else cells
        names = [seed_group.cell_name(beta_group(beta, committed_beta())[0], seed) for beta, seed in cells]
        if not args.collect:
            run_cells(mine, score_udr=not args.slice)
            if args.push:
                mine_names = [seed_group.cell_name(beta_group(b, committed_beta())[0], s) for b, s in mine]
                push_experiments(REPO, args.push, [name for name in mine_names if name in existing_experiments(REPO)])
        if args.collect or not args.slice:
            if args.pull:
                pull_experiments(REPO, args.pull, [name for name in names])
            record_pulled(cells)
            made_by = command(__spec__.name, ["--betas", *(f"{b:g}" for b in args.betas), "--seeds", *args.seeds])
            summarise(sorted(set(args.betas)), sorted(set(args.seeds)), Path(args.output), Path(args.figure), made_by)
    except BetaVAEError as error:
        sys.exit(f"error: {error}")
    except subprocess.CalledProcessError as error:
        command_line = " ".join(map(str, error.cmd[2:] if error.cmd[1:2] == ["-m"] else error.cmd))
        detail = f": {error.stderr.strip()}" if error.stderr else ""
        sys.exit(f"error: `{command_line}` failed (exit status {error.returncode}){detail}")


# --- Its tables in the docs -------------------------------------------------------------------------------

# The metrics the README shows per beta; docs/sweep.md shows every one.
SWEEP_HEADLINE = ("test_mse", "kl_nats", "active_units", "linear_probe_accuracy")
SD_BY_BETA = ("test_mse", "kl_nats", "active_units", "linear_probe_accuracy", "knn_accuracy", "bce_objective",
              "frechet_classifier_reconstructions")


def _sweep() -> tuple[dict, dict]:
    """metrics/beta_sweep.json and its summary (mean and sd over seeds of every metric, per beta)."""
    record = read_record(BETA_SWEEP)
    return record, summary_of_record(record)


def plus_minus(mean_: float, sd: float) -> str:
    """mean ± sd, both to the sd's second significant digit."""
    if sd == 0:
        return f"{mean_:.4g} ± 0"
    decimals = max(0, 1 - math.floor(math.log10(sd)))
    return f"{mean_:.{decimals}f} ± {sd:.{decimals}f}"


def _sweep_source(record: dict) -> str:
    seeds = record.get("seeds") or sorted({run["seed"] for run in record["runs"].values()})
    platform = record.get("platform") or next(iter(record["runs"].values()))["platform"]
    return (f"{source(record, platform)} Mean ± sample standard deviation over seeds {', '.join(map(str, seeds))} "
            f"of each β, on the 10,000 test images.")


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


def _sweep_table(names: tuple[str, ...] | None) -> str:
    record, summary = _sweep()
    betas = sorted(summary)
    names = names or tuple(summary[betas[0]])
    lines = [_sweep_source(record), "", "| metric | " + " | ".join(f"β = {beta:g}" for beta in betas) + " |",
             "|---" * (len(betas) + 1) + "|"]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(plus_minus(summary[b][name].mean, summary[b][name].sd)
                                                  for b in betas) + " |")
    return "\n".join(lines + _udr_rows(record, betas))


def sweep_headline_table() -> str:
    return _sweep_table(SWEEP_HEADLINE)


def sweep_summary_table() -> str:
    return _sweep_table(None)


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


def sweep_comparison() -> str:
    """Each step of beta, per metric: the change of the mean, and the group diff's verdict."""
    record = read_record(BETA_SWEEP)
    steps = record["verdicts"]["steps"]
    if "metrics" not in next(iter(steps.values())):  # a record of the old, descriptive rule
        return f"{_sweep_source(record)} Its steps were judged by a rule no longer used; `make sweep` judges them again."
    first = next(iter(steps.values()))
    names = sorted(name for name, row in first["metrics"].items() if not row["verdict"].startswith("not tested"))
    lines = [f"{_sweep_source(record)} Each cell: the change of the mean from the first β to the second and the "
             f"group diff's verdict ({first['method']}, {first['tested']} metrics at a family-wise "
             f"{first['alpha']:.0%}): **beyond** the seed noise, or *within* it.", "",
             "| metric | " + " | ".join(f"β {step.replace(' -> ', ' → ')}" for step in steps) + " |",
             "|---" * (len(steps) + 1) + "|"]
    for name in names:
        cells = [f"{steps[step]['metrics'][name]['difference']:+.3g} "
                 + ("**beyond**" if steps[step]["metrics"][name]["verdict"] == "YES" else "*within*") for step in steps]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_sd_by_beta() -> str:
    """The sd over each beta's seeds of headline metrics, and its ratio to the committed beta's with its interval."""
    record = read_record(BETA_SWEEP)
    if "sd_by_beta" not in record:
        return f"{_sweep_source(record)} It has no seed sd by β: `make sweep` measures it."
    by_beta = record["sd_by_beta"]
    betas = sorted(by_beta, key=float)
    base = next(beta for beta, group in record["groups"].items() if group == COMMITTED_GROUP)
    lines = [f"{_sweep_source(record)} Each cell: the sample sd over the β's seeds and, in brackets, its ratio "
             f"to the sd at the committed β = {base} with the ratio's 95% interval (F distribution, normal seeds).",
             "", "| metric | " + " | ".join(f"β = {beta}" for beta in betas) + " |", "|---" * (len(betas) + 1) + "|"]
    for name in SD_BY_BETA:
        def cell(beta: str) -> str:
            row = by_beta[beta].get(name)
            if row is None:
                return "—"
            if beta == base or row["ratio"] is None:
                return f"{row['sd']:.2g}"
            if row["interval"] is None:  # a ratio of 0 (no spread at this beta), or a beta of one seed
                return f"{row['sd']:.2g} (all seeds equal)" if row["sd"] == 0 else f"{row['sd']:.2g}"
            low, high = row["interval"]
            return f"{row['sd']:.2g} (×{row['ratio']:.2g} [{low:.2g}, {high:.2g}])"
        lines.append(f"| {name} | " + " | ".join(cell(beta) for beta in betas) + " |")
    return "\n".join(lines)


TABLES = {"sweep-headline": sweep_headline_table, "sweep-summary": sweep_summary_table,
          "sweep-comparison": sweep_comparison, "sweep-udr": udr_sentence, "seed-sd-by-beta": seed_sd_by_beta}


if __name__ == "__main__":
    main()
