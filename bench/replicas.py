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
import shutil
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

from common import (
    ROOT,
    data_headers,
    fetch_token,
    lua_script,
    need_wrk,
    postgres_databases,
    postgres_url,
    record_ids,
    seed_citizens,
    wrk,
)

sys.path.insert(0, str(ROOT / "tests"))

from replica_cluster import Cluster, gateway_env, make_client, nginx_binary

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PEPPER = "the replicas benchmark's pepper, not a real one"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--citizens", type=int, default=5000)
    parser.add_argument("--nginx-workers", type=int, default=1)
    args = parser.parse_args()
    need_wrk()
    if nginx_binary() is None:
        sys.exit("nginx is needed (apt-get install nginx-light)")

    from gateway.core import migrations

    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    suffix = f"{os.getpid()}"
    gateway_db, population_db = f"bench_replicas_gateway_{suffix}", f"bench_replicas_population_{suffix}"
    gateway_url = postgres_url(gateway_db, driver="postgresql+asyncpg")
    population_url = postgres_url(population_db)
    prefix = f"bench-replicas-{uuid.uuid4().hex[:8]}"
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        cleanup.enter_context(postgres_databases(gateway_db, population_db))
        cleanup.callback(reset_rate_limits, prefix)
        migrations.upgrade(gateway_url)
        seed_citizens(population_url, args.citizens)
        ids = record_ids(population_url)
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
            with ExitStack() as replicas:
                cluster = Cluster(env, work, count, nginx_workers=args.nginx_workers).start()
                replicas.callback(cluster.stop)
                headers = data_headers(fetch_token(cluster.url, client_id, secret))
                script = lua_script(work / "read.lua", "/v1/databases/population/records/", ids, headers)
                wrk(cluster.url, script, args.connections, 3)  # warm up: pools, caches
                load = wrk(cluster.url, script, args.connections, args.duration)
                ceiling = wrk(cluster.url + "/healthz", None, args.connections, args.duration / 2).rate
                print(f"{count:>8}  {load.rate:>9.0f}  {ceiling:>9.0f}  {load.note(p50=True)}", flush=True)
                if count == 1:  # the same replica without nginx: what the proxy costs
                    replica = cluster.replicas[0].url
                    load = wrk(replica, script, args.connections, args.duration)
                    ceiling = wrk(replica + "/healthz", None, args.connections, args.duration / 2).rate
                    print(f"{'1 direct':>8}  {load.rate:>9.0f}  {ceiling:>9.0f}  {load.note(p50=True)}", flush=True)


def reset_rate_limits(prefix: str) -> None:
    """Forget the rate-limit counts the replicas kept in Redis under ``prefix``."""
    from limits.aio.storage import RedisStorage

    from gateway.identity.ratelimits import storage_uri

    asyncio.run(RedisStorage(storage_uri(REDIS), key_prefix=prefix).reset())


if __name__ == "__main__":
    main()
