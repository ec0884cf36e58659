"""Serving the simulated population API with uvicorn on 127.0.0.1, in a thread or as a command.

:class:`ApiServer` runs it in a background thread (tests); ``python -m simulators.population_api`` runs it in the
foreground (benchmarks, manual trials). Either can serve HTTPS with a given certificate and key.
"""

from __future__ import annotations

import argparse
import functools
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from .app import ApiCredentials, PopulationApi
from .misbehaviour import Scope, reset_transport
from .records import load_rows

__all__ = ["ApiServer", "abort_connection", "main"]


def abort_connection(server: uvicorn.Server, scope: Scope) -> bool:
    """Reset the TCP connection of the request ``scope`` on ``server``; whether it was found."""
    client = tuple(scope.get("client") or ())
    for connection in list(server.server_state.connections):
        if tuple(getattr(connection, "client", None) or ()) == client:
            reset_transport(connection.transport)
            return True
    return False


class ApiServer:
    """A :class:`PopulationApi` served by uvicorn in a thread on ``host`` (127.0.0.1) and a free port.

    ``certfile`` and ``keyfile`` (PEM) make it HTTPS. The ``reset`` misbehaviour resets the TCP connection of the
    request through the server's own transports.
    """

    def __init__(
        self,
        api: PopulationApi,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
    ) -> None:
        self.api = api
        self.config = uvicorn.Config(
            api.app,
            host=host,
            port=port,
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="population-api", daemon=True)
        self.scheme = "https" if certfile else "http"
        self.url = ""
        api.middleware.abort = functools.partial(abort_connection, self.server)

    def start(self) -> ApiServer:
        """Start serving; returns once the socket listens."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the population API did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"{self.scheme}://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving (hanging requests are cut after two seconds)."""
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m simulators.population_api --sqlite var/population.db [--port 8100]``: serve in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m simulators.population_api", description=__doc__)
    parser.add_argument("--sqlite", required=True, type=Path, help="the simulated population database (SQLite)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--certfile", type=Path)
    parser.add_argument("--keyfile", type=Path)
    parser.add_argument("--not-found", choices=["status", "body"], default="status")
    args = parser.parse_args(argv)
    api = PopulationApi(load_rows(args.sqlite), not_found=args.not_found)
    credentials = ApiCredentials()
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False}
    if args.certfile:
        options |= {"ssl_certfile": str(args.certfile), "ssl_keyfile": str(args.keyfile)}
    scheme = "https" if args.certfile else "http"
    print(f"population API on {scheme}://{args.host}:{args.port} ({len(api.index.rows)} citizens)", flush=True)
    print(f"credentials: {credentials}", flush=True)
    config = uvicorn.Config(api.app, **options)
    server = uvicorn.Server(config)
    api.middleware.abort = functools.partial(abort_connection, server)
    server.run()
