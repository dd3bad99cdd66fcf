import builtins
import errno
import importlib
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from betavae.cli import run_stage
from betavae.errors import WriteError
from betavae.figures import save_image_grid
from betavae.io import atomic_write, save_torch, write_json
from betavae.model import BetaVAE, save_checkpoint
from tests.conftest import REPO, TINY_PARAMS, write_tiny_dataset


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write('{"half":')
            raise RuntimeError("killed mid-write")
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_process_killed_mid_write_leaves_no_file_under_the_final_name(tmp_path):
    path = tmp_path / "metrics.json"
    script = ("import sys, time\n"
              "from betavae.io import atomic_write\n"
              "with atomic_write(sys.argv[1]) as f:\n"
              "    f.write('{\"partial\": '); f.flush(); print('writing', flush=True); time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not path.exists()
    leftovers = list(tmp_path.iterdir())
    assert all(p.name.startswith(".metrics.json.") and p.name.endswith(".tmp") for p in leftovers)


def test_written_files_are_readable_by_others(tmp_path):
    write_json(tmp_path / "x.json", [])
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644


class FullDiskFile:
    """A file opened for writing on a full disk: every write or flush fails with ENOSPC."""

    def __init__(self, file):
        self._file = file

    def _full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    write = writelines = flush = _full

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()

    def __iter__(self):
        return iter(self._file)


def fill_disk(monkeypatch, directory):
    """Files opened for writing under directory behave as on a full disk (reading still works)."""
    real_open = builtins.open

    def open_on_full_disk(file, mode="r", *args, **kwargs):
        opened = real_open(file, mode, *args, **kwargs)
        writing = any(flag in mode for flag in "wax+")
        return FullDiskFile(opened) if writing and str(file).startswith(str(directory)) else opened
    monkeypatch.setattr(builtins, "open", open_on_full_disk)


@pytest.fixture
def full_disk(monkeypatch, tmp_path):
    fill_disk(monkeypatch, tmp_path)


def write_png(path):
    save_image_grid(torch.zeros(4, 1, 28, 28), path, "four blank images")


@pytest.mark.parametrize("write", [lambda path: write_json(path, {"b": 2}),
                                   lambda path: save_torch({"w": torch.ones(3)}, path),
                                   write_png], ids=["json", "torch", "png"])
def test_a_full_disk_fails_in_one_error_naming_the_file_and_keeps_the_old_one(tmp_path, full_disk, write):
    path = tmp_path / "output"
    path.write_bytes(b"the previous results")  # written before the disk filled up
    with pytest.raises(WriteError) as error:
        write(path)
    assert str(error.value) == f"cannot write {path}: No space left on device; its previous content is kept"
    assert path.read_bytes() == b"the previous results"
    assert [p.name for p in tmp_path.iterdir()] == ["output"]  # no temporary file left behind


@pytest.mark.parametrize("stage", ["sample", "train"])
def test_a_stage_on_a_full_disk_ends_in_one_line(tmp_path, tiny_model_config, monkeypatch, capsys, stage):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(TINY_PARAMS))
    if stage == "sample":
        save_checkpoint(BetaVAE(tiny_model_config), tmp_path / "model.pt")
        argv = [str(tmp_path / "model.pt"), str(tmp_path / "out" / "samples.png")]
    else:
        write_tiny_dataset(tmp_path / "data")
        argv = [str(tmp_path / "data"), *(str(tmp_path / "out" / name) for name in
                                           ("model.pt", "training.csv", "platform.json", "resume"))]
    (tmp_path / "out").mkdir()
    old = tmp_path / "out" / ("samples.png" if stage == "sample" else "model.pt")
    old.write_bytes(b"the previous results")
    monkeypatch.setattr(sys, "argv", [stage, *argv, "--params", str(params)])
    fill_disk(monkeypatch, tmp_path / "out")
    with pytest.raises(SystemExit) as exit_info:
        run_stage(importlib.import_module(f"stages.{stage}").main)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()
    assert lines[-1].startswith(f"error: cannot write {tmp_path / 'out'}") and "No space left on device" in lines[-1]
    assert [line for line in lines if line.startswith("error") or "Traceback" in line] == [lines[-1]]
    assert old.read_bytes() == b"the previous results"
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]

