"""The ``gateway`` command, started at once: the documentation's tests run dozens of ``gateway ...`` lines, and each
would otherwise spend a second or more importing the gateway. ``python cli_forkserver.py serve SOCKET`` imports the
gateway once, then forks a child for each command a client sends over the Unix socket ``SOCKET``; the child takes
the client's standard input, output and error (passed as file descriptors), its working directory, environment and
arguments, runs the real ``gateway`` command (``gateway.cli.app``) and sends back its exit status.
``python -S cli_forkserver.py run SOCKET ARGS...`` is that client: the ``gateway`` wrapper of the tests' shell."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import signal
import socket
import struct
import sys
import traceback
from pathlib import Path

STATUS = struct.Struct("!i")


def _warm() -> None:
    """Import what the commands import lazily (everything of the gateway but its entry point)."""
    import gateway

    for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if module.name.endswith("__main__") or ".scaffold.template" in module.name:
            continue
        try:
            importlib.import_module(module.name)
        except Exception:
            # An optional module (tracing...) may not import: the command that needs it imports it again.
            continue


def _run(argv: list[str]) -> int:
    from gateway.cli import app

    sys.argv = ["gateway", *argv]
    try:
        app(args=argv, prog_name="gateway")
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _child(connection: socket.socket) -> None:
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    request = json.loads(message)
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
        os.close(fd)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = _run(request["argv"])
    sys.stdout.flush()
    sys.stderr.flush()
    connection.sendall(STATUS.pack(code))


def serve(path: str) -> None:
    _warm()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print("ready", flush=True)
    while True:
        connection, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                _child(connection)
            finally:
                os._exit(0)
        connection.close()


def run(path: str, argv: list[str]) -> int:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    request = {"argv": argv, "cwd": str(Path.cwd()), "env": dict(os.environ)}
    socket.send_fds(client, [json.dumps(request).encode()], [0, 1, 2])
    status = b""
    while len(status) < STATUS.size:
        chunk = client.recv(STATUS.size - len(status))
        if not chunk:
            print("gateway: the command ended without a status", file=sys.stderr)
            return 1
        status += chunk
    return int(STATUS.unpack(status)[0])


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(run(sys.argv[2], sys.argv[3:]))
