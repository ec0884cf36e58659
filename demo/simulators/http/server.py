"""Serving a simulated sector system with uvicorn on 127.0.0.1, in a background thread.

Any simulator exposing ``app`` (its ASGI application) and ``middleware`` (its :class:`Misbehaving`) can be served
by :class:`SimulatorServer`, over HTTP or, given a certificate and key, HTTPS. The ``reset`` misbehaviour resets
the TCP connection of the request through the server's own transports.
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Protocol

import uvicorn

from .misbehaviour import ASGIApp, Misbehaving, Scope, reset_transport

__all__ = ["SimulatedSystem", "SimulatorServer", "abort_connection"]


class SimulatedSystem(Protocol):
    """What :class:`SimulatorServer` serves."""

    @property
    def app(self) -> ASGIApp: ...

    @property
    def middleware(self) -> Misbehaving: ...


def abort_connection(server: uvicorn.Server, scope: Scope) -> bool:
    """Reset the TCP connection of the request ``scope`` on ``server``; whether it was found."""
    client = tuple(scope.get("client") or ())
    for connection in list(server.server_state.connections):
        if tuple(getattr(connection, "client", None) or ()) == client:
            reset_transport(connection.transport)
            return True
    return False


class SimulatorServer:
    """A simulated system served by uvicorn in a thread on ``host`` (127.0.0.1) and a free port.

    ``certfile`` and ``keyfile`` (PEM) make it HTTPS. The ``reset`` misbehaviour resets the TCP connection of the
    request through the server's own transports.
    """

    def __init__(
        self,
        api: SimulatedSystem,
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
        self.thread = threading.Thread(target=self.server.run, name=f"simulator-{type(api).__name__}", daemon=True)
        self.scheme = "https" if certfile else "http"
        self.url = ""
        api.middleware.abort = functools.partial(abort_connection, self.server)

    def start(self) -> SimulatorServer:
        """Start serving; returns once the socket listens."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the simulated {type(self.api).__name__} did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"{self.scheme}://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving (hanging requests are cut after two seconds)."""
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
