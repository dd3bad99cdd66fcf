"""Compare two settings metric by metric: which differences exceed the spread between seeds?

    make diff A=committed B=beta-5.5                 # two seed groups (metrics/groups/NAME.json)
    python -m studies.diff HEAD beta-5.5 --md        # HEAD: the committed params; their group stands in for its run
    python -m studies.diff committed:0-4 beta-10     # some of a group's seeds (0-4, or 0,2,5)
    python -m studies.diff HEAD beta-5.5-seed-0      # a group against one run: the run as one more seed
    python -m studies.diff seed-1 workspace          # one run against one run (commits, experiments, workspace)

A side is a seed group (`make group`, studies/seed_group.py), or one run: a commit, branch, experiment name or
`workspace`. A side that is the committed params (HEAD, say) is replaced by the group `committed` when there
is one of at least COMMITTED_GROUP_SEEDS seeds on the committed code: a few seeds of the other side then suffice.

Per metric: each side's seeds and mean ± sd, the difference of the means with its 95% interval (Welch), the
difference in pooled seed sd, the ratio of the sides' sd, the probability that a seed of B scores above a seed
of A with its interval, the adjusted p and the verdict at a family-wise --alpha (0.05) over the metrics tested
together: a permutation max-t test where both sides have 5 seeds or more, Welch with Holm's correction where
fewer, a prediction interval for one run against a group (studies/analysis/groups.py). Under the table: the
difference these seeds resolve at 80% power, and the seeds a side that would resolve the difference seen.

One run against one run is judged by `make check-repro`'s rule (studies.analysis.reproducibility.judge) with the
committed seed spread: it needs about 9 seed sd to see a difference (docs/comparing.md says why groups).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from betavae.errors import BetaVAEError
from betavae.machine import platform_differences, same_platform_class
from studies.analysis import comparison
from studies.analysis.calibration import committed_seed
from studies.analysis.experiments import SEEDED, git_show, metrics_paths, read_experiment_json, resolve_rev
from studies.analysis.provenance import committed_inputs, platform_text, stale
from studies.analysis.reproducibility import (FileMetrics, SeedSpread, Verdict, comparable, flatten, judge,
                                              seed_spread)
from studies.records import GROUPS, REPO, SEED_SPREAD, read_record, relative

WORKSPACE = "workspace"
COMMITTED_GROUP = "committed"
COMMITTED_GROUP_SEEDS = 10
SPREAD = relative(SEED_SPREAD)


@dataclass(frozen=True)
class Side:
    spec: str
    description: str
    runs: dict[str, dict[str, Any]]  # {label: comparable metrics}
    files: dict[str, FileMetrics]  # {label: {metrics file: content}}
    settings: tuple[str, ...]  # key=value the side sets on top of the committed params
    platform: dict[str, Any] | None
    warning: str | None = None


def resolve(repo: Path, rev: str) -> str:
    """A git commit for a revision or an experiment name; `workspace` stays as it is."""
    return rev if rev == WORKSPACE else resolve_rev(repo, rev)


def read_metrics(repo: Path, rev: str) -> FileMetrics:
    """{metrics file: content} of a commit or the workspace, for every metrics file dvc.yaml declares."""
    files = {}
    for path in metrics_paths(repo):
        if rev == WORKSPACE:
            files[path] = json.loads((repo / path).read_text())
        else:
            files[path] = read_experiment_json(repo, path, rev)
    return files


def _params_of(repo: Path, rev: str) -> dict[str, Any]:
    text = (repo / "params.yaml").read_text() if rev == WORKSPACE else git_show(repo, f"{rev}:params.yaml")
    return flatten(yaml.safe_load(text))


def own_settings(repo: Path, rev: str) -> tuple[str, ...]:
    """The params of a run that differ from HEAD's params.yaml, as key=value (its seeds aside)."""
    mine, committed = _params_of(repo, rev), _params_of(repo, "HEAD")
    return tuple(sorted(f"{key}={mine.get(key)}" for key in mine.keys() | committed.keys()
                        if mine.get(key) != committed.get(key) and key not in SEEDED))


def parse_group_spec(spec: str) -> tuple[str, list[str] | None]:
    """NAME, or NAME:SEEDS with SEEDS as 0-4 or 0,2,5: a group and, optionally, some of its seeds."""
    name, _, seeds = spec.partition(":")
    if not seeds:
        return name, None
    chosen = []
    for part in seeds.split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()) or int(last or first) < int(first):
            raise BetaVAEError(f"{spec!r}: give a group's seeds as NAME:0-4 or NAME:0,2,5")
        chosen += [str(seed) for seed in range(int(first), int(last or first) + 1)]
    return name, list(dict.fromkeys(chosen))  # a seed named twice is one cell


def group_side(repo: Path, name: str, spec: str | None = None, seeds: list[str] | None = None) -> Side:
    record = read_record(repo / GROUPS.relative_to(REPO) / f"{name}.json")
    cells = record["cells"] if seeds is None else {seed: record["cells"][seed] for seed in seeds
                                                   if seed in record["cells"]}
    if seeds is not None and len(cells) < len(seeds):
        missing = sorted(set(seeds) - set(cells), key=int)
        raise BetaVAEError(f"group {name} has no cell of seed {', '.join(missing)}")
    seeds = ", ".join(cells)
    problem = stale(f"group {name}", record, committed_inputs(repo), record.get("command", "its study"))
    return Side(spec or name, f"group {name} ({' '.join(record['settings']) or 'the committed params'}): "
                f"{len(cells)} seeds ({seeds}), {platform_text(record['platform'])}",
                {seed: comparable(cell["files"]) for seed, cell in cells.items()},
                {seed: cell["files"] for seed, cell in cells.items()}, tuple(record["settings"]),
                record["platform"], problem)


def run_side(repo: Path, spec: str) -> Side:
    rev = resolve(repo, spec)
    files = read_metrics(repo, rev)
    try:
        platform = (json.loads((repo / "metrics" / "platform.json").read_text()) if rev == WORKSPACE
                    else read_experiment_json(repo, "metrics/platform.json", rev))
    except Exception:  # a revision without a platform record
        platform = None
    settings = own_settings(repo, rev)
    return Side(spec, f"run {spec} ({' '.join(settings) or 'the committed params'})"
                + (f", {platform_text(platform)}" if platform else ""), {spec: comparable(files)}, {spec: files},
                settings, platform)


def load_side(repo: Path, spec: str) -> Side:
    """A group by its name (NAME:0-4 for some of its seeds), else one run; the committed params' one run gives
    way to the committed group."""
    name, seeds = parse_group_spec(spec)
    if (repo / GROUPS.relative_to(REPO) / f"{name}.json").is_file():
        return group_side(repo, name, spec, seeds)
    side = run_side(repo, spec)
    committed = repo / GROUPS.relative_to(REPO) / f"{COMMITTED_GROUP}.json"
    if not side.settings and committed.is_file():
        group = group_side(repo, COMMITTED_GROUP, spec)
        if len(group.runs) >= COMMITTED_GROUP_SEEDS and not group.warning:
            return Side(spec, f"{group.description}, in place of {spec}'s one run", group.runs, group.files,
                        group.settings, group.platform)
    return side


def changed_keys(a: Side, b: Side) -> list[str]:
    """The params keys the two sides set differently."""
    values = [dict(setting.split("=", 1) for setting in side.settings) for side in (a, b)]
    return sorted(key for key in values[0].keys() | values[1].keys() if values[0].get(key) != values[1].get(key))


# --- One run against one run: the check's rule ------------------------------------------------------------


def seed_aware_diff(a: FileMetrics, b: FileMetrics, spread_seeds: dict[str, FileMetrics]) -> tuple[Verdict, SeedSpread]:
    """judge(A, B) with the seed spread less any spread seed that is A or B itself, and that spread."""
    leave_out = tuple(sorted(seed for seed in {committed_seed(spread_seeds, a), committed_seed(spread_seeds, b)}
                             if seed))
    spread = seed_spread(spread_seeds, leave_out=leave_out)
    return judge(comparable(a), comparable(b), spread), spread


def rows(verdict: Verdict, sd: dict[str, float]) -> list[list[str]]:
    """metric, A, B, B - A, (B - A) / seed sd, tolerance, beyond the seed noise?"""
    table = []
    for row in verdict.rows:
        difference = row.difference
        in_sd = "-" if difference is None or not sd.get(row.metric) else f"{difference / sd[row.metric]:+.2f}"
        beyond = "no" if row.passed else ("YES" if row.allowed is not None else f"? ({row.note})")
        table.append([row.metric, _show(row.committed), _show(row.new),
                      "-" if difference is None else f"{difference:+.4g}", in_sd,
                      "-" if row.allowed is None else f"{row.allowed:.3g}", beyond])
    return table


HEADER = ["metric", "A", "B", "B - A", "in seed sd", "tolerance", "beyond seed noise"]


def format_rows(table: list[list[str]], markdown: bool, header: list[str] = HEADER) -> str:
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
                         + ["| " + " | ".join(cells) + " |" for cells in table])
    widths = [max(len(cells[i]) for cells in [header, *table]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()
                     for cells in [header, *table])


def _show(value: Any) -> str:
    return "-" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)


def one_against_one(a: Side, b: Side, markdown: bool) -> None:
    spread_file = read_record(REPO / SPREAD)
    verdict, spread = seed_aware_diff(next(iter(a.files.values())), next(iter(b.files.values())),
                                      spread_file["seeds"])
    print(f"A = {a.spec}, B = {b.spec}; seed noise from {SPREAD} ({len(spread.seeds)} healthy seeds at the "
          f"committed params), judged as `make check-repro` judges:\n")
    print(format_rows(rows(verdict, spread.sd), markdown))
    beyond = [row.metric for row in verdict.rows if not row.passed]
    print("\n" + (f"Beyond the seed noise: {', '.join(beyond)}." if beyond else
                  "No difference beyond the seed noise: seeds alone could make these two runs.")
          + (f" {verdict.reason}." if verdict.collapsed else ""))
    print("One run a side resolves only large differences (about 9 seed sd at 80% power, docs/comparing.md): "
          "run groups of seeds (make group) to compare settings.")


# --- Groups -----------------------------------------------------------------------------------------------

GROUP_HEADER = ["metric", "A mean ± sd", "B mean ± sd", "B - A [95% interval]", "in seed sd", "sd B/A",
                "P(B > A) [95%]", "p adj.", "beyond seed noise", "resolves at 80%", "seeds a side for B - A"]


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _group_cells(row: comparison.Row) -> list[str]:
    if row.a is None:
        return [row.metric] + ["-"] * 7 + [row.verdict, "-", "-"]
    side = [f"{_number(s.mean)} ± {_number(s.sd, 2)}" if s.count > 1 else _number(s.mean) for s in (row.a, row.b)]
    interval = f" [{_number(row.interval[0], 3)}, {_number(row.interval[1], 3)}]" if row.interval else ""
    superiority = (f"{row.superiority:.2f} [{row.superiority_interval[0]:.2f}, {row.superiority_interval[1]:.2f}]"
                   if row.superiority is not None else "-")
    needed = "-" if row.difference == 0 or row.resolvable is None else (
        str(row.seeds_needed) if row.seeds_needed else "over 1000")
    return [row.metric, *side, f"{row.difference:+.3g}{interval}",
            "-" if row.in_sd is None else f"{row.in_sd:+.2f}",
            "-" if row.sd_ratio is None else f"{row.sd_ratio:.2g}", superiority,
            "-" if row.p is None else f"{row.p:.3g}", row.verdict, _number(row.resolvable, 3), needed]


def group_comparison(a: Side, b: Side, alpha: float, markdown: bool) -> comparison.Comparison:
    result = comparison.compare_sides(a.runs, b.runs, changed_keys(a, b), alpha)
    print(f"A = {a.description}\nB = {b.description}")
    for side in (a, b):
        if side.warning:
            print(f"warning: {side.warning}")
    if a.platform and b.platform and not same_platform_class(a.platform, b.platform):
        print(f"warning: the sides ran on different platform classes "
              f"({'; '.join(platform_differences(a.platform, b.platform))}): every difference includes the platform's")
    print(f"Test: {result.method.value}; {len(result.tested)} metrics tested together at a family-wise α = {alpha:g}.\n")
    print(format_rows([_group_cells(row) for row in result.rows], markdown, GROUP_HEADER))
    return result


def summary_lines(result: comparison.Comparison, a: Side, b: Side) -> list[str]:
    lines = []
    if result.method is comparison.TOO_FEW:
        lines.append(f"Too few seeds to say anything ({len(a.runs)} and {len(b.runs)}): "
                     f"run more with `make group`.")
    elif result.beyond:
        lines.append(f"Beyond the seed noise: {', '.join(result.beyond)}.")
    else:
        lines.append("No difference beyond the seed noise at these seeds (see what they resolve, in the table).")
    untested = [f"{row.metric} ({row.verdict.removeprefix('not tested: ')})" for row in result.rows
                if row.verdict.startswith("not tested")]
    if untested:
        lines.append(f"Not tested: {', '.join(untested)}.")
    for side, runs in result.collapsed.items():
        lines.append(f"Collapsed on side {side}: {', '.join(runs)}.")
    lines.append("'resolves at 80%': the difference these seeds detect 4 times in 5 (Welch, at α/m per metric); "
                 "'seeds a side': how many on each side would resolve the difference seen.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="a seed group (NAME, or NAME:0-4 for some seeds), commit, branch, tag, "
                                  "experiment name, or `workspace`")
    parser.add_argument("b", help="the same kinds")
    parser.add_argument("--alpha", type=float, default=comparison.FAMILY_WISE_ALPHA,
                        help="family-wise error rate over the metrics tested together (default 0.05)")
    parser.add_argument("--md", action="store_true", help="a Markdown table")
    args = parser.parse_args(argv)
    if not 0 < args.alpha < 1:
        parser.error("--alpha must lie between 0 and 1")
    try:
        a, b = load_side(REPO, args.a), load_side(REPO, args.b)
        if len(a.runs) == 1 and len(b.runs) == 1:
            one_against_one(a, b, args.md)
        else:
            result = group_comparison(a, b, args.alpha, args.md)
            print("\n" + "\n".join(summary_lines(result, a, b)))
    except (BetaVAEError, OSError) as error:
        sys.exit(f"error: {error}")
    except subprocess.CalledProcessError as error:
        sys.exit(f"error: `{' '.join(map(str, error.cmd))}` failed: {(error.stderr or '').strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
