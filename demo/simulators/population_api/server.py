"""Serving the simulated population API with uvicorn on 127.0.0.1, in a thread or as a command.

:class:`ApiServer` runs it in a background thread (tests); ``python -m simulators.population_api`` runs it in the
foreground (benchmarks, manual trials). Either can serve HTTPS with a given certificate and key.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

import uvicorn

from ..http.server import SimulatorServer, abort_connection
from .app import ApiCredentials, PopulationApi
from .records import load_rows

__all__ = ["ApiServer", "abort_connection", "main"]


ApiServer = SimulatorServer
"""The population API's server (a :class:`~simulators.http.SimulatorServer`)."""


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
