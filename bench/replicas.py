"""Throughput of 1, 2 and 3 gateway replicas behind nginx, on one PostgreSQL database and one Redis.

    .venv/bin/python bench/replicas.py [--replicas 1 2 3] [--connections 64] [--duration 10] [--citizens 5000]

Each replica is a ``gateway serve`` process (one worker) in production mode: rate limits counted in Redis, every
request audited in the shared chain. nginx (the Debian package, run as a plain process on a free loopback port,
round robin with keep-alive to the replicas) is in front, as in ``tests/gateway/test_replicas.py``. wrk drives
``GET /v1/databases/population/records/{id}`` over random existing ids of a simulated population database on the
same PostgreSQL server (token check, scope and grant, Redis rate limit, the connector's query, contract
validation, the audit event), then ``GET /healthz`` through nginx (the HTTP stack's ceiling); with one replica,
the same again straight to the replica (``1 direct``: what nginx costs). Everything, wrk,
nginx and PostgreSQL included, shares this machine's cores: on 2 cores more replicas add processes, not CPU.
Needs wrk and nginx (Debian packages ``wrk``, ``nginx-light``), the local PostgreSQL server and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from replica_cluster import Cluster, gateway_env, make_client, nginx_binary  # noqa: E402

PURPOSE = "1.001612.000.00.00.H41"
ACTOR = "CB-068-0001"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PEPPER = "the replicas benchmark's pepper, not a real one"


def wrk(url: str, script: Path | None, connections: int, duration: float) -> tuple[float, str]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    note = f"p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}"
    return rps, note + (f", {errors.group(1)} non-2xx" if errors else "")


def psql(statement: str) -> None:
    subprocess.run(["psql", POSTGRES, "-qc", statement], check=True, capture_output=True)


async def fetch_ids(url: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch("SELECT so_dinh_danh FROM cong_dan")]
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--citizens", type=int, default=5000)
    parser.add_argument("--nginx-workers", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    if nginx_binary() is None:
        sys.exit("nginx is needed (apt-get install nginx-light)")

    from gateway import migrations
    from simulators.population import seed_population

    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    suffix = f"{os.getpid()}"
    gateway_db, population_db = f"bench_replicas_gateway_{suffix}", f"bench_replicas_population_{suffix}"
    server = POSTGRES.rsplit("/", 1)[0]
    gateway_url = f"{server.replace('postgresql://', 'postgresql+asyncpg://')}/{gateway_db}"
    population_url = f"{server}/{population_db}"
    prefix = f"bench-replicas-{uuid.uuid4().hex[:8]}"
    cluster: Cluster | None = None
    try:
        psql(f'CREATE DATABASE "{gateway_db}"')
        psql(f'CREATE DATABASE "{population_db}"')
        migrations.upgrade(gateway_url)
        asyncio.run(seed_population(population_url, count=args.citizens, seed=68))
        ids = asyncio.run(fetch_ids(population_url))
        random.Random(1).shuffle(ids)
        ids = ids[:5000]
        client_id, secret = make_client(
            gateway_url, PEPPER, "population:read", client_id="bench", per_second=1_000_000_000, per_day=1_000_000_000
        )
        env = gateway_env(
            data_dir=work / "var",
            database_url=gateway_url,
            population_url=population_url,
            pepper=PEPPER,
            redis_url=REDIS,
            redis_prefix=prefix,
        )
        print(
            f"replicas behind nginx ({args.nginx_workers} worker), PostgreSQL, Redis; {args.connections} connections, "
            f"{args.duration:g} s, citizens={args.citizens}, cpus={os.cpu_count()}"
        )
        print(f"{'replicas':>8}  {'records/s':>9}  {'healthz/s':>9}  records latency")
        for count in args.replicas:
            cluster = Cluster(env, work, count, nginx_workers=args.nginx_workers).start()
            token = httpx.post(
                f"{cluster.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
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
            wrk(cluster.url, script, args.connections, 3)  # warm up: pools, caches
            records, note = wrk(cluster.url, script, args.connections, args.duration)
            ceiling, _ = wrk(cluster.url + "/healthz", None, args.connections, args.duration / 2)
            print(f"{count:>8}  {records:>9.0f}  {ceiling:>9.0f}  {note}", flush=True)
            if count == 1:  # the same replica without nginx: what the proxy costs
                replica = cluster.replicas[0].url
                records, note = wrk(replica, script, args.connections, args.duration)
                ceiling, _ = wrk(replica + "/healthz", None, args.connections, args.duration / 2)
                print(f"{'1 direct':>8}  {records:>9.0f}  {ceiling:>9.0f}  {note}", flush=True)
            cluster.stop()
            cluster = None
    finally:
        if cluster is not None:
            cluster.stop()
        from limits.aio.storage import RedisStorage

        from gateway.services.ratelimits import storage_uri

        asyncio.run(RedisStorage(storage_uri(REDIS), key_prefix=prefix).reset())
        for name in (gateway_db, population_db):
            subprocess.run(["psql", POSTGRES, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
