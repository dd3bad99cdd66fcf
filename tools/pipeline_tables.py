"""The committed run's tables in the docs: the stages as dvc.yaml declares them, its headline and every
metric, and the platform that made it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from betavae.params import load_params
from studies.analysis.reproducibility import flatten
from studies.records import PARAMS, REPO, read_record


def number(value: object) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def metrics_table() -> str:
    lines = ["| file | metric | value |", "|---|---|---|"]
    for path in ("metrics/classifier.json", "metrics/eval.json"):
        for name, value in flatten(read_record(REPO / path)).items():
            lines.append(f"| `{path}` | {name} | {number(value)} |")
    return "\n".join(lines)


def headline_table() -> str:
    metrics = read_record(REPO / "metrics" / "eval.json")
    return "\n".join([
        "| test MSE per pixel | active latent units | linear-probe accuracy from μ |", "|---|---|---|",
        f"| {metrics['test_mse']:.4f} (reference to beat: 0.0265) | {metrics['active_units']} of "
        f"{load_params(PARAMS).model.latent_dim} | {metrics['linear_probe_accuracy']:.3f} (chance: 0.1) |"])


def platform_table() -> str:
    record = read_record(REPO / "metrics" / "platform.json")
    return "\n".join(["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in record.items())])


def _params_text(entries: list[Any]) -> str:
    """A stage's params as dvc.yaml lists them: sections, or a whole file (`- params.yaml:`)."""
    shown = []
    for entry in entries:
        if isinstance(entry, dict):
            shown += [f"all of `{file}`" if keys is None else ", ".join(f"`{key}`" for key in keys)
                      for file, keys in entry.items()]
        else:
            shown.append(f"`{entry}`")
    return ", ".join(shown) or "none"


def _outputs_text(stage: dict[str, Any]) -> list[str]:
    """Each output and where it is kept: DVC's cache, or git (`cache: false`), and whether it is a metric or plot."""
    shown = []
    for kind in ("outs", "metrics", "plots"):
        for entry in stage.get(kind, []):
            path, options = (next(iter(entry.items())) if isinstance(entry, dict) else (entry, None))
            cached = (options or {}).get("cache", True)
            where = "DVC cache" if cached else "in git"
            label = {"outs": where, "metrics": f"metrics, {where}", "plots": f"plot, {where}"}[kind]
            shown.append(f"`{path}` ({label})")
    return shown


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
        lines.append(f"| {name} | `{stage['cmd']}` | {'; '.join(other)} | {_params_text(stage.get('params', []))} "
                     f"| {'; '.join(_outputs_text(stage))} |")
    return "\n".join(lines)


TABLES = {"headline": headline_table, "metrics": metrics_table, "platform": platform_table, "stages": stage_table}
