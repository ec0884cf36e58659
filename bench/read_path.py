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
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Every data request states its purpose and actor (the grant made from a data scope requires both).
PURPOSE = "1.001612.000.00.00.H41"
ACTOR = "CB-068-0001"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = "*"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str, count: int) -> None:
    from simulators.population import seed_population

    asyncio.run(seed_population(url, count=count, seed=68))


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


def wrk(url: str, script: Path | None, connections: int, duration: float) -> tuple[float, str]:
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    note = f"p99 {p99.group(1) if p99 else '?'}" + (f", {errors.group(1)} non-2xx" if errors else "")
    return rps, note


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
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="bench-read-"))
    database = f"bench_population_{os.getpid()}"
    gateway_database = f"bench_gateway_{os.getpid()}"
    if args.gateway_db == "postgresql":
        subprocess.run(["psql", POSTGRES, "-qc", f'CREATE DATABASE "{gateway_database}"'], check=True)
    if args.backend == "postgresql":
        subprocess.run(["psql", POSTGRES, "-qc", f'CREATE DATABASE "{database}"'], check=True)
        sector_url = POSTGRES.rsplit("/", 1)[0] + f"/{database}"
    else:
        sector_url = f"sqlite:///{work / 'population.db'}"
    gateway = bare = None
    try:
        seed(sector_url, args.citizens)
        if args.backend == "postgresql":
            import asyncpg

            async def fetch_ids() -> list[str]:
                conn = await asyncpg.connect(sector_url)
                rows = await conn.fetch("SELECT so_dinh_danh FROM cong_dan")
                await conn.close()
                return [r[0] for r in rows]

            ids = asyncio.run(fetch_ids())
        else:
            with closing(sqlite3.connect(work / "population.db")) as conn:
                ids = [r[0] for r in conn.execute("SELECT so_dinh_danh FROM cong_dan")]
        random.Random(1).shuffle(ids)
        ids = ids[:5000]

        env = {
            **os.environ,
            "GATEWAY_DATA_DIR": str(work),
            "GATEWAY_CONNECTORS__POPULATION__CONFIG__URL": sector_url,
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        env.update(item.split("=", 1) for item in args.env)
        if args.gateway_db == "postgresql":
            env["GATEWAY_DATABASE_URL"] = (
                POSTGRES.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{gateway_database}"
            )
        port = free_port()
        gateway_bin = [sys.executable, "-m", "gateway"]
        subprocess.run([*gateway_bin, "db", "upgrade"], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [*gateway_bin, "clients", "create", "bench", "--scope", "population:read", "--client-id", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        secret = re.search(r"client_secret:\s+(\S+)", created).group(1)  # type: ignore[union-attr]
        gateway = subprocess.Popen(
            [*gateway_bin, "serve", "--port", str(port), "--workers", str(args.workers), "--no-migrate"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bare.py"), "--url", sector_url, "--port", str(bare_port)],
            stderr=subprocess.DEVNULL,
        )
        bare_base = f"http://127.0.0.1:{bare_port}"
        for url in (base, bare_base):
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=("bench", secret)
        ).json()["access_token"]
        script = work / "read.lua"
        script.write_text(
            "ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
            "local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            '  return wrk.format("GET", "/v1/databases/population/records/" .. ids[(n % #ids) + 1],'
            f' {{["Authorization"] = "Bearer {token}", ["X-Purpose"] = "{PURPOSE}", ["X-Actor-Id"] = "{ACTOR}"}})\n'
            "end\n"
        )
        bare_script = work / "bare.lua"
        bare_script.write_text(
            "ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
            "local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            '  return wrk.format("GET", "/records/" .. ids[(n % #ids) + 1])\n'
            "end\n"
        )
        wrk(base + "/healthz", None, 16, 2)  # warm up
        wrk(base, script, 16, 2)
        wrk(bare_base, bare_script, 16, 2)

        if args.profile is not None:
            spy = subprocess.Popen(
                [
                    shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--gil",
                    "--subprocesses",
                    "--duration",
                    str(round(args.duration)),
                    "--output",
                    str(args.profile),
                    "--pid",
                    str(gateway.pid),
                ]
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
                bares.append(wrk(bare_base, bare_script, connections, args.duration)[0])
                through, note = wrk(base, script, connections, args.duration)
                gateways.append(through)
            ceiling, _ = wrk(base + "/healthz", None, connections, args.duration / 2)
            bare_rate, through = sum(bares) / len(bares), sum(gateways) / len(gateways)
            print(
                f"{connections:>11}  {direct:>9.0f}  {bare_rate:>9.0f}  {through:>9.0f}  {through / bare_rate:>7.2f}  "
                f"{ceiling:>9.0f}  {note}"
            )
    finally:
        for process in (gateway, bare):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        if args.gateway_db == "postgresql":
            subprocess.run(
                ["psql", POSTGRES, "-qc", f'DROP DATABASE IF EXISTS "{gateway_database}" WITH (FORCE)'], check=False
            )
        if args.backend == "postgresql":
            subprocess.run(["psql", POSTGRES, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
