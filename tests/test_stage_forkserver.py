"""tests/stage_forkserver.py: in the tests' environment a `python -m stages.NAME` runs in a fork of a
torch-loaded server exactly as a fresh interpreter would run it (arguments, directory, environment, streams,
exit status, signals); any other Python runs as usual, and a stage whose import-time environment differs runs
in its own interpreter."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.stage_forkserver import start_server

pytestmark = pytest.mark.slow  # it runs `python -m stages.*`

PROBE = """
import json, os, sys
loaded = "torch" in sys.modules  # before this stage imports anything: preloaded by the server or not
import betavae
print(json.dumps({"loaded": loaded, "argv": sys.argv[1:], "cwd": os.getcwd(), "x": os.environ.get("X"),
                  "own": betavae.WHERE, "stdin": sys.stdin.read(), "name": __name__}))
sys.exit(int(os.environ.get("CODE", "0")))
"""

WAIT = """
import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
while True:
    time.sleep(0.05)
"""


@pytest.fixture(scope="module")
def server():
    directory = Path(tempfile.mkdtemp(prefix="betavae-stages-test-"))
    process, environment = start_server(directory)
    yield process, environment
    process.kill()
    process.wait()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A directory with its own `betavae` and the stages `probe` and `wait`."""
    (tmp_path / "betavae").mkdir()
    (tmp_path / "betavae" / "__init__.py").write_text(f"WHERE = {str(tmp_path)!r}\n")
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "__init__.py").write_text("")
    (tmp_path / "stages" / "probe.py").write_text(PROBE)
    (tmp_path / "stages" / "wait.py").write_text(WAIT)
    (tmp_path / "stages" / "fail.py").write_text("raise ValueError('a stage bug')\n")
    (tmp_path / "stages" / "refuse.py").write_text("raise SystemExit('error: no such file')\n")
    return tmp_path


def environment(server, **variables) -> dict:
    """The server's environment, this venv's `python` first on PATH, and variables."""
    return dict(server[1], PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}", **variables)


def shell(server, workspace, command, **variables):
    """command through /bin/sh, as DVC runs a stage's cmd."""
    return subprocess.run(command, shell=True, cwd=workspace, env=environment(server, **variables),
                          input="from stdin", capture_output=True, text=True, timeout=60)


def test_a_stage_runs_in_the_server_with_its_arguments_directory_environment_streams_and_exit_status(server,
                                                                                                   workspace):
    result = shell(server, workspace, "python -m stages.probe a 'b c'", X="set", CODE="3")
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout) == {"loaded": True, "argv": ["a", "b c"], "cwd": str(workspace), "x": "set",
                                         "own": str(workspace), "stdin": "from stdin", "name": "__main__"}


@pytest.mark.parametrize("variable", ["ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "OMP_NUM_THREADS"])
def test_a_stage_whose_import_time_environment_differs_runs_in_a_fresh_interpreter(server, workspace, variable):
    result = shell(server, workspace, "python -m stages.probe a", **{variable: "avx2"})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert not shown["loaded"] and shown["argv"] == ["a"] and shown["own"] == str(workspace)


def test_anything_but_python_m_stages_runs_as_usual(server, workspace):
    other = shell(server, workspace, "python -c 'import sys; print(\"torch\" in sys.modules)'")
    assert other.returncode == 0 and other.stdout == "False\n"
    with_option = shell(server, workspace, "python -u -m stages.probe")
    assert with_option.returncode == 0 and not json.loads(with_option.stdout)["loaded"]


def test_a_failing_stage_exits_as_the_interpreter_would(server, workspace):
    bug = shell(server, workspace, "python -m stages.fail")
    assert bug.returncode == 1 and bug.stderr.rstrip().endswith("ValueError: a stage bug")
    refused = shell(server, workspace, "python -m stages.refuse")
    assert refused.returncode == 1 and refused.stderr == "error: no such file\n"


def start_waiting_stage(server, workspace) -> tuple[subprocess.Popen, int]:
    """The `wait` stage started as `python -m stages.wait`: that process, and the pid the stage reports (its fork)."""
    pid_file = workspace / "stage.pid"
    client = subprocess.Popen(["python", "-m", "stages.wait", str(pid_file)], cwd=workspace,
                              env=environment(server), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and client.poll() is None, "the stage did not start"
        time.sleep(0.05)
    stage = int(pid_file.read_text())
    assert stage != client.pid  # it runs in the server's fork
    return client, stage


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_client_reaches_the_stage_and_the_client_ends_as_it_did(server, workspace, number):
    client, stage = start_waiting_stage(server, workspace)
    client.send_signal(number)
    assert client.wait(timeout=30) == -number
    assert gone(stage)
    if number == signal.SIGINT:  # Python's KeyboardInterrupt, then death by SIGINT, as `python -m` ends
        assert "KeyboardInterrupt" in client.stderr.read()


def test_a_killed_client_takes_its_stage_with_it(server, workspace):
    client, stage = start_waiting_stage(server, workspace)
    client.kill()
    client.wait(timeout=30)
    assert gone(stage)


def test_the_server_ends_when_the_process_that_started_it_does(tmp_path):
    directory = Path(tempfile.mkdtemp(prefix="betavae-stages-test-"))
    script = f"from pathlib import Path; from tests.stage_forkserver import start_server; " \
             f"print(start_server(Path({str(directory)!r}))[0].pid)"
    try:
        server = int(subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent.parent,
                                    capture_output=True, text=True, check=True, timeout=120).stdout)
        assert gone(server)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
