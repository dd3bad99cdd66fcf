"""Interrupted training resumes from the last finished epoch and ends byte-identical."""

import dataclasses
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from betavae import resume
from betavae.batches import TensorBatches
from betavae.compute import CPU_FP32
from betavae.model import BetaVAE
from betavae.training import build_trial
from tests.conftest import REPO, TINY_PARAMS, write_tiny_dataset

# 58 batches an epoch: the interruption after epoch 2 falls inside the learning-rate warm-up and the KL warm-up,
# and three epochs remain to resume
PARAMS = dict(TINY_PARAMS, train=dict(TINY_PARAMS["train"], epochs=5, kl_warmup_epochs=3, lr_warmup_steps=200,
                                      batch_size=50, val_size=100))


def train_command(directory):
    return [sys.executable, "-m", "stages.train", str(directory / "data"), str(directory / "model.pt"),
            str(directory / "log.csv"), str(directory / "platform.json"), str(directory / "resume"),
            "--params", str(directory / "params.yaml")]


def setup_run(tmp_path, name, params=PARAMS):
    directory = tmp_path / name
    write_tiny_dataset(directory / "data", train=3000, test=10)
    (directory / "params.yaml").write_text(yaml.safe_dump(params))
    return directory


def finish(directory):
    return subprocess.run(train_command(directory), cwd=REPO, capture_output=True, text=True, check=True)


def interrupt_after_two_epochs(directory, sig):
    # A shell that starts jobs in the background makes them ignore SIGINT, and Python keeps an ignored
    # SIGINT ignored: give the child the default disposition, as a terminal would.
    process = subprocess.Popen(train_command(directory), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    checkpoint = directory / "resume" / resume.CHECKPOINT
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if checkpoint.is_file() and len(torch.load(checkpoint, weights_only=True)["trial"]["history"]) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def test_the_fingerprint_covers_the_train_stage_code_and_nothing_else(tmp_path, params, monkeypatch):
    code = resume.code_files(REPO / "stages" / "train.py")
    names = {path.relative_to(REPO).as_posix() for path in code}
    assert {"stages/train.py", "betavae/training.py", "betavae/objective.py", "betavae/model.py"} <= names
    assert not names & {"betavae/evaluation.py", "betavae/figures.py", "studies/analysis/reproducibility.py"}

    monkeypatch.setattr(resume, "ROOT", tmp_path)  # a copy of that code, to edit
    copies = []
    for path in code:
        copies.append(tmp_path / path.relative_to(REPO))
        copies[-1].parent.mkdir(parents=True, exist_ok=True)
        copies[-1].write_bytes(path.read_bytes())
    images, settings = torch.zeros(4, 1, 28, 28), (params.model, params.train)
    before = resume.fingerprint(images, settings, copies)
    assert resume.fingerprint(images, settings, copies) == before
    objective = tmp_path / "betavae" / "objective.py"
    objective.write_text(objective.read_text() + "# an edit\n")
    assert resume.fingerprint(images, settings, copies) != before


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """One uninterrupted run, the reference of both interruptions."""
    directory = setup_run(tmp_path_factory.mktemp("reference"), "whole")
    finish(directory)
    assert not (directory / "resume" / resume.CHECKPOINT).exists()  # cleared once the model is saved
    return directory


@pytest.fixture(scope="module")
def killed_after_two_epochs(tmp_path_factory):
    """One run killed (kill -9) after two epochs: each test that resumes it, or refuses to, works in a copy."""
    directory = setup_run(tmp_path_factory.mktemp("killed"), "killed")
    returncode, _ = interrupt_after_two_epochs(directory, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    return directory


def interrupted_run(tmp_path, killed_after_two_epochs, sig):
    """A run interrupted by sig after two epochs (a copy of the killed one for kill -9, interrupted here for
    the others): its directory, and the interruption's return code and stderr."""
    directory = tmp_path / "interrupted"
    if sig == signal.SIGKILL:
        shutil.copytree(killed_after_two_epochs, directory)
        return directory, -signal.SIGKILL, ""
    directory = setup_run(tmp_path, "interrupted")
    return directory, *interrupt_after_two_epochs(directory, sig)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_training_resumes_to_identical_results(tmp_path, uninterrupted, killed_after_two_epochs, sig):
    directory, returncode, stderr = interrupted_run(tmp_path, killed_after_two_epochs, sig)
    assert not (directory / "model.pt").exists() and not (directory / "log.csv").exists()
    if sig == signal.SIGINT:
        assert returncode == 130
        assert stderr.replace("\r", "\n").strip().splitlines()[-1] == (
            f"interrupted: finished epochs are kept in {directory / 'resume'}; run `dvc repro` to resume")

    result = finish(directory)
    assert "resuming from" in result.stdout
    assert (directory / "model.pt").read_bytes() == (uninterrupted / "model.pt").read_bytes()
    assert (directory / "log.csv").read_bytes() == (uninterrupted / "log.csv").read_bytes()


def test_the_fingerprint_covers_the_thread_count(params):
    images, settings, code = torch.zeros(4, 1, 28, 28), (params.model, params.train), []
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = resume.fingerprint(images, settings, code)
        torch.set_num_threads(2)
        assert resume.fingerprint(images, settings, code) != one
    finally:
        torch.set_num_threads(threads)


# A fresh start is one code path whichever value changed: beta's case compares its model with a fresh run's;
# the thread count's (a 2-thread training costs twice the CPU) checks that the checkpoint is not resumed
@pytest.mark.slow
@pytest.mark.parametrize("section, key, value, compare_with_fresh_run",
                         [("train", "beta", 3.0, True), ("compute", "threads", 2, False)])
def test_a_checkpoint_with_other_params_is_not_resumed(tmp_path, killed_after_two_epochs, section, key, value,
                                                       compare_with_fresh_run):
    directory = shutil.copytree(killed_after_two_epochs, tmp_path / "changed")
    changed = dict(PARAMS, **{section: dict(PARAMS[section], **{key: value})})
    (directory / "params.yaml").write_text(yaml.safe_dump(changed))
    result = finish(directory)
    assert "starting afresh" in result.stdout and "resuming" not in result.stdout
    assert (directory / "model.pt").is_file() and not (directory / "resume" / resume.CHECKPOINT).exists()

    if compare_with_fresh_run:
        fresh = setup_run(tmp_path, "fresh", params=changed)
        finish(fresh)
        assert (directory / "model.pt").read_bytes() == (fresh / "model.pt").read_bytes()


class Planted:
    """What an attacker would pickle: unpickling it calls a function of their choice."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_planted_checkpoint_is_refused_in_one_line_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "the planted code ran"
    tag = "the fingerprint of this run"
    torch.save({"fingerprint": tag, "trial": Planted(marker)}, tmp_path / resume.CHECKPOINT)
    (tmp_path / resume.LOG).write_text("epoch,loss\n0,1.0\n")
    assert resume.load_checkpoint(tmp_path, tag) is None  # training starts afresh
    assert not marker.exists()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "holds more than tensors and plain data" in lines[0] and "starting afresh" in lines[0]


def test_a_checkpoint_round_trips_through_the_safe_loader(tmp_path, tiny_model_config, params):
    """What EpochCheckpoint saves loads with weights_only=True and restores a fresh Trial."""
    settings = dataclasses.replace(params.train, epochs=1, kl_warmup_epochs=1, lr_warmup_steps=2, batch_size=8)
    batches = TensorBatches(torch.rand(16, 1, 28, 28), batch_size=8, seed=0)
    trial = build_trial(BetaVAE(tiny_model_config), settings, CPU_FP32, len(batches),
                        extra=[resume.EpochCheckpoint(tmp_path, "tag", batches.generator)])
    trial.with_generators(batches).run(1)
    (tmp_path / resume.LOG).write_text("epoch,loss\n0,1.0\n")
    checkpoint = resume.load_checkpoint(tmp_path, "tag")
    assert checkpoint is not None and resume.finished_epochs(checkpoint) == 1
    fresh = build_trial(BetaVAE(tiny_model_config), settings, CPU_FP32, len(batches))
    fresh.with_generators(batches)
    assert resume.restore(fresh, checkpoint, batches.generator, tmp_path / resume.LOG) == 1
    restored, saved = fresh.state_dict(), trial.state_dict()
    assert all(torch.equal(restored["model"][k], saved["model"][k]) for k in saved["model"])
