"""tools/pytest_forkserver.py: pytest in a fork of a warm process, the test command of mutation testing."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tools.mutation import FORKSERVER
from tools.pytest_forkserver import NO_ANSWER, request


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    socket_path = tmp_path_factory.mktemp("forkserver") / "s.sock"
    process = subprocess.Popen([sys.executable, str(FORKSERVER), str(socket_path), "--serve"],
                               cwd=socket_path.parent)
    deadline = time.monotonic() + 60
    while not socket_path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert socket_path.exists(), "the server did not start"
    yield socket_path
    process.kill()
    process.wait()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A one-module project with one test, as the current directory."""
    (tmp_path / "mod.py").write_text("def answer():\n    return 42\n")
    (tmp_path / "test_mod.py").write_text("from mod import answer\n\n\ndef test_answer():\n    assert answer() == 42\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_client(socket_path, *args):
    return subprocess.run([sys.executable, str(FORKSERVER), str(socket_path), "--", *args],
                          capture_output=True, text=True, timeout=60)


def test_the_client_exits_as_pytest_would_and_relays_its_output(server, project):
    passed = run_client(server, "-q", "-p", "no:cacheprovider", "test_mod.py")
    assert passed.returncode == 0 and "1 passed" in passed.stdout
    (project / "mod.py").write_text("def answer():\n    return 41\n")  # a mutant: imported afresh per request
    failed = run_client(server, "-q", "-p", "no:cacheprovider", "test_mod.py")
    assert failed.returncode == 1 and "1 failed" in failed.stdout
    assert run_client(server, "-q", "-p", "no:cacheprovider", "absent.py").returncode == 4  # usage error


def test_without_a_server_the_client_fails_and_says_so(tmp_path, capsys):
    assert request(tmp_path / "none.sock", ["-q"]) == 1
    assert NO_ANSWER in capsys.readouterr().out


def test_a_killed_client_takes_its_tests_with_it(server, project):
    """cosmic-ray's timeout kills the client: the test it asked for must not run on."""
    (project / "test_slow.py").write_text("import os, time\n\n\ndef test_slow():\n"
                                          "    open('pid', 'w').write(str(os.getpid()))\n    time.sleep(120)\n")
    client = subprocess.Popen([sys.executable, str(FORKSERVER), str(server), "--", "-q",
                               "-p", "no:cacheprovider", "test_slow.py"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (project / "pid").exists() or not (project / "pid").read_text():
        assert time.monotonic() < deadline, "the test never started"
        time.sleep(0.05)
    pid = int((project / "pid").read_text())
    client.send_signal(signal.SIGKILL)
    client.wait()
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the test ran on after its client was killed"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
