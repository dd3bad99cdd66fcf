"""pytest in a fork of a process that has already imported torch: a mutant's tests start in 0.1 s, not 4 s.

Mutation testing runs the tests once per mutant, about 2,700 times. A fresh Python spends some 3 s of a
2-core CPU importing torch and torchvision before the first test; `serve` imports those libraries once and
forks a child per request, which imports the project's modules afresh from the requesting directory (where
the mutated file is) and runs pytest there. The child's output and exit status go back to the client, so

    python -m tools.pytest_forkserver SOCKET -- PYTEST_ARGS

behaves as `python -m pytest PYTEST_ARGS` would in the current directory, and is cosmic-ray's test command
(tools/mutation.py starts the server). When the client is killed (cosmic-ray's timeout), its child is too.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import select
import signal
import socket
import sys
from pathlib import Path

# Third-party libraries the tests import: loaded once in the server, shared by every child
PRELOAD = ("numpy", "torch", "torchvision", "torchbearer", "yaml", "matplotlib.pyplot", "pytest")
OWN_PACKAGES = ("betavae", "stages", "studies", "tools", "benchmarks", "tests")
EXIT_MARKER = b"\0exit "
# Printed when the server sent no exit status: the mutant's result says nothing, and tools/mutation.py fails
NO_ANSWER = "pytest_forkserver: no answer from the server"


def serve(socket_path: Path) -> None:
    """Answer test requests on a Unix socket until killed; each in its own forked child. Start it in a
    directory without the project's packages (its own path comes first on the import path)."""
    sys.dont_write_bytecode = True  # a mutant and its successor may share a size and an mtime second
    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the handlers are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen(8)
    while True:
        connection, _ = server.accept()
        if os.fork() == 0:
            server.close()
            _handle(connection)
        connection.close()


def _handle(connection: socket.socket) -> None:
    """Run one request's pytest in a grandchild; send its exit status, or kill it when the client leaves."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    request = json.loads(_read_line(connection))
    pid = os.fork()
    if pid == 0:
        _run_pytest(connection, request["cwd"], request["args"])
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            connection.sendall(EXIT_MARKER + str(code if code >= 0 else 128 - code).encode())
            break
        readable, _, _ = select.select([connection], [], [], 0.02)
        if readable and not connection.recv(1):  # the client is gone: its timeout ran out
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
    connection.close()
    os._exit(0)


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _run_pytest(connection: socket.socket, cwd: str, args: list[str]) -> None:
    """In the grandchild: pytest in cwd, which puts cwd first on the import path (pyproject's `pythonpath`),
    so that the project's modules, none of them imported yet, come from there."""
    os.chdir(cwd)
    for name in [name for name in sys.modules if name.split(".")[0] in OWN_PACKAGES]:
        del sys.modules[name]
    os.dup2(connection.fileno(), 1)
    os.dup2(connection.fileno(), 2)
    import pytest

    code = pytest.main(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def request(socket_path: Path, args: list[str]) -> int:
    """Run pytest with args in the current directory through the server; relay its output; its exit code."""
    output = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(socket_path))
            client.sendall(json.dumps({"cwd": os.getcwd(), "args": args}).encode() + b"\n")
            while chunk := client.recv(65536):
                output += chunk
    except OSError as error:
        output += f"\n{NO_ANSWER}: {error}".encode()
    body, marker, code = output.rpartition(EXIT_MARKER)
    sys.stdout.buffer.write(body if marker else output + f"\n{NO_ANSWER}".encode())
    sys.stdout.flush()
    return int(code) if marker else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("socket", type=Path, help="the server's Unix socket")
    parser.add_argument("--serve", action="store_true", help="be the server (the client is the default)")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.socket)
        return 0
    return request(args.socket, args.pytest_args)


if __name__ == "__main__":
    sys.exit(main())
