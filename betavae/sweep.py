"""A beta x seeds sweep as DVC experiments: the grid and its slices, running and sharing experiments,
reading them back out of `dvc exp show --json`, and their mean and spread per beta."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import mean, stdev
from typing import Any, Iterator, Sequence

from betavae.errors import BetaVAEError, ParamsError
from betavae.model import BetaVAE, load_model

# What `dvc exp run` rewrites in the workspace; put back to the commit once the experiments are recorded.
RESULTS = ("params.yaml", "dvc.lock", "metrics", "plots", "data/source.json")
# A difference between two betas counts when it exceeds this many seed standard deviations (pooled).
SPREAD_MULTIPLE = 2.0


@dataclass(frozen=True)
class SweepPoint:
    """One experiment of a sweep: its beta, seed, git commit and metrics/eval.json (only valid metrics)."""

    name: str
    beta: float
    seed: int
    rev: str
    metrics: dict[str, Any]

    @property
    def kl_nats(self) -> float:
        return self.metrics["kl_nats"]

    @property
    def test_mse(self) -> float:
        return self.metrics["test_mse"]


@dataclass(frozen=True)
class Spread:
    """A metric over the seeds of one beta."""

    mean: float
    sd: float  # sample standard deviation over seeds (0 for one seed)
    count: int


def experiment_name(beta: float, seed: int) -> str:
    return f"sweep-beta-{beta:g}-seed-{seed}"


def grid(betas: list[float], seeds: list[int]) -> list[tuple[float, int]]:
    """Every (beta, seed) of the sweep, in a fixed order."""
    return [(beta, seed) for beta in sorted(set(betas)) for seed in sorted(set(seeds))]


def parse_slice(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3): the second of three slices."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ParamsError(f"--slice must look like 1/2 (this machine's slice / the number of slices), got {text!r}")
    if not 1 <= index <= count:
        raise ParamsError(f"--slice {text}: the slice must lie between 1 and {count}")
    return index, count


def slice_of(cells: list[tuple[float, int]], index: int, count: int) -> list[tuple[float, int]]:
    """Slice `index` of `count` (1-based): every count-th cell, so that slices get betas of every size."""
    return cells[index - 1::count]


def run_dvc(repo: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    """`dvc ARGS` in repo with this interpreter's DVC, and its directory first on PATH so that the stages'
    `python` is this interpreter too: the scripts work without an activated virtual environment."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=env, check=True,
                          capture_output=capture, text=True)


def existing_experiments(repo: Path) -> set[str]:
    """Names of the experiments already recorded on the checked-out commit (`dvc exp list`)."""
    return set(run_dvc(repo, "exp", "list", "--name-only", capture=True).stdout.split())


def run_experiment(repo: Path, name: str, settings: list[str], targets: Sequence[str] = ()) -> None:
    """`dvc exp run -S key=value ... --name name [targets]` in the workspace (no queue worker); with targets,
    only those stages and what they depend on run."""
    options = [option for setting in settings for option in ("-S", setting)]
    run_dvc(repo, "exp", "run", "--name", name, *options, *targets)


def restore_workspace(repo: Path) -> None:
    """Put params, results and outputs back to the commit the experiments branched from."""
    tracked = subprocess.run(["git", "ls-files", "--", *RESULTS], cwd=repo, check=True, capture_output=True,
                             text=True).stdout.split()
    if tracked:
        subprocess.run(["git", "checkout", "--", *tracked], cwd=repo, check=True)
    # --allow-missing: on a fresh machine the committed outputs need not be in the cache; the next run makes them
    run_dvc(repo, "checkout", "-q", "--allow-missing")


def run_experiments(repo: Path, experiments: dict[str, list[str]], targets: Sequence[str] = ()) -> None:
    """Run each named experiment (its -S settings) one after another, each from the committed params and
    results (uncommitted changes to them are put back first).

    An experiment already recorded on this commit is kept, so an interrupted run resumes. Progress and
    the time left are printed after each; the workspace is put back to the commit at the end.
    """
    existing = existing_experiments(repo)
    kept = [name for name in experiments if name in existing]
    if kept:
        print(f"{len(kept)} of the {len(experiments)} experiments ran before on this commit and are kept: "
              f"{', '.join(kept)}", flush=True)
    todo = {name: settings for name, settings in experiments.items() if name not in existing}
    started = time.monotonic()
    try:
        for done, (name, settings) in enumerate(todo.items()):
            restore_workspace(repo)  # each experiment changes the committed params, not the last one's
            print(f"== {done + 1} of {len(todo)}: {name} ({' '.join(settings) or 'the committed params'})",
                  flush=True)
            run_experiment(repo, name, settings, targets)
            elapsed = time.monotonic() - started
            left = elapsed / (done + 1) * (len(todo) - done - 1)
            print(f"== {done + 1} of {len(todo)} done after {elapsed / 60:.1f} min; about {left / 60:.0f} min left",
                  flush=True)
    finally:
        if todo:
            restore_workspace(repo)


def head_commit(repo: Path) -> str:
    """The checked-out git commit, recorded beside results; empty in a repository without commits yet."""
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()


def push_experiments(repo: Path, remote: str, names: list[str]) -> None:
    """Experiments' git refs to the git remote, their outputs to the default DVC remote."""
    run_dvc(repo, "exp", "push", remote, *names)


def pull_experiments(repo: Path, remote: str, names: list[str]) -> None:
    """Experiments' git refs from the git remote, their outputs from the default DVC remote."""
    run_dvc(repo, "exp", "pull", remote, *names)


def load_experiment_model(repo: Path, rev: str | None = None) -> BetaVAE:
    """The model of a git revision or DVC experiment, read through dvc.api; without rev, the workspace's."""
    import dvc.api
    if rev is None:
        return load_model(repo / "models" / "model.pt")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.pt"
        with dvc.api.open("models/model.pt", repo=str(repo), rev=rev, mode="rb") as model_file:
            path.write_bytes(model_file.read())
        return load_model(path)


def read_experiment_json(repo: Path, path: str, rev: str) -> dict[str, Any]:
    """A JSON file of a git revision or DVC experiment, e.g. the metrics/platform.json its training wrote."""
    import dvc.api
    return json.loads(dvc.api.read(path, repo=str(repo), rev=rev))


def exp_show(repo: Path) -> list[dict[str, Any]]:
    return json.loads(run_dvc(repo, "exp", "show", "--json", capture=True).stdout)


def _states(states: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every experiment state in the nested exp show structure (commits, their experiments)."""
    for state in states:
        yield state
        for experiment in state.get("experiments") or []:
            yield from _states(experiment.get("revs") or [])


def experiment_results(exp_show_json: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    """{name: {"rev", "params": params.yaml, "metrics": metrics/eval.json}} of the named experiments."""
    found = {}
    for state in _states(exp_show_json):
        if state.get("name") in names and state.get("data"):
            data = state["data"]
            found[state["name"]] = {"rev": state.get("rev"), "params": data["params"]["params.yaml"]["data"],
                                    "metrics": data["metrics"]["metrics/eval.json"]["data"]}
    missing = [name for name in names if name not in found]
    if missing:
        raise BetaVAEError(f"experiments not found in `dvc exp show`: {', '.join(missing)}")
    return found


def sweep_points(exp_show_json: list[dict[str, Any]], names: list[str]) -> list[SweepPoint]:
    """The named experiments' beta, seed and test metrics, sorted by beta, then seed."""
    results = experiment_results(exp_show_json, names)
    points = [SweepPoint(name, float(result["params"]["train"]["beta"]), int(result["params"]["train"]["seed"]),
                         result["rev"], result["metrics"]) for name, result in results.items()]
    return sorted(points, key=lambda point: (point.beta, point.seed))


def summarize(points: list[SweepPoint]) -> dict[float, dict[str, Spread]]:
    """Mean and standard deviation over seeds of every number in eval.json, per beta.

    The KL per latent dimension is left out: dimension d of one seed is not dimension d of another.
    """
    by_beta: dict[float, list[SweepPoint]] = {}
    for point in points:
        by_beta.setdefault(point.beta, []).append(point)
    summary = {}
    for beta, group in sorted(by_beta.items()):
        names = [name for name, value in group[0].metrics.items() if isinstance(value, (int, float))]
        summary[beta] = {name: _spread([float(point.metrics[name]) for point in group]) for name in names}
    return summary


def summary_of_record(record: dict[str, Any]) -> dict[float, dict[str, Spread]]:
    """The summary back out of metrics/beta_sweep.json (its "summary": {beta: {metric: mean, sd, count}})."""
    return {float(beta): {name: Spread(**spread) for name, spread in metrics.items()}
            for beta, metrics in record["summary"].items()}


def _spread(values: list[float]) -> Spread:
    return Spread(mean(values), stdev(values) if len(values) > 1 else 0.0, len(values))


def seed_spread(a: Spread, b: Spread) -> float:
    """The pooled seed standard deviation of two betas' values of one metric."""
    return math.sqrt((a.sd ** 2 + b.sd ** 2) / 2)


def exceeds_seed_spread(a: Spread, b: Spread) -> bool:
    """Whether the difference of the means is larger than SPREAD_MULTIPLE pooled seed standard deviations."""
    return abs(b.mean - a.mean) > SPREAD_MULTIPLE * seed_spread(a, b)


def compare(summary: dict[float, dict[str, Spread]], beta_a: float, beta_b: float) -> list[dict[str, Any]]:
    """Per metric both betas share: both means, the difference, the seed spread, and whether it counts."""
    for beta in (beta_a, beta_b):
        if beta not in summary:
            raise ParamsError(f"beta {beta:g} is not in the sweep ({', '.join(f'{b:g}' for b in summary)})")
    rows = []
    for name in summary[beta_a].keys() & summary[beta_b].keys():
        a, b = summary[beta_a][name], summary[beta_b][name]
        rows.append({"metric": name, "a": a, "b": b, "difference": b.mean - a.mean, "spread": seed_spread(a, b),
                     "exceeds": exceeds_seed_spread(a, b)})
    return sorted(rows, key=lambda row: row["metric"])
