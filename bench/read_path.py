"""Throughput of the full read path against calling the sector database directly.

    .venv/bin/python bench/read_path.py [--backend sqlite|postgresql] [--connections 16 64 256] [--duration 10]

It seeds a simulated population database, starts ``gateway serve`` as a subprocess (uvloop, httptools), issues a
token, and drives ``GET /v1/databases/population/records/{id}`` with wrk over random existing ids: token check
(cached), scope check, the connector's query, contract validation, serialization and metrics. The direct baseline
runs the same lookups straight against the database from an asyncio client at the same concurrency (asyncpg, or
sqlite3 in worker threads). Everything, wrk included, shares this machine's cores: read the ratio, not the
absolute figures. Needs wrk (Debian package ``wrk``) and, for ``--backend postgresql``, the local server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from common import (
    ROOT,
    create_client,
    data_headers,
    fetch_token,
    gateway_cli,
    lua_script,
    need_wrk,
    postgres_databases,
    postgres_url,
    py_spy,
    record_ids,
    seed_citizens,
    start_gateway,
    start_server,
    terminate,
    wrk,
)

COLUMNS = "*"


async def direct_postgres(url: str, ids: list[str], concurrency: int, duration: float) -> float:
    import asyncpg

    pool = await asyncpg.create_pool(url, min_size=min(concurrency, 10), max_size=min(concurrency, 10))
    done = 0
    stop = time.perf_counter() + duration

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < stop:
            await pool.fetchrow(f"SELECT {COLUMNS} FROM cong_dan WHERE so_dinh_danh = $1", ids[i % len(ids)])
            done += 1
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return done / elapsed


async def direct_sqlite(path: Path, ids: list[str], concurrency: int, duration: float) -> float:
    workers = min(concurrency, 10)
    local = __import__("threading").local()

    def lookup(key: str) -> None:
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        local.conn.execute(f"SELECT {COLUMNS} FROM cong_dan WHERE so_dinh_danh = ?", (key,)).fetchone()

    loop = asyncio.get_running_loop()
    done = 0
    stop = time.perf_counter() + duration
    with ThreadPoolExecutor(workers) as pool:

        async def worker(offset: int) -> None:
            nonlocal done
            i = offset
            while time.perf_counter() < stop:
                await loop.run_in_executor(pool, lookup, ids[i % len(ids)])
                done += 1
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--citizens", type=int, default=20000)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    parser.add_argument(
        "--gateway-db", choices=["sqlite", "postgresql"], default="sqlite", help="the gateway's own database"
    )
    parser.add_argument("--rounds", type=int, default=2, help="A B A B rounds per connection count")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="a setting of the gateway (repeatable)"
    )
    parser.add_argument(
        "--profile", type=Path, help="record a py-spy profile of the gateway under load into this file (no table)"
    )
    args = parser.parse_args()
    need_wrk()

    work = Path(tempfile.mkdtemp(prefix="bench-read-"))
    database = f"bench_population_{os.getpid()}"
    gateway_database = f"bench_gateway_{os.getpid()}"
    created = [gateway_database] if args.gateway_db == "postgresql" else []
    if args.backend == "postgresql":
        created.append(database)
        sector_url = postgres_url(database)
    else:
        sector_url = f"sqlite:///{work / 'population.db'}"
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        cleanup.enter_context(postgres_databases(*created))
        seed_citizens(sector_url, args.citizens)
        ids = record_ids(sector_url)

        env = {
            **os.environ,
            "GATEWAY_DATA_DIR": str(work),
            "GATEWAY_CONNECTORS__POPULATION__CONFIG__URL": sector_url,
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        env.update(item.split("=", 1) for item in args.env)
        if args.gateway_db == "postgresql":
            env["GATEWAY_DATABASE_URL"] = postgres_url(gateway_database, driver="postgresql+asyncpg")
        gateway_cli(env, "db", "upgrade")
        secret = create_client(env)
        gateway, base = start_gateway(env, workers=args.workers)
        cleanup.callback(terminate, gateway)
        bare, bare_base = start_server([sys.executable, str(ROOT / "bench" / "bare.py"), "--url", sector_url])
        cleanup.callback(terminate, bare)
        headers = data_headers(fetch_token(base, "bench", secret))
        script = lua_script(work / "read.lua", "/v1/databases/population/records/", ids, headers)
        bare_script = lua_script(work / "bare.lua", "/records/", ids, {})
        wrk(base + "/healthz", None, 16, 2)  # warm up
        wrk(base, script, 16, 2)
        wrk(bare_base, bare_script, 16, 2)

        if args.profile is not None:
            spy = py_spy(
                gateway.pid, args.profile, rate=200, duration=args.duration, nonblocking=False, subprocesses=True
            )
            wrk(base, script, args.connections[0], args.duration)
            spy.wait()
            return
        print(
            f"sector database={args.backend} gateway database={args.gateway_db} citizens={args.citizens} "
            f"gateway workers={args.workers} cpus={os.cpu_count()} rounds={args.rounds} (A B A B)"
        )
        print(
            f"{'connections':>11}  {'direct/s':>9}  {'bare/s':>9}  {'gateway/s':>9}  {'gw/bare':>7}  "
            f"{'healthz/s':>9}  gateway latency"
        )
        for connections in args.connections:
            if args.backend == "postgresql":
                direct = asyncio.run(direct_postgres(sector_url, ids, connections, args.duration))
            else:
                direct = asyncio.run(direct_sqlite(work / "population.db", ids, connections, args.duration))
            bares: list[float] = []
            gateways: list[float] = []
            for _ in range(args.rounds):
                bares.append(wrk(bare_base, bare_script, connections, args.duration).rate)
                load = wrk(base, script, connections, args.duration)
                gateways.append(load.rate)
            ceiling = wrk(base + "/healthz", None, connections, args.duration / 2).rate
            bare_rate, through = sum(bares) / len(bares), sum(gateways) / len(gateways)
            print(
                f"{connections:>11}  {direct:>9.0f}  {bare_rate:>9.0f}  {through:>9.0f}  {through / bare_rate:>7.2f}  "
                f"{ceiling:>9.0f}  {load.note()}"
            )


if __name__ == "__main__":
    main()
