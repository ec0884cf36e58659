"""Requests per second of the REST connector's ``get()`` with each HTTP client: aiohttp's and httpx's.

    .venv/bin/python bench/rest_transport.py [--concurrency 16 32 64] [--duration 8] [--citizens 5000]

It seeds a simulated population database (SQLite), serves it with the simulated population REST API in its own
process (``python -m simulators.population_api``: uvicorn, uvloop, httptools), and drives ``RestConnector.get()``
over random existing ids from one asyncio client at each concurrency, once with httpx (``http_transport="httpx"``,
httpcore) and once with aiohttp's client called directly (``"aiohttp"``). The *connector* columns include everything
a gateway read does upstream (authentication headers, deadline, JSON, JMESPath mapping, contract validation); the
*bare* columns are a plain ``httpx.AsyncClient.get`` or ``aiohttp.ClientSession.get``, to show the client's own
share. Client and server share this machine's cores: compare columns of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from common import API_HEADERS, record_ids, seed_citizens, start_server, terminate

from connectors.rest import RestConnector
from simulators.population_api import rest_connector_config

TRANSPORTS = ("httpx", "aiohttp")


async def drive(call: Any, ids: list[str], concurrency: int, duration: float) -> tuple[float, int]:
    """Run ``call(id)`` from ``concurrency`` tasks for ``duration`` seconds; (calls per second, failures)."""
    done = failed = 0
    stop = time.perf_counter() + duration

    async def worker(offset: int) -> None:
        nonlocal done, failed
        i = offset
        while time.perf_counter() < stop:
            try:
                await call(ids[i % len(ids)])
                done += 1
            except Exception:
                failed += 1
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done / (time.perf_counter() - started), failed


async def connector_rate(
    config: dict[str, Any], ids: list[str], concurrency: int, duration: float
) -> tuple[float, int]:
    async with RestConnector.from_config(config) as connector:
        await drive(connector.get, ids, concurrency, 1.0)  # warm the pool
        return await drive(connector.get, ids, concurrency, duration)


async def bare_rate(
    transport_name: str, base: str, headers: dict[str, str], ids: list[str], concurrency: int, duration: float
) -> tuple[float, int]:
    if transport_name == "aiohttp":
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(base, connector=connector, headers=headers) as session:

            async def fetch(pid: str) -> None:
                async with session.get(f"/api/v1/cong-dan/{pid}") as response:
                    response.raise_for_status()
                    await response.read()

            await drive(fetch, ids, concurrency, 1.0)
            return await drive(fetch, ids, concurrency, duration)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    transport = httpx.AsyncHTTPTransport(limits=limits)
    async with httpx.AsyncClient(base_url=base, transport=transport, headers=headers) as client:

        async def call(pid: str) -> None:
            response = await client.get(f"/api/v1/cong-dan/{pid}")
            response.raise_for_status()

        await drive(call, ids, concurrency, 1.0)
        return await drive(call, ids, concurrency, duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-rest-"))
    database = work / "population.db"
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        seed_citizens(f"sqlite:///{database}", args.citizens)
        ids = record_ids(f"sqlite:///{database}", limit=None)
        command = [sys.executable, "-m", "simulators.population_api", "--sqlite", str(database)]
        server, base = start_server(command, ready="/api/v1/trang-thai", headers=API_HEADERS)
        cleanup.callback(terminate, server)
        print(
            f"citizens={args.citizens} duration={args.duration:g}s cpus={os.cpu_count()} (client and server share them)"
        )
        print(
            f"{'concurrency':>11}  "
            + "  ".join(f"{t + ' connector/s':>20}" for t in TRANSPORTS)
            + "  ratio  "
            + "  ".join(f"{t + ' bare/s':>15}" for t in TRANSPORTS)
        )
        for concurrency in args.concurrency:
            connector: dict[str, float] = {}
            bare: dict[str, float] = {}
            for name in TRANSPORTS:
                config = rest_connector_config(base, http_transport=name, max_connections=64)
                rate, failed = asyncio.run(connector_rate(config, ids, concurrency, args.duration))
                if failed:
                    print(f"  ({name}: {failed} failed calls)")
                connector[name] = rate
                bare[name], _ = asyncio.run(bare_rate(name, base, API_HEADERS, ids, concurrency, args.duration))
            print(
                f"{concurrency:>11}  "
                + "  ".join(f"{connector[t]:>20.0f}" for t in TRANSPORTS)
                + f"  {connector['aiohttp'] / connector['httpx']:>5.2f}  "
                + "  ".join(f"{bare[t]:>15.0f}" for t in TRANSPORTS)
            )


if __name__ == "__main__":
    main()
