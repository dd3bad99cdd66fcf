"""Run DVC experiments in the workspace, put the workspace back, and read results out of `dvc exp show --json`."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from betavae.errors import BetaVAEError


@dataclass(frozen=True)
class SweepPoint:
    """One experiment of a sweep: its beta and its metrics/eval.json, which hold only valid metrics."""

    name: str
    beta: float
    metrics: dict[str, Any]

    @property
    def kl_nats(self) -> float:
        return self.metrics["kl_nats"]

    @property
    def test_mse(self) -> float:
        return self.metrics["test_mse"]


# What `dvc exp run` rewrites in the workspace; put back to the commit once the experiments are recorded.
RESULTS = ("params.yaml", "dvc.lock", "metrics", "plots", "data/source.json")


def run_experiment(repo: Path, name: str, settings: list[str]) -> None:
    """`dvc exp run -S key=value ... --name name` in the workspace (no queue worker)."""
    command = ["dvc", "exp", "run", "--name", name]
    for setting in settings:
        command += ["-S", setting]
    subprocess.run(command, cwd=repo, check=True)


def restore_workspace(repo: Path) -> None:
    """Put params, results and outputs back to the commit the experiments branched from."""
    tracked = subprocess.run(["git", "ls-files", "--", *RESULTS], cwd=repo, check=True, capture_output=True,
                             text=True).stdout.split()
    if tracked:
        subprocess.run(["git", "checkout", "--", *tracked], cwd=repo, check=True)
    subprocess.run(["dvc", "checkout", "-q"], cwd=repo, check=True)


def exp_show(repo: Path) -> list[dict[str, Any]]:
    shown = subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, check=True, capture_output=True, text=True)
    return json.loads(shown.stdout)


def experiment_results(exp_show_json: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    """{name: {"params": params.yaml, "metrics": metrics/eval.json}} of the named experiments."""
    found = {}
    for state in _states(exp_show_json):
        if state.get("name") in names and state.get("data"):
            data = state["data"]
            found[state["name"]] = {"params": data["params"]["params.yaml"]["data"],
                                    "metrics": data["metrics"]["metrics/eval.json"]["data"]}
    missing = [name for name in names if name not in found]
    if missing:
        raise BetaVAEError(f"experiments not found in `dvc exp show`: {', '.join(missing)}")
    return found


def _states(states: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every experiment state in the nested exp show structure (commits, their experiments)."""
    for state in states:
        yield state
        for experiment in state.get("experiments") or []:
            yield from _states(experiment.get("revs") or [])


def sweep_points(exp_show_json: list[dict[str, Any]], names: list[str]) -> list[SweepPoint]:
    """The named experiments' beta and test metrics, sorted by beta."""
    results = experiment_results(exp_show_json, names)
    points = [SweepPoint(name, float(result["params"]["train"]["beta"]), result["metrics"])
              for name, result in results.items()]
    return sorted(points, key=lambda point: point.beta)
