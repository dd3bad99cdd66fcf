"""Shared fixtures: the repository's params, its committed records, and tiny generated Fashion-MNIST-shaped data."""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from betavae.data import SPLITS, raw_dir
from betavae.idx import write_idx
from betavae.machine import platform_differences
from betavae.params import Params, load_params
from studies.check_repro import committed_json
from tests.stage_forkserver import start_server
from tools.mutation import copy_checkout

REPO = Path(__file__).resolve().parent.parent

# What `dvc repro` rewrites in the repository: the results a local re-run replaces
RESULTS = ("dvc.lock", "metrics", "plots")


def committed_file(path: str) -> bytes:
    return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=REPO, check=True, capture_output=True).stdout


def holds_local_rerun() -> bool:
    """Whether the workspace's results come from a re-run on another platform class than the committed ones
    (`make repro` on another kind of CPU): they cannot be committed, so tests of the committed records read
    HEAD's. On the platform that made them a re-run is what gets committed, and the workspace is read."""
    committed = committed_json("metrics/platform.json")
    current = json.loads((REPO / "metrics" / "platform.json").read_text())
    return bool(platform_differences(committed, current))


def restore_committed_results(tree: Path) -> None:
    """Write HEAD's version of every result the workspace changed into tree (a copy of the working tree)."""
    changed = subprocess.run(["git", "diff", "--name-only", "-z", "HEAD", "--", *RESULTS], cwd=REPO, check=True,
                             capture_output=True).stdout.decode().split("\0")
    for path in filter(None, changed):
        (tree / path).write_bytes(committed_file(path))


@pytest.fixture
def committed_records(tmp_path) -> Path:
    """The repository whose records the tests of committed results read: REPO itself, or where the workspace
    holds a local re-run, a copy of its working tree with HEAD's results."""
    if not holds_local_rerun():
        return REPO
    copy_checkout(tmp_path / "committed")
    restore_committed_results(tmp_path / "committed")
    return tmp_path / "committed"


# A whole params.yaml at toy size: every stage runs in seconds on generated data.
TINY_PARAMS = {
    "data": {"binarize": False, "binarize_seed": 0},
    "model": {"latent_dim": 3, "channels": [4, 4, 8], "hidden_dim": 16},
    "train": {"beta": 2.0, "kl_warmup_epochs": 1, "epochs": 1, "batch_size": 32, "lr": 1.0e-3, "lr_warmup_steps": 2, "lr_schedule": "cosine", "loss": "bce", "val_size": 20, "seed": 0},
    "compute": {"threads": 1, "device": "cpu", "precision": "fp32"},
    "classifier": {"epochs": 1, "batch_size": 64, "lr": 1.0e-3, "seed": 0},
    "evaluate": {"batch_size": 16, "seed": 0, "iwae_samples": 4, "knn_neighbours": 3, "prior_samples": 20},
    "sample": {"count": 4, "seed": 0},
    "interpolate": {"pairs": 2, "steps": 3, "method": "slerp"},
    "visualize": {"reconstructions_per_class": 1, "traversal_images": 2, "traversal_steps": 3,
                  "traversal_range": 2.0},
}

# The committed tiny repository's params and data: enough training that no seed collapses (6 epochs at beta
# 0.5 give 3 of 3 active units for seeds 0-4; 2 epochs give none), so its seeds make a real seed spread.
COMMITTED_PARAMS = dict(TINY_PARAMS, train=dict(TINY_PARAMS["train"], beta=0.5, lr=1.0e-2, epochs=6, batch_size=16))
COMMITTED_IMAGES = {"train": 400, "test": 100}


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def runs_the_pipeline(command: object) -> bool:
    """Whether a subprocess command runs DVC or a pipeline stage: what makes a test slow (pyproject.toml)."""
    words = [str(word) for word in command] if isinstance(command, (list, tuple)) else str(command).split()
    return any(Path(word).name == "dvc" or (before == "-m" and (word == "dvc" or word.startswith("stages.")))
               for before, word in zip([""] + words, words))


@pytest.fixture(autouse=True)
def _slow_marker_matches(request, monkeypatch):
    """A test not marked slow that runs DVC or a stage itself fails at once, saying why. (Through a script
    it goes unseen: such tests are marked by hand.)"""
    if request.node.get_closest_marker("slow"):
        return
    start = subprocess.Popen.__init__

    def guarded(self, args, *rest, **options):
        if runs_the_pipeline(args):
            raise AssertionError(f"{request.node.nodeid} runs {args!r}: mark it slow (pyproject.toml's rule)")
        start(self, args, *rest, **options)
    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)


@pytest.fixture
def params() -> Params:
    return load_params(REPO / "params.yaml")


@pytest.fixture
def tiny_model_config(params):
    return dataclasses.replace(params.model, latent_dim=4, channels=(4, 4, 8), hidden_dim=16)


def keep_saved_figures(monkeypatch: pytest.MonkeyPatch, module: object) -> list:
    """The matplotlib figures a figures module saves (through its save_figure), to inspect their axes."""
    saved = []
    original = module.save_figure

    def keep(figure, path):
        saved.append(figure)
        original(figure, path)
    monkeypatch.setattr(module, "save_figure", keep)
    return saved


def make_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """count uint8 28x28 images whose brightness pattern depends on the label, and labels 0..9."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.integers(0, 60, size=(count, 28, 28))
    for image, label in zip(images, labels):
        image[2 * label:2 * label + 8, 4:24] += 180
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_tiny_dataset(root: Path, train: int = 200, test: int = 50) -> Path:
    """Write generated train/test IDX files in the layout torchvision reads."""
    for split, count, seed in (("train", train, 1), ("test", test, 2)):
        images, labels = make_images(count, seed)
        image_file, label_file = SPLITS[split]
        write_idx(raw_dir(root) / image_file, images)
        write_idx(raw_dir(root) / label_file, labels)
    return root


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    return write_tiny_dataset(tmp_path / "tiny")


def tiny_dvc_workspace(root: Path, params: dict, train: int = 200, test: int = 50) -> None:
    """The pipeline's code and dvc.yaml in root, with tiny params and generated data instead of download."""
    for name in ("betavae", "stages", "studies", "tools"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".dvcignore", root)
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    del pipeline["stages"]["download"]  # the generated data stands in for it
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_tiny_dataset(root / "data" / "fashion_mnist", train=train, test=test)


def tool_environment(**extra: str) -> dict:
    """os.environ with this venv's dvc first on PATH, a git identity, and the stages run in forks of a process
    that has imported torch (stage_server_environment), for git and dvc in tests."""
    return dict(os.environ, **stage_server_environment(), DVC_NO_ANALYTICS="1",
                PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
                GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.invalid",
                GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.invalid", **extra)


_stage_server: list = []  # this process's server and its environment, started by the first slow test that asks
_in_slow_test = [False]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Note, before its fixtures are set up, whether the next test is slow: only those run stages."""
    _in_slow_test[0] = item.get_closest_marker("slow") is not None


def stage_server_environment() -> dict:
    """Where a `python -m stages.*` hands its stage to tests/stage_forkserver.py's server (it starts in 0.1 s
    instead of 3 s): the PYTHONPATH of its sitecustomize. Empty in a quick test (it runs no stage, and the
    server costs some 3 s of CPU to start) and where STAGES_IN_FRESH_PYTHON=1 asks for a fresh interpreter
    per stage."""
    if os.environ.get("STAGES_IN_FRESH_PYTHON") == "1" or not (_stage_server or _in_slow_test[0]):
        return {}
    if not _stage_server:
        directory = Path(tempfile.mkdtemp(prefix="betavae-stages-"))  # short: a socket path is at most 107 bytes
        server, environment = start_server(directory)
        _stage_server.append(environment)
        atexit.register(_stop_stage_server, server, directory)
    return {"PYTHONPATH": _stage_server[0]["PYTHONPATH"]}


def _stop_stage_server(server: subprocess.Popen, directory: Path) -> None:
    server.kill()
    server.wait()
    shutil.rmtree(directory, ignore_errors=True)


def _git_dvc_commit(root: Path, message: str) -> None:
    env = tool_environment()
    for command in (("git", "init", "-q", "-b", "main"), ("dvc", "init", "-q"), ("dvc", "repro", "-q"),
                    ("git", "add", "-A"), ("git", "commit", "-qm", message)):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def committed_tiny_repo(tmp_path_factory, worker_id) -> Path:
    """A git + DVC repo of the tiny pipeline (COMMITTED_PARAMS, generated data) whose `dvc repro` results are
    committed, its outputs and run cache in .dvc/cache: built once per test run, shared by the xdist workers
    through a lock. Read-only: tests work in a copy (copy_of_committed_tiny_repo)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    root = shared / "committed-tiny-repo"
    from filelock import FileLock
    with FileLock(str(shared / "committed-tiny-repo.lock")):
        if not (root / ".built").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            tiny_dvc_workspace(root, COMMITTED_PARAMS, **COMMITTED_IMAGES)
            _git_dvc_commit(root, "tiny pipeline and its results")
            (root / ".git" / "info" / "exclude").write_text("/.built\n")
            (root / ".built").touch()
    return root


def copy_repo(committed: Path, copy: Path) -> Path:
    """A private copy of committed_tiny_repo (without DVC's temporary state), to change at will."""
    shutil.copytree(committed, copy, symlinks=True, ignore=shutil.ignore_patterns("tmp", ".built"))
    return copy


@pytest.fixture
def copy_of_committed_tiny_repo(committed_tiny_repo, tmp_path) -> Path:
    return copy_repo(committed_tiny_repo, tmp_path / "repo")


# The modules that train most, longest first (as `make test`'s --durations measured them on 2 cores),
# each followed in the run by quick modules. pytest-xdist (--dist loadfile --no-loadscope-reorder) hands a
# worker the next module in this order as it runs low, so the long ones start early and the quick ones
# fill the gaps, instead of a long module starting last while the other worker idles.
LONGEST_MODULES = ("test_check_repro.py", "test_sweep.py", "test_seed_group.py", "test_slurm_sweep.py",
                   "test_resume.py", "test_likelihood_options.py", "test_dvc_yaml.py", "test_docs.py",
                   "test_offline_plots.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long-running modules first, in LONGEST_MODULES order, each followed by quick modules (stable otherwise)."""
    modules = list(dict.fromkeys(item.path.name for item in items))
    long = [name for name in LONGEST_MODULES if name in modules]
    quick = [name for name in modules if name not in long]
    share = -(-len(quick) // max(len(long), 1))  # quick modules after each long one
    order = []
    for index, name in enumerate(long):
        order += [name, *quick[index * share:(index + 1) * share]]
    order += quick[len(long) * share:]
    rank = {name: position for position, name in enumerate(order)}
    items.sort(key=lambda item: rank[item.path.name])


SLURM_PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "sinfo", "scancel")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _slurm_conf(root: Path, host: str) -> str:
    """A one-node cluster, its config, state and spool under root (the recipe of docs/sweep.md's tests)."""
    return "\n".join([
        "ClusterName=betavae-test", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={root}/munge.socket",
        f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log", f"SlurmdLogFile={root}/slurmd.log",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "ReturnToService=2", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "MpiDefault=none", "MinJobAge=3600",
        "SchedulerParameters=sched_interval=2", "KillWait=5",
        f"NodeName={host} CPUs={os.cpu_count()} RealMemory=4000 State=UNKNOWN",
        f"PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""])


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> dict:
    """munged, slurmctld and slurmd on this machine, with their config, spool and state in a temporary folder:
    the environment (SLURM_CONF) that talks to them. Stopped by pid at the end. Skipped where SLURM is not
    installed (make setup-dev installs it where apt can), but never in CI."""
    missing = [name for name in SLURM_PROGRAMS if not (shutil.which(name) or Path("/usr/sbin", name).exists())]
    if missing:
        reason = f"SLURM is not installed ({', '.join(missing)} missing): apt-get install slurmctld slurmd " \
                 f"slurm-client munge, as make setup-dev does where apt can"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("slurm")
    for folder in ("state", "spool"):
        (root / folder).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    (root / "slurm.conf").write_text(_slurm_conf(root, socket.gethostname().split(".")[0]))
    env = dict(tool_environment(), SLURM_CONF=str(root / "slurm.conf"),
               PATH=f"/usr/sbin:{tool_environment()['PATH']}")
    subprocess.run(["munged", "--force", f"--socket={root}/munge.socket", f"--key-file={key}",
                    f"--log-file={root}/munged.log", f"--pid-file={root}/munged.pid",
                    f"--seed-file={root}/munged.seed"], env=env, check=True)
    pids = [root / "munged.pid"]
    try:
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([daemon], env=env, check=True)
            pids.append(root / f"{daemon}.pid")
        deadline = time.monotonic() + 60
        while subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                             text=True).stdout.strip() != "idle":
            assert time.monotonic() < deadline, f"the SLURM node did not come up: {(root / 'slurmd.log').read_text()}"
            time.sleep(0.5)
        yield env
    finally:
        for pid_file in reversed(pids):
            _stop(pid_file)


def _stop(pid_file: Path) -> None:
    """Stop a daemon by the pid it wrote, and wait until it is gone."""
    deadline = time.monotonic() + 30
    while not pid_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not pid_file.is_file():
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
