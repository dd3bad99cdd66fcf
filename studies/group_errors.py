"""How often the group diff is wrong: its false alarms on comparisons with nothing to find, and its power on
changes of known size, measured on recorded seed groups.

    python -m studies.group_errors      # the default groups below, each recorded by `make group`

False alarms: every way of dealing the committed group's seeds into two groups of five (each pair once: 126
ways for ten seeds), and groups of new seeds at the committed params against the committed group and against
each other. A comparison raises a false alarm when any metric comes out beyond the seed noise; the designed
rate is the family-wise alpha (5%). Power: each change (beta 5 -> 5.5, lr 3e-3 -> 2e-3 against the committed
group; beta 5 -> 10 with five seeds a side), with every metric's difference, interval, adjusted p and verdict,
and what the seeds resolve. One run a side: the tolerance and the difference resolved at 80% power of the
check's rule, in seed sd, from the committed seed spread.

Writes metrics/group_errors.json, tied to the train and evaluate code of the groups (all must share it);
docs/comparing.md shows it (`python -m tools.docs`).
"""

from __future__ import annotations

import argparse
import math
import sys
from itertools import combinations
from statistics import stdev
from typing import Any

from scipy import optimize, stats

from betavae.errors import BetaVAEError
from studies.analysis import comparison
from studies.analysis.experiments import head_commit
from studies.analysis.provenance import source
from studies.analysis.reproducibility import comparable, critical_t
from studies.diff import Side, changed_keys, load_side, parse_group_spec
from studies.records import GROUP_ERRORS, REPO, SEED_SPREAD, command, read_record, relative, write_record

NULL_SPLITS = "committed"
NULL_GROUPS = ("committed-b", "committed-c")
CHANGES = (("committed", "beta-5.5"), ("committed", "lr-2.0e-3"), ("committed:0-4", "beta-10"))


def splits(seeds: list[str], size: int) -> list[tuple[list[str], list[str]]]:
    """Every way of dealing the seeds into a group of `size` and the rest, each unordered pair of groups once."""
    found, seen = [], set()
    for first in combinations(seeds, size):
        second = tuple(seed for seed in seeds if seed not in first)
        if (second, first) not in seen:
            seen.add((first, second))
            found.append((list(first), list(second)))
    return found


def rate(alarms: int, trials: int) -> dict[str, Any]:
    interval = stats.binomtest(alarms, trials).proportion_ci(0.95) if trials else None
    return {"trials": trials, "false_alarms": alarms, "rate": alarms / trials if trials else None,
            "interval": [interval.low, interval.high] if interval else None}


def null_splits(side: Side, alpha: float) -> dict[str, Any]:
    """The committed group's seeds dealt into two groups of five every way: any metric beyond is a false alarm."""
    seeds = list(side.runs)
    size = len(seeds) // 2
    by_metric: dict[str, int] = {}
    alarms = 0
    for first, second in splits(seeds, size):
        result = comparison.compare_sides({s: side.runs[s] for s in first}, {s: side.runs[s] for s in second},
                                          (), alpha)
        alarms += bool(result.beyond)
        for metric in result.beyond:
            by_metric[metric] = by_metric.get(metric, 0) + 1
    return {"group": side.spec, "seeds": seeds, "size": size, **rate(alarms, len(splits(seeds, size))),
            "by_metric": by_metric}


def judged(a: Side, b: Side, alpha: float) -> dict[str, Any]:
    """One comparison as the group diff makes it: its test and every metric's numbers and verdict."""
    result = comparison.compare_sides(a.runs, b.runs, changed_keys(a, b), alpha)
    return {"a": a.spec, "b": b.spec, "seeds": [len(a.runs), len(b.runs)], "settings": [list(a.settings),
            list(b.settings)], "method": result.method.value, "tested": result.tested, "beyond": result.beyond,
            "metrics": {row.metric: {"a": [row.a.mean, row.a.sd], "b": [row.b.mean, row.b.sd],
                                     "difference": row.difference, "interval": row.interval, "in_sd": row.in_sd,
                                     "p": row.p, "verdict": row.verdict, "resolvable": row.resolvable,
                                     "seeds_needed": row.seeds_needed}
                        for row in result.rows if row.a is not None}}


def one_against_one(alpha_check: float = 0.01) -> dict[str, Any]:
    """The check's rule for one run a side, in seed sd: its tolerance and the difference it resolves at 80%."""
    spread = read_record(SEED_SPREAD)["check"]
    seeds, metrics = len(spread["healthy_seeds"]), spread["metrics_tested"]
    t = critical_t(seeds, metrics, alpha_check)
    # difference / (sqrt(2) sd), sd from seeds - 1 degrees of freedom: noncentral t with noncentrality
    # (difference in seed sd) / sqrt(2)
    def power(in_sd: float) -> float:
        law = stats.nct(seeds - 1, in_sd / math.sqrt(2))
        return law.sf(t)  # the other tail, below -t, is negligible here (and scipy's nct.cdf can give nan)
    resolvable = optimize.brentq(lambda in_sd: power(in_sd) - 0.8, 0.0, 20.0)
    tolerance = t * math.sqrt(2)
    return {"seeds": seeds, "metrics": metrics, "alpha": alpha_check, "tolerance_in_sd": tolerance,
            "resolvable_in_sd": resolvable}


def measure(splits_group: str, null_groups: list[str], changes: list[tuple[str, str]], alpha: float) -> dict:
    sides = {spec: load_side(REPO, spec) for spec in {splits_group, *null_groups, *(s for c in changes for s in c)}}
    stale = [side.warning for side in sides.values() if side.warning]
    if stale:
        raise BetaVAEError("; ".join(stale))
    committed = sides[splits_group]
    nulls = [judged(committed, sides[name], alpha) for name in null_groups]
    nulls += [judged(sides[a], sides[b], alpha) for a, b in combinations(null_groups, 2)]
    record = read_record(REPO / "metrics" / "groups" / f"{parse_group_spec(splits_group)[0]}.json")
    return {"alpha": alpha, "platform": committed.platform, "inputs": record["inputs"],
            "settings": sorted({setting for side in sides.values() for setting in side.settings}),
            "null_splits": null_splits(committed, alpha), "null_groups": nulls,
            "changes": [judged(sides[a], sides[b], alpha) for a, b in changes],
            "one_against_one": one_against_one()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", default=NULL_SPLITS, help="the group whose seeds are dealt into two halves")
    parser.add_argument("--null", nargs="*", default=list(NULL_GROUPS), help="groups of new seeds at its params")
    parser.add_argument("--changes", nargs="*", default=[f"{a}/{b}" for a, b in CHANGES], metavar="A/B",
                        help="comparisons of known changes, A/B each (group specs as make diff takes them)")
    parser.add_argument("--alpha", type=float, default=comparison.FAMILY_WISE_ALPHA)
    args = parser.parse_args(argv)
    try:
        changes = [tuple(change.split("/", 1)) for change in args.changes]
        if any(len(change) != 2 for change in changes):
            parser.error("--changes takes A/B pairs")
        measured = measure(args.splits, args.null, changes, args.alpha)
    except BetaVAEError as error:
        sys.exit(f"error: {error}")
    arguments = ["--splits", args.splits, "--null", *args.null, "--changes", *args.changes]
    write_record(GROUP_ERRORS, {"command": command(__spec__.name, arguments), "commit": head_commit(REPO), **measured})
    splits_ = measured["null_splits"]
    print(f"false alarms: {splits_['false_alarms']} of {splits_['trials']} splits of {args.splits}; "
          + "; ".join(f"{n['b']} against {n['a']}: {', '.join(n['beyond']) or 'nothing'} beyond"
                      for n in measured["null_groups"]))
    for change in measured["changes"]:
        print(f"{change['a']} -> {change['b']}: beyond the seed noise: {', '.join(change['beyond']) or 'nothing'}")
    print(f"wrote {relative(GROUP_ERRORS)}")


# --- Its tables in the docs -------------------------------------------------------------------------------

SHOWN = ("test_mse", "bce_reconstruction", "bce_objective", "kl_nats", "knn_accuracy", "linear_probe_accuracy",
         "frechet_classifier_reconstructions", "active_units")


def _verdict(row: dict) -> str:
    low, high = row["interval"] or (math.nan, math.nan)
    mark = "**beyond**" if row["verdict"] == "YES" else "*within*" if row["verdict"] == "no" else row["verdict"]
    return f"{row['difference']:+.3g} [{low:+.3g}, {high:+.3g}] {mark}"


def errors_table() -> str:
    if not GROUP_ERRORS.is_file():
        return "No record yet: `python -m studies.group_errors` measures it once the groups it compares are recorded."
    record = read_record(GROUP_ERRORS)
    splits_ = record["null_splits"]
    low, high = splits_["interval"]
    lines = [f"{source(record)} Family-wise α = {record['alpha']:g}.", "",
             "| comparison with nothing to find | seeds a side | test | false alarms |", "|---|---|---|---|",
             f"| every split of `{splits_['group']}` into two groups of {splits_['size']} | {splits_['size']} and "
             f"{splits_['size']} | {comparison.PERMUTATION.value} | {splits_['false_alarms']} of {splits_['trials']} "
             f"({100 * splits_['rate']:.1f}%, 95% interval {100 * low:.1f}–{100 * high:.1f}%; the splits share seeds) |"]
    for null in record["null_groups"]:
        lines.append(f"| `{null['b']}` against `{null['a']}` | {null['seeds'][0]} and {null['seeds'][1]} | "
                     f"{null['method']} | {', '.join(null['beyond']) or 'none'} |")
    lines += ["", "| change | seeds a side | " + " | ".join(SHOWN) + " |", "|---" * (len(SHOWN) + 2) + "|"]
    for change in record["changes"]:
        cells = [_verdict(change["metrics"][name]) if name in change["metrics"] else "—" for name in SHOWN]
        lines.append(f"| `{change['a']}` → `{change['b']}` | {change['seeds'][0]} and {change['seeds'][1]} | "
                     + " | ".join(cells) + " |")
    one = record["one_against_one"]
    lines += ["", f"One run a side (the check's rule, {one['seeds']} seeds of `{relative(SEED_SPREAD)}`, "
                  f"{one['metrics']} metrics at a family-wise {one['alpha']:.0%}): a difference counts beyond "
                  f"{one['tolerance_in_sd']:.1f} seed sd, and one of {one['resolvable_in_sd']:.1f} seed sd is "
                  f"caught 4 times in 5."]
    return "\n".join(lines)


NOISE_SHOWN = ("test_mse", "kl_nats", "knn_accuracy", "linear_probe_accuracy", "frechet_classifier_reconstructions",
               "frechet_classifier_samples", "classifier_test_accuracy")


def instrument_noise_table() -> str:
    """The seed sd of each metric with the classifier and evaluate seeds varied (the seed spread) and held
    (the committed group): what holding the instrument removes."""
    committed = REPO / "metrics" / "groups" / "committed.json"
    if not committed.is_file():
        return "No committed group yet: `make group SEEDS=\"0 1 2 3 4 5 6 7 8 9\"` records it."
    group, spread = read_record(committed), read_record(SEED_SPREAD)
    held = [comparable(cell["files"]) for cell in group["cells"].values()]
    varied = [comparable(files) for files in spread["seeds"].values()]
    lines = [f"Varied: `{relative(SEED_SPREAD)}`, {len(varied)} seeds. {source(spread)} Held: the committed group, "
             f"{len(held)} seeds. {source(group)}", "",
             "| metric | seed sd, classifier and evaluate seeds varied | seed sd, held |", "|---|---|---|"]
    for name in NOISE_SHOWN:
        sd = [stdev(float(run[name]) for run in runs) if len(runs) > 1 else math.nan for runs in (varied, held)]
        lines.append(f"| {name} | {sd[0]:.3g} | {sd[1]:.3g} |")
    return "\n".join(lines)


TABLES = {"group-errors": errors_table, "instrument-noise": instrument_noise_table}


if __name__ == "__main__":
    main()
