"""`python -m stages.*` in a fork of a process that has already imported torch: a stage in the tests starts in
0.1 s, not 3 s.

The slow tests run the pipeline's stages about 100 times through DVC and the studies, each a fresh Python that
spends some 3 s of a 2-core CPU importing torch, torchvision and matplotlib before its first line of work.
`serve` imports those libraries once and forks a child per request, which imports the project's modules afresh
from the request's directory and runs the stage there, with the request's arguments, environment and standard
streams (the requester's own file descriptors, passed over the socket).

The requester is the stage's own interpreter: `start_server` returns an environment whose PYTHONPATH holds a
sitecustomize that, in a process started as `python -m stages.NAME ...` and only there, hands the stage over
(`hand_over`) and ends as the stage ends: with its exit status, or by the signal that ended it. Meanwhile it
forwards the signals a user or a scheduler sends (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2) to the stage;
when it is killed, the server kills the stage. The server refuses a request whose environment differs from its
own in what torch and its libraries read as they load (the CPU capability, oneDNN's ISA, MKL's CBWR, thread
counts, PYTHON*), and the interpreter then runs the stage itself: a run "on another platform" stays one.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

# Third-party libraries the stages import: loaded once in the server, shared by every child
PRELOAD = ("numpy", "torch", "torch._dynamo", "torch._inductor.config", "torchvision", "torchbearer", "tqdm", "yaml",
           "matplotlib.pyplot")
OWN_PACKAGES = ("betavae", "stages", "studies", "tools", "benchmarks", "tests")
# Environment variables read when those libraries load (or first compute): a request that differs from the
# server in any of them runs in a fresh interpreter. (cuBLAS reads CUBLAS_WORKSPACE_CONFIG, which
# betavae.compute sets, when the stage first uses it, in the stage's own environment.)
IMPORT_TIME_PREFIXES = ("ATEN_", "ONEDNN_", "DNNL_", "MKL_", "OMP_", "KMP_", "GOMP_", "OPENBLAS_", "TORCH",
                        "PYTORCH_", "CUDA_", "NVIDIA_", "PYTHON", "LD_", "MPL", "MATPLOTLIB", "TQDM_")
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
REFUSED = b"refused\n"


def import_time_environment(environment: dict[str, str]) -> dict[str, str]:
    """The part of an environment that torch and its libraries read as they load."""
    return {key: value for key, value in environment.items() if key.startswith(IMPORT_TIME_PREFIXES)}


# The server


def serve(socket_path: Path) -> None:
    """Answer stage requests on a Unix socket, each in its own forked child, until killed or orphaned (the
    process that started it is gone)."""
    parent = os.getppid()
    before = dict(os.environ)
    expected = import_time_environment(before)
    for name in PRELOAD:
        importlib.import_module(name)
    # what the libraries set as they loaded (torch._dynamo: TORCHINDUCTOR_CACHE_DIR), as a fresh stage's would
    loaded = {key: value for key, value in os.environ.items() if before.get(key) != value}
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the handlers are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen(16)
    while os.getppid() == parent:
        if not select.select([server], [], [], 1.0)[0]:
            continue
        connection, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _handle(connection, expected, loaded)
        connection.close()


def _handle(connection: socket.socket, expected: dict[str, str], loaded: dict[str, str]) -> None:
    """Run one request's stage in a grandchild; send its pid, then its exit status, or kill it when the
    requester is gone (killed by its caller)."""
    request, streams = _receive_request(connection)
    if import_time_environment(request["env"]) != expected:
        connection.sendall(REFUSED)
        os._exit(0)
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run_stage(request, streams, loaded)
    for stream in streams:
        os.close(stream)
    connection.sendall(f"pid {pid}\n".encode())
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            break
        readable, _, _ = select.select([connection], [], [], 0.02)
        if readable and not connection.recv(1):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
    os._exit(0)


def _receive_request(connection: socket.socket) -> tuple[dict, list[int]]:
    data, streams, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    while not data.endswith(b"\n"):
        chunk = connection.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return json.loads(data), streams


def _run_stage(request: dict, streams: list[int], loaded: dict[str, str]) -> None:
    """In the grandchild: the stage as `python -m` would run it, in the request's directory, environment and
    standard streams, the project's modules imported from that directory."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update({**loaded, **request["env"]})
    for target, stream in enumerate(streams):
        os.dup2(stream, target)
        os.close(stream)
    for name in [name for name in sys.modules if name.split(".")[0] in OWN_PACKAGES]:
        del sys.modules[name]
    sys.path[0] = request["cwd"]
    importlib.invalidate_caches()
    module, *arguments = request["argv"][2:]  # PYTHON -m MODULE ARGUMENTS
    sys.argv = [module, *arguments]
    os._exit(_exit_status(module))


def _exit_status(module: str) -> int:
    """Run the module as __main__ and shut down as the interpreter would: its exit status, or death by SIGINT
    for an uncaught KeyboardInterrupt."""
    interrupted = False
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = _system_exit_code(exit_.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        interrupted, code = True, 130
    except BaseException:  # noqa: BLE001 - what the interpreter would print and exit 1 for
        traceback.print_exc()
        code = 1
    getattr(threading, "_shutdown", lambda: None)()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


def _system_exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# The requester: the stage's own interpreter, from its sitecustomize


def hand_over(socket_path: Path) -> None:
    """In a `python -m stages.NAME` starting up: have the server run the stage and end as it ended, without
    returning. Returns, for the interpreter to run the stage itself, when the server refuses or is not there."""
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(socket_path))
        request = {"argv": sys.orig_argv, "cwd": os.getcwd(), "env": dict(os.environ)}
        socket.send_fds(client, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        replies = client.makefile("rb")
        first = replies.readline()
    except OSError:
        return
    if not first.startswith(b"pid "):
        return
    pid = int(first.split()[1])
    for number in FORWARDED_SIGNALS:
        signal.signal(number, lambda received, _frame: _forward(pid, received))
    last = replies.readline()
    code = int(last.split()[1]) if last.startswith(b"exit ") else 1  # else the server went away
    if code < 0:  # ended by a signal: so does this process, for its caller to see
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    os._exit(code)


def _forward(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


# Starting a server, for the tests

SITECUSTOMIZE = """\
# Written by tests/stage_forkserver.py: `python -m stages.*` runs in a fork of its server
import sys
if sys.orig_argv[1:2] == ["-m"] and sys.orig_argv[2:3] and sys.orig_argv[2].startswith("stages."):
    import importlib.util
    spec = importlib.util.spec_from_file_location("_stage_client", {module!r})
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    client.hand_over(client.Path({socket!r}))
"""


def start_server(directory: Path, timeout: float = 60.0) -> tuple[subprocess.Popen, dict[str, str]]:
    """A server with its socket in directory (keep its path short: a Unix socket's is at most 107 bytes), ready
    to answer, and the environment whose Python processes hand their stages to it: os.environ with a
    sitecustomize first on PYTHONPATH."""
    socket_path = directory / "stages.sock"
    (directory / "site").mkdir(parents=True, exist_ok=True)
    (directory / "site" / "sitecustomize.py").write_text(
        SITECUSTOMIZE.format(module=str(Path(__file__).resolve()), socket=str(socket_path)))
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(directory / "site"),
                                                                            os.environ.get("PYTHONPATH")))))
    server = subprocess.Popen([sys.executable, "-m", "tests.stage_forkserver", str(socket_path)],
                              cwd=Path(__file__).resolve().parent.parent, env=environment, start_new_session=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not socket_path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"tests.stage_forkserver did not start (exit status {server.poll()})")
        time.sleep(0.05)
    return server, environment


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
