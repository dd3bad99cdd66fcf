"""Running DVC experiments and reading them back: the git and DVC plumbing shared by the studies that run
many trainings (seed spread, check proof, beta sweep, likelihood options)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import dvc.api
import yaml

from betavae.errors import BetaVAEError
from betavae.model import BetaVAE, load_model
from studies.records import COMMITTED_RESULTS

PLATFORM = "metrics/platform.json"  # what made a run: train writes it


def pipeline_results(repo: Path) -> list[str]:
    """What `dvc exp run` rewrites in the workspace: params.yaml, dvc.lock and each output dvc.yaml keeps out of
    the DVC cache (in git). The studies' own records beside them are not among these."""
    paths = ["params.yaml", "dvc.lock"]
    for stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].values():
        for entry in (entry for kind in ("outs", "metrics", "plots") for entry in stage.get(kind, [])):
            if isinstance(entry, dict):
                (path, options), = entry.items()
                if (options or {}).get("cache") is False:
                    paths.append(path)
    return paths


def run_dvc(repo: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    """`dvc ARGS` in repo with this interpreter's DVC, and its directory first on PATH so that the stages'
    `python` is this interpreter too: the studies work without an activated virtual environment."""
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


def git_show(repo: Path, spec: str) -> str:
    """`git show REV:PATH`: a file as a commit holds it."""
    return subprocess.run(["git", "show", spec], cwd=repo, check=True, capture_output=True, text=True).stdout


def clear_corrupted_rwlock(repo: Path) -> bool:
    """Remove DVC's stage lock file if a run killed while writing it left it unreadable (an empty file after a
    cancelled SLURM task, say): every later `dvc repro` or `dvc exp run` in the repository would stop at
    "JSON structure is corrupted". A readable one is DVC's own to clean up. Whether it was removed."""
    path = repo / ".dvc" / "tmp" / "rwlock"
    try:
        json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except ValueError:
        path.unlink()
        print(f"removed {path.relative_to(repo)}: unreadable, left by a DVC run that was stopped while writing it",
              flush=True)
        return True
    return False


def restore_workspace(repo: Path) -> None:
    """Put params, the pipeline's results and outputs back to the commit the experiments branched from; the
    studies' records (the groups' cells among them) are left as they are.

    Each tracked file is written from HEAD's bytes, not through `git checkout`: after `dvc exp run`, git's
    index can take a rewritten file for unchanged (same size, same second), and checkout then skips it. What
    an interrupted `dvc exp run` left staged is unstaged first: DVC refuses to start over staged changes.
    """
    clear_corrupted_rwlock(repo)
    results = pipeline_results(repo)
    subprocess.run(["git", "reset", "-q", "--", *results], cwd=repo, check=True)
    listed = subprocess.run(["git", "ls-tree", "-r", "--format=%(objectname) %(path)", "HEAD", "--", *results],
                            cwd=repo, check=True, capture_output=True, text=True).stdout.splitlines()
    for line in listed:
        blob, path = line.split(" ", 1)
        committed = subprocess.run(["git", "cat-file", "blob", blob], cwd=repo, check=True,
                                   capture_output=True).stdout
        target = repo / path
        if not target.is_file() or target.read_bytes() != committed:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(committed)
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
    if rev is None:
        return load_model(repo / "models" / "model.pt")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.pt"
        with dvc.api.open("models/model.pt", repo=str(repo), rev=rev, mode="rb") as model_file:
            path.write_bytes(model_file.read())
        return load_model(path)


def read_experiment_json(repo: Path, path: str, rev: str) -> dict[str, Any]:
    """A JSON file of a git revision or DVC experiment, e.g. the metrics/platform.json its training wrote."""
    return json.loads(dvc.api.read(path, repo=str(repo), rev=rev))


def experiment_files(repo: Path, rev: str) -> dict[str, Any]:
    """{metrics file: content} of the metrics the comparisons compare (eval.json, classifier.json), as an
    experiment or commit recorded them in git."""
    return {path: json.loads(git_show(repo, f"{rev}:{path}")) for path in COMMITTED_RESULTS}


def experiment_platform(repo: Path, rev: str) -> dict[str, Any]:
    """The platform record (metrics/platform.json) an experiment's training wrote."""
    return json.loads(git_show(repo, f"{rev}:{PLATFORM}"))


def exp_show(repo: Path) -> list[dict[str, Any]]:
    return json.loads(run_dvc(repo, "exp", "show", "--json", capture=True).stdout)


def experiment_states(states: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every experiment state in the nested exp show structure (commits, their experiments)."""
    for state in states:
        yield state
        for experiment in state.get("experiments") or []:
            yield from experiment_states(experiment.get("revs") or [])


def experiment_results(exp_show_json: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    """{name: {"rev", "params": params.yaml, "metrics": metrics/eval.json}} of the named experiments."""
    found = {}
    for state in experiment_states(exp_show_json):
        if state.get("name") in names and state.get("data"):
            data = state["data"]
            found[state["name"]] = {"rev": state.get("rev"), "params": data["params"]["params.yaml"]["data"],
                                    "metrics": data["metrics"]["metrics/eval.json"]["data"]}
    missing = [name for name in names if name not in found]
    if missing:
        raise BetaVAEError(f"experiments not found in `dvc exp show`: {', '.join(missing)}")
    return found


# The params one seed sets: each stage up to evaluate draws from its own, all set to the same value.
SEEDED = ("classifier.seed", "train.seed", "evaluate.seed")
# The stages whose code and params make the metrics the statistical check compares.
MEASURED_STAGES = ("train", "evaluate")


def seed_settings(seed: int) -> list[str]:
    """`dvc exp run -S` settings of one seed."""
    return [f"{key}={seed}" for key in SEEDED]


def stage_inputs(lock: dict[str, Any], stages: Sequence[str] = MEASURED_STAGES) -> dict[str, Any]:
    """What a dvc.lock says went into the stages, beside the seeds: {stage: {"deps": {path: md5}, "params":
    {"section.key": value}}}, the deps other stages make (models, data) left out: they follow from the rest."""
    made = {out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])}
    inputs = {}
    for name in stages:
        stage = lock["stages"][name]
        params = {f"{section}.{key}": value for sections in stage.get("params", {}).values()
                  for section, values in sections.items() for key, value in values.items()
                  if f"{section}.{key}" not in SEEDED}
        inputs[name] = {"deps": {dep["path"]: dep["md5"] for dep in stage["deps"] if dep["path"] not in made},
                        "params": params}
    return inputs


def resolve_rev(repo: Path, rev: str) -> str:
    """The git commit of a revision (commit, branch, tag) or of a DVC experiment's name."""
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=repo,
                           capture_output=True, text=True)
    if found.returncode == 0:
        return found.stdout.strip()
    # DVC keeps an experiment as refs/exps/<its baseline>/.../<name>: found whatever commit is checked out
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/"], cwd=repo,
                          capture_output=True, text=True, check=True).stdout.split("\n")
    matches = [line.split()[1] for line in refs if line and line.split()[0].rsplit("/", 1)[-1] == rev]
    if len(matches) == 1:
        return matches[0]
    raise BetaVAEError(f"{rev!r} is neither a git revision nor an experiment of this repository"
                       if not matches else f"{len(matches)} experiments are named {rev!r}: give a commit instead")


def experiment_inputs(repo: Path, rev: str) -> dict[str, Any]:
    """stage_inputs of a git revision or experiment's dvc.lock."""
    shown = subprocess.run(["git", "show", f"{resolve_rev(repo, rev)}:dvc.lock"], cwd=repo, check=True, capture_output=True, text=True)
    return stage_inputs(yaml.safe_load(shown.stdout))


def metrics_paths(repo: Path) -> list[str]:
    """The measurement files dvc.yaml declares under metrics/, in stage order: not the platform record (what
    made a run) nor data/source.json (where the images came from)."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    declared = [next(iter(entry)) if isinstance(entry, dict) else entry
                for stage in stages.values() for entry in stage.get("metrics", [])]
    return [path for path in declared if path.startswith("metrics/") and path != PLATFORM]
