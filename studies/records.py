"""Where the studies keep their records, and how a record is read, written and says what made it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Sequence

from betavae.io import write_json

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "fashion_mnist"
PARAMS = REPO / "params.yaml"
METRICS = REPO / "metrics"
PLOTS = REPO / "plots"
SEED_SPREAD = METRICS / "seed_spread.json"
SEED_SPREAD_AVX2 = METRICS / "seed_spread_avx2.json"
CHECK_PROOF = METRICS / "check_proof.json"
BETA_SWEEP = METRICS / "beta_sweep.json"
GROUP_ERRORS = METRICS / "group_errors.json"
GROUPS = METRICS / "groups"  # one record per seed group: metrics/groups/NAME.json
COMMITTED_RESULTS = ("metrics/eval.json", "metrics/classifier.json")  # what the comparisons compare


def command(module: str, arguments: Sequence[object] = ()) -> str:
    """The command line that runs `module` with these arguments, as a record stores it: written from the
    module's own name (its __spec__.name), never typed by hand, so a record cannot name a command that is gone."""
    return " ".join(["python", "-m", module, *(shlex.quote(str(argument)) for argument in arguments)])


def read_record(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Write a record whole or not at all (a temporary file renamed into place)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)


def committed_results(repo: Path = REPO) -> dict[str, Any]:
    """{metrics file: content} of the committed run, as the workspace holds it."""
    return {path: json.loads((repo / path).read_text()) for path in COMMITTED_RESULTS}


def relative(path: Path, repo: Path = REPO) -> str:
    """path as the docs and messages show it: relative to the repository where it lies inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)
