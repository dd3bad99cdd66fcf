"""Read a beta sweep out of `dvc exp show --json`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from betavae.errors import BetaVAEError


@dataclass(frozen=True)
class SweepPoint:
    name: str
    beta: float
    kl_nats: float
    reconstruction_nats: float
    test_mse: float


def _states(states: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every experiment state in the nested exp show structure (commits, their experiments)."""
    for state in states:
        yield state
        for experiment in state.get("experiments") or []:
            yield from _states(experiment.get("revs") or [])


def sweep_points(exp_show: list[dict[str, Any]], names: list[str]) -> list[SweepPoint]:
    """The named experiments' beta and test metrics, sorted by beta."""
    found = {}
    for state in _states(exp_show):
        if state.get("name") in names and state.get("data"):
            data = state["data"]
            beta = data["params"]["params.yaml"]["data"]["train"]["beta"]
            metrics = data["metrics"]["metrics/eval.json"]["data"]
            found[state["name"]] = SweepPoint(state["name"], float(beta), metrics["kl_nats"],
                                              metrics["reconstruction_nats"], metrics["test_mse"])
    missing = [name for name in names if name not in found]
    if missing:
        raise BetaVAEError(f"experiments not found in `dvc exp show`: {', '.join(missing)}")
    return sorted(found.values(), key=lambda point: point.beta)
