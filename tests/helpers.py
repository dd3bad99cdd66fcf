"""Helpers the test modules share (no test module imports another): running commands, reading the
workflows, a `dvc exp show` state, and a shared origin with a DVC remote."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

import yaml

from tests.conftest import REPO, tiny_dvc_workspace, tool_environment

WORKFLOWS = REPO / ".github" / "workflows"


def runner(env: dict) -> Callable[..., subprocess.CompletedProcess]:
    """run(cwd, *command, extra=None): the command in cwd with env (and extra), failing with its output."""
    def run(cwd, *command, extra=None):
        result = subprocess.run(command, cwd=cwd, env={**env, **(extra or {})}, capture_output=True, text=True)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        return result
    return run


def workflow(name: str) -> dict:
    """A workflow of WORKFLOWS (read when called, so a test can point it at a copy)."""
    # PyYAML reads the key `on` as True
    text = (WORKFLOWS / name).read_text()
    return {("on" if key is True else key): value for key, value in yaml.safe_load(text).items()}


def step(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s.get("name") == name)


def exp_show_state(name, beta, kl, seed=0, experiments=None):
    """One state of `dvc exp show --json`: an experiment's params and metrics/eval.json."""
    data = {"params": {"params.yaml": {"data": {"train": {"beta": beta, "seed": seed}}}},
            "metrics": {"metrics/eval.json": {"data": {"kl_nats": kl, "bce_reconstruction": 100 - kl,
                                                       "test_mse": kl / 100}}}}
    return {"rev": f"rev-{name}", "name": name, "data": data, "experiments": experiments}


def origin_with_remote(root: Path, params: dict, **images: int) -> tuple[Path, Path, Path]:
    """A bare git origin, a directory DVC remote (the default, committed), and a clone that committed the tiny
    pipeline with these params and pushed it: (origin, DVC storage, that clone)."""
    run = runner(tool_environment())
    origin, storage, first = root / "origin.git", root / "dvc-storage", root / "first"
    run(root, "git", "init", "-q", "--bare", "--initial-branch=main", str(origin))
    first.mkdir()
    tiny_dvc_workspace(first, params, **images)
    run(first, "git", "init", "-q", "-b", "main")
    run(first, "dvc", "init", "-q")
    run(first, "dvc", "remote", "add", "-d", "shared", str(storage))
    run(first, "git", "add", "-A")
    run(first, "git", "commit", "-qm", "tiny pipeline")
    run(first, "git", "remote", "add", "origin", str(origin))
    run(first, "git", "push", "-q", "origin", "main")
    return origin, storage, first
