"""Which code and params a study's record measured, and whether that is still the committed pipeline.

Every study record carries `inputs`: the code and params of train and evaluate that its runs used
(experiments.stage_inputs, seeds aside). A record whose inputs differ from dvc.lock's describes code that
no longer runs: it is stale, and `python -m tools.docs --check` (so the test suite) fails on it with the
command that refreshes it. A record kept on purpose for a comparison that no longer runs says so in a
`historical` field, and the docs show it as such, with its commit and kind of CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from studies.analysis.experiments import stage_inputs

# Every study record: each stores the command that made it, which measures it again on the checked-out code
RECORDS = ("metrics/seed_spread.json", "metrics/seed_spread_avx2.json", "metrics/check_proof.json",
           "metrics/beta_sweep.json", "metrics/group_errors.json", "metrics/likelihood_options.json",
           "metrics/test_nll.json")
GROUPS = "metrics/groups"  # a record per seed group
BENCHMARK = "benchmarks/results.json"  # one entry per kind of machine, each with its own inputs
BENCHMARK_COMMAND = "python -m benchmarks.train_speed"


def record_paths(repo: Path) -> list[str]:
    """The study records this repository holds: the fixed ones that exist, and every seed group's."""
    groups = sorted(path.relative_to(repo).as_posix() for path in (repo / GROUPS).glob("*.json"))
    return [path for path in RECORDS if (repo / path).is_file()] + groups


def committed_inputs(repo: Path) -> dict[str, Any]:
    return stage_inputs(yaml.safe_load((repo / "dvc.lock").read_text()))


def input_differences(measured: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    """What differs between two stage_inputs records, one phrase per stage and kind."""
    if not measured:
        return ["the record does not say which inputs it measured"]
    differences = []
    for stage in sorted(measured.keys() | committed.keys()):
        mine, theirs = measured.get(stage, {}), committed.get(stage, {})
        for kind in ("deps", "params"):
            a, b = mine.get(kind, {}), theirs.get(kind, {})
            changed = sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))
            if changed:
                differences.append(f"{stage} {kind}: {', '.join(changed)}")
    return differences


def own_settings(measured: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    """The params a record's runs set on purpose (an experiment's -S values): `key=value` where they differ
    from the commit's params."""
    values = {key: value for stage in committed.values() for key, value in stage.get("params", {}).items()}
    return sorted({f"{key}={json.dumps(value)}" for stage in measured.values()
                   for key, value in stage.get("params", {}).items() if key in values and values[key] != value})


def _without(inputs: dict[str, Any], settings: list[str]) -> dict[str, Any]:
    keys = {setting.split("=", 1)[0] for setting in settings}
    return {stage: dict(spec, params={key: value for key, value in spec.get("params", {}).items() if key not in keys})
            for stage, spec in inputs.items()}


def stale(name: str, record: dict[str, Any], committed: dict[str, Any], command: str) -> str | None:
    """Why a record (or benchmark entry) no longer describes the committed pipeline, or None. The params
    a record names in `settings` (its own deliberate values) are not compared."""
    if "historical" in record:
        return None
    settings = record.get("settings", [])
    differences = input_differences(_without(record.get("inputs", {}), settings), _without(committed, settings))
    if not differences:
        return None
    return (f"{name} was measured on other inputs of train and evaluate than dvc.lock's "
            f"({'; '.join(differences)}): refresh it with `{command}`, or mark it historical")


def stale_records(repo: Path) -> list[str]:
    """Every study record and benchmark entry that is neither current nor marked historical, and why."""
    committed = committed_inputs(repo)
    records = {path: json.loads((repo / path).read_text()) for path in record_paths(repo)}
    problems = [stale(path, record, committed, record.get("command", "its study")) for path, record in records.items()]
    benchmark = json.loads((repo / BENCHMARK).read_text())["by_machine_kind"]
    problems += [stale(f"{BENCHMARK} ({kind})", entry, committed, BENCHMARK_COMMAND)
                 for kind, entry in benchmark.items()]
    return [problem for problem in problems if problem]


def platform_text(platform: dict[str, Any]) -> str:
    """A platform record in a few words: AMD EPYC (family 25, model 17; AVX512-BF16, bf16, 2 threads)."""
    family = f"{platform['cpu_family']}; " if platform.get("cpu_family") else ""
    gpu = f"{platform['gpu']}, " if platform.get("gpu") else ""
    return (f"{platform.get('cpu_model', 'an unrecorded CPU')} ({family}{gpu}{platform.get('instruction_set', '?')}, "
            f"{platform.get('precision', '?')}, {platform.get('threads', '?')} threads)")


def source(record: dict[str, Any], platform: dict[str, Any] | None = None) -> str:
    """Where a record's numbers come from, for the docs: its command, commit and platform, and for a historical
    record that it is one (its command then is that commit's, shown as text: it may not run today)."""
    platform = platform or record.get("platform") or {}
    commit = f"commit `{record['commit'][:7]}`" if record.get("commit") else "an unrecorded commit"
    if "historical" in record:
        return (f"Made at {commit} by that commit's command, {record.get('command', 'unrecorded')}, on "
                f"{platform_text(platform)}. {provenance(record)}")
    return f"Made by `{record['command']}` at {commit} on {platform_text(platform)}."


def provenance(record: dict[str, Any]) -> str:
    """A sentence for the docs: a historical record's reason, commit and kind of CPU; nothing for a current one."""
    if "historical" not in record:
        return ""
    runs = [run.get("platform") for run in record.get("runs", {}).values() if isinstance(run, dict)]
    platform = record.get("platform") or record.get("machine") or next((p for p in runs if p), {})
    cpu = " ".join(str(part) for part in (platform.get("cpu_model"), platform.get("cpu_family"),
                                          platform.get("instruction_set")) if part)
    commit = f" at commit `{record['commit'][:7]}`" if record.get("commit") else ""
    return f"**Historical**: measured{commit} on {cpu or 'an unrecorded CPU'}; {record['historical']}"
