"""The serving process of ``gateway serve``: uvicorn on the socket the command bound.

``gateway serve`` checks its options, binds its socket and migrates the database, then replaces itself with
``python -m gateway.http.serve --fd N ...`` (:func:`exec_server`: ``exec``, the same process id, so the signals an
operator or a supervisor sends it reach the server, and the socket is inherited). The server then holds none of the
command's modules: not the command line's (typer), nor the migrations' (Alembic, when the start upgraded the
schema): about 3 MiB of a worker's memory. With ``--workers N`` the worker processes, started by ``spawn``,
import this small module as their main module, not the command line.

This module imports only the standard library when loaded; the settings and uvicorn are imported by :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.core.settings import Settings

#: Exit status of ``gateway serve`` and ``gateway demo`` when they cannot listen on the address asked.
EXIT_CANNOT_LISTEN = 3


def exec_server(sock: socket.socket, *, host: str, port: int, workers: int) -> None:
    """Replace this process with the server, serving on ``sock`` (bound, inheritable). Never returns."""
    sock.set_inheritable(True)
    argv = [sys.executable, "-m", __name__, "--fd", str(sock.fileno()), "--host", host, "--port", str(port)]
    argv += ["--workers", str(workers)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 -- this very Python, with arguments of ours


def prepare_multiprocess_metrics(settings: Settings, workers: int) -> None:
    """With several workers, make prometheus-client share counters and histograms through files in a fresh
    directory (``PROMETHEUS_MULTIPROC_DIR``, ``data_dir/metrics`` unless already set), so that a scrape answered
    by any worker reports the sum of all of them. Called once prometheus-client is loaded: the supervisor, which
    serves nothing, keeps its own metrics in memory and writes no file there."""
    from gateway.core.files import DIRECTORY_MODE

    if workers < 2:
        return
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.data_dir / "metrics")
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=DIRECTORY_MODE)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def run(sock: socket.socket, *, host: str, port: int, workers: int) -> int:
    """Serve the gateway's app on ``sock`` with uvicorn in ``workers`` processes, with the settings of the
    environment (``GATEWAY_*``, ``GATEWAY_CONFIG``). Returns the exit status."""
    import uvicorn

    from gateway.core.settings import get_settings
    from gateway.http.server import uvicorn_options

    settings = get_settings()
    config = uvicorn.Config(
        "gateway.http.app:create_app", factory=True, **uvicorn_options(settings, host=host, port=port, workers=workers)
    )
    prepare_multiprocess_metrics(settings, workers)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
        return 0
    server = uvicorn.Server(config)
    with suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0 if server.started else EXIT_CANNOT_LISTEN


def main(argv: list[str] | None = None) -> None:
    """``python -m gateway.http.serve --fd N --host H --port P --workers W``: serve on the inherited socket ``N``
    (bound to ``H``:``P``)."""
    parser = argparse.ArgumentParser(prog="gateway serve", description="Serve the gateway on an inherited socket.")
    parser.add_argument("--fd", type=int, required=True, help="the bound listening socket's file descriptor")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    sys.exit(run(sock, host=args.host, port=args.port, workers=args.workers))


if __name__ == "__main__":
    main()
