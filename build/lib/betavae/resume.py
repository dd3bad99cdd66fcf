"""Resumable training: a checkpoint after every epoch that an interrupted run continues from.

The checkpoint holds the Trial's state (model, optimizer, history, callbacks such as the learning-rate
schedule) and every random state training draws from, so a resumed run ends byte-identical to an
uninterrupted one. It is tagged with a fingerprint of the params, the code and the data, and a
checkpoint with another fingerprint is never resumed from.

It holds tensors, numbers, strings and plain containers only, no pickled object, so it loads with
`weights_only=True`: a planted file cannot run code, and its fingerprint is checked before anything in it
is used. torchbearer's own state_dict keys it with StateKey objects and records the callbacks' classes;
`trial_state` and `restore` translate.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Sequence

import torch
import torchbearer
from torchbearer import callbacks
from torchbearer.callbacks.callbacks import CallbackList

from betavae.io import atomic_write, save_torch

CHECKPOINT = "checkpoint.pt"
LOG = "training.csv"
ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the betavae package


def code_files(entry: str | Path) -> list[Path]:
    """entry and every betavae module it imports, directly or through other modules, sorted.

    For a stage script this is the code that dvc.yaml lists as the stage's deps (tests/test_dvc_yaml.py
    checks that the two agree), so a resume checkpoint goes stale exactly when DVC would re-run.
    """
    found, todo = {Path(entry).resolve()}, [Path(entry).resolve()]
    while todo:
        for node in ast.walk(ast.parse(todo.pop().read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "betavae":
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.split(".")[0] == "betavae"]
            for name in names:
                module = ROOT / (name.replace(".", "/") + ".py")
                if module.is_file() and module not in found:
                    found.add(module)
                    todo.append(module)
    return sorted(found)


def fingerprint(images: torch.Tensor, settings: Sequence[object], code: Sequence[Path]) -> str:
    """SHA-256 of the training images, the settings (dataclasses), the code files, torch's version, and
    the thread count and CPU kernels in force: everything that decides the bits of the run."""
    digest = hashlib.sha256()
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    digest.update(json.dumps([dataclasses.asdict(s) for s in settings], sort_keys=True, default=str).encode())
    digest.update(json.dumps({"threads": torch.get_num_threads(),
                              "kernels": torch.backends.cpu.get_cpu_capability()}).encode())
    for source in code:
        digest.update(source.relative_to(ROOT).as_posix().encode() + source.read_bytes())
    digest.update(torch.__version__.encode())
    return digest.hexdigest()


class EpochCheckpoint(callbacks.Callback):
    """Saves the resume checkpoint once each epoch is in the history (torchbearer's on_checkpoint)."""

    def __init__(self, directory: Path, tag: str, generator: torch.Generator):
        self.path, self.tag, self.generator = Path(directory) / CHECKPOINT, tag, generator

    def on_checkpoint(self, state: dict) -> None:
        checkpoint = {"fingerprint": self.tag, "trial": trial_state(state[torchbearer.SELF]),
                      "torch_rng": torch.get_rng_state(), "batch_rng": self.generator.get_state(),
                      "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        save_torch(checkpoint, self.path)


def load_checkpoint(directory: Path, tag: str) -> dict | None:
    """The saved checkpoint if it was made with this fingerprint and its log is there, else None."""
    path = Path(directory) / CHECKPOINT
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        print(f"{path} is unreadable or holds more than tensors and plain data ({type(error).__name__}): "
              f"starting afresh")
        return None
    if not isinstance(checkpoint, dict) or checkpoint.get("fingerprint") != tag:
        print(f"{path} was made with other params, code or data: starting afresh")
        return None
    if len(_log_rows(Path(directory) / LOG)) < finished_epochs(checkpoint) + 1:
        print(f"{Path(directory) / LOG} lacks the finished epochs: starting afresh")
        return None
    return checkpoint


def finished_epochs(checkpoint: dict) -> int:
    return len(checkpoint["trial"]["history"])


def trial_state(trial: torchbearer.Trial) -> dict:
    """What a resume needs of a Trial, keyed by plain strings: model, optimizer, history, callbacks' states."""
    state = trial.state_dict()
    return {"model": state[torchbearer.MODEL], "optimizer": state[torchbearer.OPTIMIZER],
            "history": state[torchbearer.HISTORY],
            "callbacks": state[torchbearer.CALLBACK_LIST][CallbackList.CALLBACK_STATES]}


def restore(trial: torchbearer.Trial, checkpoint: dict, generator: torch.Generator, log: Path) -> int:
    """Load a checkpoint into a freshly built Trial and random states; trims the log to match.

    Returns the number of finished epochs.
    """
    saved, state = checkpoint["trial"], trial.state_dict()
    state[torchbearer.MODEL], state[torchbearer.OPTIMIZER] = saved["model"], saved["optimizer"]
    state[torchbearer.HISTORY] = saved["history"]
    state[torchbearer.CALLBACK_LIST][CallbackList.CALLBACK_STATES] = saved["callbacks"]
    trial.load_state_dict(state)
    torch.set_rng_state(checkpoint["torch_rng"])
    generator.set_state(checkpoint["batch_rng"])
    if checkpoint["cuda_rng"]:
        torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
    epochs = finished_epochs(checkpoint)
    # The log gets its row before the checkpoint is saved: drop a row whose checkpoint never was.
    with atomic_write(log, "w") as f:
        csv.writer(f, lineterminator="\r\n").writerows(_log_rows(log)[:epochs + 1])
    return epochs


def _log_rows(log: Path) -> list[list[str]]:
    return list(csv.reader(log.read_text().splitlines())) if log.is_file() else []


def clear(directory: Path) -> None:
    for name in (CHECKPOINT, LOG):
        (Path(directory) / name).unlink(missing_ok=True)
