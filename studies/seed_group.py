"""Run one setting with several training seeds, as DVC experiments: a seed group.

    python -m studies.seed_group --seeds 0 1 2 3 4 -S train.beta=5.5       # the group beta-5.5
    python -m studies.seed_group --seeds 0 1 2 3 4 5 6 7 8 9               # the group committed
    python -m studies.seed_group --seeds 0 1 2 3 4 -S train.lr=2.0e-3 --workers 2
    python -m studies.seed_group --seeds 0 1 2 3 4 -S train.beta=5.5 --slice 1/2 --push origin   # on machine 1
    python -m studies.seed_group --seeds 0 1 2 3 4 -S train.beta=5.5 --collect --pull origin      # then anywhere
    make group S="train.beta=5.5" SEEDS="0 1 2 3 4"

Cell k of group G is the experiment `G-seed-k`: the committed params.yaml (HEAD's, whatever the workspace
holds: `dvc exp run -S` alone would build on the workspace's values, a previous experiment's included), the
group's -S overrides, and train.seed=k, run up to evaluate. Only train.seed varies. classifier.seed and
evaluate.seed stay at their committed values: the classifier and the evaluation's random draws are the
instrument that measures every group, and varying them would add their noise to every difference between
two groups (docs/comparing.md shows how much).

Each cell is recorded in metrics/groups/G.json as it finishes: its metrics files, platform record, commit and
experiment, with the code and params of train and evaluate it ran on; and, once two cells exist, the UDR
score of each pair of cells (studies/analysis/udr.py) while their models are at hand. A cell already in the
record is not trained again, an experiment already run on this commit is recorded without training, and an
interrupted cell resumes from its last finished epoch (the train stage's checkpoint). A bad override stops
before anything runs, with the params check's one line. `--workers N` runs the cells in N clones of the
repository at once, sharing its DVC cache, each with compute.threads threads: the same bits as one at a time.
Compare groups with `make diff` (studies/diff.py).
"""

from __future__ import annotations

import argparse
import fcntl
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
import yaml
from dvc.exceptions import InvalidArgumentError
from dvc.utils.hydra import apply_overrides

from betavae.errors import BetaVAEError, ParamsError
from betavae.machine import platform_differences, platform_record, same_platform_class
from betavae.params import Params, parse_params
from studies.analysis.experiments import (existing_experiments, experiment_files, experiment_inputs,
                                          experiment_platform, git_show, head_commit, load_experiment_model,
                                          pull_experiments, push_experiments, resolve_rev, restore_workspace, run_dvc,
                                          run_experiment)
from studies.analysis.sweep import parse_slice, slice_of
from studies.analysis.udr import chance_pair_score, pair_score
from studies.records import GROUPS, REPO, command, read_record, relative, write_record

SEED = "train.seed"  # the one seed a group varies
HELD = ("classifier.seed", "evaluate.seed")  # the instrument's seeds: held at the committed values
COMMITTED_GROUP = "committed"  # the group of the committed params
TARGET = "evaluate"  # the stages a cell runs: up to the metrics, no figures


def group_name(settings: Sequence[str]) -> str:
    """The group's name from its overrides: train.beta=5.5 -> beta-5.5; none -> committed."""
    if not settings:
        return COMMITTED_GROUP
    parts = [f"{key.rsplit('.', 1)[-1]}-{value}" for key, _, value in (s.partition("=") for s in settings)]
    return re.sub(r"[^A-Za-z0-9._-]", "-", "_".join(parts))


def cell_name(group: str, seed: int) -> str:
    return f"{group}-seed-{seed}"


def record_path(group: str, folder: Path = GROUPS) -> Path:
    return folder / f"{group}.json"


def _set_key(raw: dict[str, Any], key: str, value: Any) -> None:
    *sections, last = key.split(".")
    for section in sections:
        raw = raw.setdefault(section, {}) if isinstance(raw, dict) else {}
    if isinstance(raw, dict):
        raw[last] = value


def group_params(repo: Path, settings: Sequence[str]) -> dict[str, Any]:
    """HEAD's params.yaml with the overrides applied as `dvc exp run -S` applies them, checked by the params
    loader: a bad override raises its ParamsError (the key named), before anything runs."""
    try:
        return _group_params(repo, settings)
    except ParamsError as error:
        raise ParamsError(f"{error}. No cell ran, and params.yaml is as it was") from None


def _group_params(repo: Path, settings: Sequence[str]) -> dict[str, Any]:
    committed = git_show(repo, "HEAD:params.yaml")
    for setting in settings:
        key, sep, _ = setting.partition("=")
        if not sep or not key or key.startswith("+"):
            raise ParamsError(f"-S {setting!r}: write key=value for a key of params.yaml, e.g. train.beta=5.5")
        if key == SEED or key in HELD:
            raise ParamsError(f"-S {setting}: a seed group sets {SEED} itself (--seeds) and holds "
                              f"{' and '.join(HELD)} at the committed values")
        raw = yaml.safe_load(committed)
        if not _has_key(raw, key):
            _set_key(raw, key, None)
            parse_params(raw)  # names the unknown key, with its closest match
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "params.yaml"
        path.write_text(committed)
        try:
            apply_overrides(path, list(settings))  # DVC's own reading of the values, as `dvc exp run -S` does
        except InvalidArgumentError as error:
            raise ParamsError(f"-S {' '.join(settings)}: {error} ({error.__cause__})") from None
        raw = yaml.safe_load(path.read_text())
    parse_params(raw)  # a bad value: the params check's own message
    return raw


def _has_key(raw: Any, key: str) -> bool:
    for part in key.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return False
        raw = raw[part]
    return True


def committed_params(repo: Path) -> Params:
    """HEAD's params.yaml: the workspace's may hold an interrupted experiment's values."""
    return parse_params(yaml.safe_load(git_show(repo, "HEAD:params.yaml")))


def cell_settings(settings: Sequence[str], seed: int) -> list[str]:
    return [*settings, f"{SEED}={seed}"]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the record while it is read and written: workers share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def new_record(group: str, settings: Sequence[str], held: dict[str, Any]) -> dict[str, Any]:
    return {"group": group, "settings": list(settings), "held": held, "cells": {}, "udr_pairs": {}}


def held_seeds(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params[key.split(".")[0]][key.split(".")[1]] for key in HELD}


def read_cell(repo: Path, rev: str) -> dict[str, Any]:
    """What a cell's experiment recorded: its metrics files, platform record, params and stage inputs."""
    return {"files": experiment_files(repo, rev), "platform": experiment_platform(repo, rev),
            "params": yaml.safe_load(git_show(repo, f"{rev}:params.yaml")), "inputs": experiment_inputs(repo, rev)}


def check_cell(name: str, cell: dict[str, Any], expected: dict[str, Any], record: dict[str, Any]) -> None:
    """A cell joins its group only with the group's params, code and platform class."""
    if parse_params(cell["params"]) != parse_params(expected):
        raise BetaVAEError(f"experiment {name} ran with params other than the committed ones plus the group's "
                           f"settings and its seed; remove it (dvc exp remove {name}) and run the group again")
    if record["cells"] and cell["inputs"] != record["inputs"]:
        raise BetaVAEError(f"experiment {name} ran on other code or params of train and evaluate than the "
                           f"cells recorded in the group; start a new group (--name) or move the record away")
    if record["cells"] and not same_platform_class(cell["platform"], record["platform"]):
        raise BetaVAEError(f"experiment {name} ran on another platform class than the group's cells "
                           f"({'; '.join(platform_differences(record['platform'], cell['platform']))}): a group "
                           f"is one platform class; name another group (--name)")


def add_cell(record: dict[str, Any], seed: int, name: str, rev: str, cell: dict[str, Any],
             commit: str, minutes: float | None) -> dict[str, Any]:
    """The record with the cell added (and its inputs and platform class, from the first cell)."""
    record.setdefault("inputs", cell["inputs"])
    record.setdefault("platform", cell["platform"])
    record["cells"][str(seed)] = {"experiment": name, "rev": rev, "commit": commit, "minutes": minutes,
                                  "platform": cell["platform"], "files": cell["files"]}
    record["cells"] = dict(sorted(record["cells"].items(), key=lambda item: int(item[0])))
    record["commit"] = commit
    record["command"] = command(__spec__.name if __spec__ else "studies.seed_group",
                                ["--seeds", *record["cells"], *(a for s in record["settings"] for a in ("-S", s))])
    return record


def record_cell(repo: Path, path: Path, group: str, settings: Sequence[str], seed: int, expected: dict[str, Any],
                minutes: float | None) -> dict[str, Any]:
    """Read cell `seed`'s experiment, check it belongs to the group, and add it to the record (locked)."""
    name = cell_name(group, seed)
    rev = resolve_rev(repo, name)
    cell = read_cell(repo, rev)
    with locked(path):
        record = read_record(path) if path.is_file() else new_record(group, settings, held_seeds(expected))
        check_cell(name, cell, expected, record)
        record = add_cell(record, seed, name, rev, cell, head_commit(repo), minutes)
        write_record(path, record)
    return record


def representation(repo: Path, rev: str, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images' posterior means [N, D] under the experiment's model, and each unit's mean KL [D]."""
    from betavae.evaluation import encode_all, kl_per_dimension  # here: see fill_udr_pairs
    mu, logvar = encode_all(load_experiment_model(repo, rev), images, batch_size=1000)
    return mu, kl_per_dimension(mu, logvar)


def fill_udr_pairs(repo: Path, path: Path, data_dir: Path) -> None:
    """The UDR score and its chance level of every pair of the record's cells not scored yet, for the cells
    whose models this repository still holds (each is read from its experiment)."""
    record = read_record(path)
    cells = record["cells"]
    missing = [(a, b) for i, a in enumerate(cells) for b in list(cells)[i + 1:] if f"{a}-{b}" not in record["udr_pairs"]]
    if not missing:
        return
    # Imported here: reading the data imports torchvision (about 1.4 s of CPU), which the commands that score
    # no pair (the sweep's collection, a group already scored) never need
    from betavae.data import load_images
    images, _ = load_images(data_dir, "test")
    models: dict[str, tuple[torch.Tensor, torch.Tensor] | None] = {}
    for seed in dict.fromkeys(seed for pair in missing for seed in pair):
        try:
            models[seed] = representation(repo, cells[seed]["rev"], images)
        except Exception as error:  # an experiment from another session: its model is gone
            print(f"   UDR: no model for cell {seed} of {record['group']} ({type(error).__name__}); its pairs wait",
                  flush=True)
            models[seed] = None
    scores = {f"{a}-{b}": {"udr": pair_score(*models[a], *models[b]), "chance": chance_pair_score(*models[a], *models[b])}
              for a, b in missing if models[a] is not None and models[b] is not None}
    with locked(path):
        record = read_record(path)
        record["udr_pairs"].update(scores)
        write_record(path, record)


def run_cells(repo: Path, group: str, settings: Sequence[str], seeds: Sequence[int], path: Path,
              data_dir: Path, score_udr: bool = True) -> None:
    """Run the group's cells one after another in repo's workspace, each recorded as it finishes."""
    expected = group_params(repo, settings)
    started, total = time.monotonic(), len(seeds)
    for done, seed in enumerate(seeds):
        name = cell_name(group, seed)
        print(f"== {group}: seed {seed}, cell {done + 1} of {total} ({' '.join(cell_settings(settings, seed))})",
              flush=True)
        began = time.monotonic()
        if name in existing_experiments(repo):
            print(f"   {name} ran before on this commit: recorded without training", flush=True)
            minutes = None
        else:
            restore_workspace(repo)  # HEAD's params, not a previous experiment's
            run_experiment(repo, name, cell_settings(settings, seed), targets=[TARGET])
            minutes = (time.monotonic() - began) / 60
        expected_cell = yaml.safe_load(yaml.safe_dump(expected))
        expected_cell["train"]["seed"] = seed
        record = record_cell(repo, path, group, settings, seed, expected_cell, minutes)
        metrics = record["cells"][str(seed)]["files"]["metrics/eval.json"]
        elapsed = time.monotonic() - started
        left = elapsed / (done + 1) * (total - done - 1)
        print(f"== {group}: seed {seed} recorded in {relative(path)}: test MSE {metrics['test_mse']:.5f}, KL "
              f"{metrics['kl_nats']:.3f} nats, {metrics['active_units']} active units; {total - done - 1} cells "
              f"left, about {left / 60:.0f} min", flush=True)
        if score_udr:
            fill_udr_pairs(repo, path, data_dir)
    restore_workspace(repo)


def record_experiments(repo: Path, group: str, settings: Sequence[str], seeds: Sequence[int], path: Path,
                       data_dir: Path) -> None:
    """Record the cells that ran elsewhere (their experiments pulled here), then score UDR."""
    present = existing_experiments(repo)
    expected = group_params(repo, settings)
    for seed in todo(path, seeds):
        if cell_name(group, seed) not in present:
            raise BetaVAEError(f"cell {cell_name(group, seed)} is neither recorded nor an experiment here: "
                               f"run its slice (or pull it)")
        record_cell(repo, path, group, settings, seed, dict(expected, train=dict(expected["train"], seed=seed)), None)
    fill_udr_pairs(repo, path, data_dir)


def worker_clone(repo: Path, index: int) -> Path:
    """A clone of repo's HEAD at repo/.groups/worker-INDEX that shares repo's DVC cache (its outputs and run
    cache), made or brought to HEAD."""
    clone = repo / ".groups" / f"worker-{index}"
    if not (clone / ".git").is_dir():
        clone.parent.mkdir(exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(repo), str(clone)], check=True)
    subprocess.run(["git", "fetch", "-q", str(repo), "HEAD"], cwd=clone, check=True)
    subprocess.run(["git", "checkout", "-q", "--force", "FETCH_HEAD"], cwd=clone, check=True)
    cache = run_dvc(repo, "cache", "dir", capture=True).stdout.strip()
    run_dvc(clone, "cache", "dir", "--local", cache)
    run_dvc(clone, "checkout", "-q", "--allow-missing")
    return clone


def run_with_workers(repo: Path, group: str, settings: Sequence[str], seeds: Sequence[int], path: Path,
                     data_dir: Path, workers: int) -> None:
    """The cells shared out over `workers` clones running at once (every workers-th seed each), each recording
    into repo's record as it finishes; their experiments are fetched into repo at the end, then UDR is scored."""
    shares = [list(seeds[index::workers]) for index in range(workers)]
    processes = []
    for index, share in enumerate(share for share in shares if share):
        clone = worker_clone(repo, index + 1)
        arguments = [sys.executable, "-m", "studies.seed_group", "--name", group, "--record", str(path),
                     "--data", str(data_dir), "--no-udr", "--seeds", *map(str, share),
                     *(a for s in settings for a in ("-S", s))]
        processes.append((clone, subprocess.Popen(arguments, cwd=clone)))
    failed = [clone for clone, process in processes if process.wait() != 0]
    for clone, _ in processes:
        subprocess.run(["git", "fetch", "-q", str(clone), "+refs/exps/*:refs/exps/*"], cwd=repo, check=True)
    if failed:
        raise BetaVAEError(f"{len(failed)} of {len(processes)} workers failed ({', '.join(map(str, failed))}): "
                           f"their finished cells are recorded; run the same command again to finish the rest")
    fill_udr_pairs(repo, path, data_dir)


def minutes_per_cell(platform: dict[str, Any], folder: Path = GROUPS) -> float | None:
    """The median minutes a cell took on this platform class, over every group's record; None if none ran here."""
    timed = [cell["minutes"] for path in sorted(folder.glob("*.json")) for cell in read_record(path)["cells"].values()
             if cell.get("minutes") and same_platform_class(cell["platform"], platform)]
    return statistics.median(timed) if timed else None


def estimate(count: int, platform: dict[str, Any], folder: Path = GROUPS) -> str:
    """What `count` cells will cost here, from the cells recorded on this platform class."""
    minutes = minutes_per_cell(platform, folder)
    if minutes is None:
        return f"{count} cells to train; none has been timed on this kind of machine yet."
    return (f"{count} cells to train: about {minutes:.0f} min each here (the median of the cells recorded on this "
            f"platform class), {count * minutes / 60:.1f} h in all.")


def todo(path: Path, seeds: Sequence[int]) -> list[int]:
    """The seeds not in the record yet."""
    recorded = read_record(path)["cells"] if path.is_file() else {}
    return [seed for seed in seeds if str(seed) not in recorded]


def check_platform(path: Path, repo: Path) -> None:
    """Refuse to add cells made on another platform class to a group (its sd would mix two platforms)."""
    if not path.is_file() or not read_record(path)["cells"]:
        return
    here = platform_record(committed_params(repo).compute)
    recorded = read_record(path)["platform"]
    if not same_platform_class(here, recorded):
        raise BetaVAEError(f"{relative(path)} was measured on another platform class "
                           f"({'; '.join(platform_differences(recorded, here))}): a group is one platform class; "
                           f"give this machine's group another name (--name)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-S", "--set-param", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="an override of the committed params.yaml, as `dvc exp run -S` takes it (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(5)), help="train.seed of each cell")
    parser.add_argument("--name", help="the group's name (default: from the overrides, e.g. beta-5.5)")
    parser.add_argument("--workers", type=int, default=1, help="cells run at once, each in a clone of its own")
    parser.add_argument("--slice", help="on one of several machines: run only its share of the seeds, e.g. 1/3")
    parser.add_argument("--push", metavar="REMOTE", help="after running, push the cells' experiments there")
    parser.add_argument("--collect", action="store_true", help="run nothing; record the cells that ran elsewhere")
    parser.add_argument("--pull", metavar="REMOTE", help="before recording, pull the cells' experiments from there")
    parser.add_argument("--record", help=argparse.SUPPRESS)  # a worker records into its parent's file
    parser.add_argument("--data", default=str(REPO / "data" / "fashion_mnist"), help=argparse.SUPPRESS)
    parser.add_argument("--no-udr", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repo = Path.cwd() if args.record else REPO
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds names a seed twice")
    group = args.name or group_name(args.settings)
    path = Path(args.record) if args.record else record_path(group, repo / "metrics" / "groups")
    try:
        group_params(repo, args.settings)
        if args.collect:
            if args.pull:
                pull_experiments(repo, args.pull, [cell_name(group, seed) for seed in args.seeds])
            record_experiments(repo, group, args.settings, args.seeds, path, Path(args.data))
            print(f"{group}: {len(read_record(path)['cells'])} cells in {relative(path)}")
            return
        check_platform(path, repo)
        mine = slice_of(sorted(args.seeds), *parse_slice(args.slice)) if args.slice else args.seeds
        seeds = todo(path, mine)
        if len(seeds) < len(mine):
            print(f"{len(mine) - len(seeds)} of the {len(mine)} cells of {group} are in "
                  f"{relative(path)} already and are kept", flush=True)
        if seeds and not args.record:
            print(estimate(len(seeds), platform_record(committed_params(repo).compute),
                           repo / "metrics" / "groups"), flush=True)
        if args.workers > 1 and len(seeds) > 1:
            run_with_workers(repo, group, args.settings, seeds, path, Path(args.data), min(args.workers, len(seeds)))
        elif seeds:
            run_cells(repo, group, args.settings, seeds, path, Path(args.data),
                      score_udr=not (args.no_udr or args.slice))
        if args.push:
            present = existing_experiments(repo)
            push_experiments(repo, args.push, [cell_name(group, seed) for seed in mine
                                               if cell_name(group, seed) in present])
    except BetaVAEError as error:
        sys.exit(f"error: {error}")
    except subprocess.CalledProcessError as error:
        sys.exit(f"error: `{' '.join(map(str, error.cmd))}` failed (exit status {error.returncode})")
    if not args.record:
        print(f"{group}: {len(read_record(path)['cells']) if path.is_file() else 0} cells in {relative(path)}; "
              f"compare it with `make diff A=committed B={group}`")


if __name__ == "__main__":
    main()
