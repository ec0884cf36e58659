"""Throughput of the exchange: intake (validated, stored before the answer) and delivery to the sector database.

    .venv/bin/python bench/exchange.py [--backend sqlite|postgresql] [--operations 20000] [--batch 100] [--clients 8]
        [--profile FILE]

It starts ``gateway serve`` with the dispatcher off and submits new citizens to the population database from
concurrent clients (intake: operations per second answered 202), then restarts it with the dispatcher on and times
the delivery of the whole backlog to the sector database (delivery: operations per second applied, each recorded in
the connector's ledger in the same transaction). As a baseline, the same number of rows is inserted straight into
an empty copy of the sector table, in transactions of the same size, before and after the delivery (averaged: the
load of a shared machine drifts). Everything shares this machine's cores.

``--profile FILE`` records the delivering gateway with py-spy (``.venv/bin/pip install py-spy``; samples holding
the GIL, raw collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
from common import (
    data_headers,
    fetch_token,
    postgres_databases,
    postgres_url,
    py_spy,
    start_gateway,
    terminate,
)


def citizen(serial: int) -> dict[str, Any]:
    from contracts.population import Citizen

    fields = dict(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    for name in ("personal_id", "old_id_number"):
        fields.pop(name)
    fields["household_id"] = "HK068000123"
    return {
        "op": "create",
        "record_id": f"068185{serial:06d}",
        "fields": fields,
        "metadata": {"changed_at": "2026-11-20T08:00:00+07:00", "source_reference": f"KS-{serial:06d}"},
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by process ``pid`` (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def submit(base: str, headers: dict[str, str], operations: int, batch: int, clients: int) -> float:
    batches = [
        [citizen(serial) for serial in range(start, min(start + batch, operations))]
        for start in range(0, operations, batch)
    ]
    bodies = [orjson.dumps({"operations": ops}) for ops in batches]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while not queue.empty():
                body = queue.get_nowait()
                response = await http.post(
                    "/v1/databases/population/records",
                    content=body,
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"},
                )
                assert response.status_code == 202, response.text

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


async def backlog(gateway_url: str) -> int:
    from gateway.core.db import create_engine

    engine = create_engine(gateway_url)
    try:
        async with engine.connect() as conn:
            from sqlalchemy import text

            result = await conn.execute(
                text("SELECT count(*) FROM exchange_operations WHERE state IN ('pending', 'delivering')")
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


async def direct_inserts(sector_url: str, operations: int, batch: int) -> float:
    """The baseline: the same rows inserted straight into an empty copy of the sector table."""

    from gateway.core.db import create_engine
    from simulators.population import CITIZENS, seed_population

    await seed_population(sector_url, count=0)
    engine = create_engine(sector_url)
    rows = [
        {
            "so_dinh_danh": f"068186{serial:06d}",
            "ho_ten": "Nguyễn Thị Mai",
            "gioi_tinh": 2,
            "ngay_sinh": "1986-03-12",
            "ma_dan_toc": "01",
            "ma_quoc_tich": "VN",
            "dk_khai_sinh_tinh": "68",
            "dk_khai_sinh_xa": "24823",
            "thuong_tru_chi_tiet": "12 Trần Phú",
            "thuong_tru_xa": "24781",
            "thuong_tru_tinh": "68",
            "ma_ho": "HK068000123",
            "quan_he_chu_ho": 2,
            "tinh_trang_hon_nhan": 2,
            "ngay_cap_nhat": datetime(2025, 10, 1, 1, 30, tzinfo=UTC),
        }
        for serial in range(operations)
    ]
    try:
        async with engine.begin() as conn:  # empty again when measured a second time
            await conn.execute(CITIZENS.delete())
        started = time.perf_counter()
        for start in range(0, operations, batch):
            async with engine.begin() as conn:
                for row in rows[start : start + batch]:
                    await conn.execute(CITIZENS.insert(), row)
        return time.perf_counter() - started
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="record the delivering gateway with py-spy (--gil, raw collapsed stacks) into FILE; slows it down",
    )
    args = parser.parse_args()
    result = exchange(args.backend, args.operations, args.batch, args.clients, profile=args.profile)
    n = result.operations
    print(f"backend {args.backend}, {n} operations in batches of {args.batch}, {args.clients} clients")
    print(
        f"  intake (stored before 202):  {result.intake_rate:8.0f} ops/s  "
        f"({n / args.batch / result.intake:.1f} requests/s)"
    )
    print(f"  delivery (applied, ledger):  {result.delivery_rate:8.0f} ops/s  (gateway CPU {result.cpu_ms:.2f} ms/op)")
    print(
        f"  direct inserts (baseline):   {result.direct_rate:8.0f} rows/s  (before {n / result.direct_before:.0f}, "
        f"after {n / result.direct_after:.0f})"
    )
    print(f"  delivery / direct:           {result.ratio:8.2f}")


@dataclass(frozen=True)
class Exchange:
    """The seconds ``operations`` took: stored before their 202 (intake), delivered, and inserted directly (before
    and after the delivery); the delivering gateway's CPU seconds."""

    operations: int
    intake: float
    delivery: float
    direct_before: float
    direct_after: float
    cpu: float

    @property
    def intake_rate(self) -> float:
        return self.operations / self.intake

    @property
    def delivery_rate(self) -> float:
        return self.operations / self.delivery

    @property
    def direct_rate(self) -> float:
        """Rows a second of the direct inserts, before and after the delivery averaged (a shared machine drifts)."""
        return self.operations / ((self.direct_before + self.direct_after) / 2)

    @property
    def ratio(self) -> float:
        return self.delivery_rate / self.direct_rate

    @property
    def cpu_ms(self) -> float:
        """The delivering gateway's CPU time an operation, in milliseconds."""
        return 1000 * self.cpu / self.operations


def exchange(backend: str, operations: int, batch: int, clients: int, *, profile: Path | None = None) -> Exchange:
    """Intake, delivery and the direct baseline of ``operations`` new citizens in scratch databases of ``backend``
    (``sqlite`` or ``postgresql``)."""
    work = Path(tempfile.mkdtemp(prefix="bench-exchange-"))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        if backend == "postgresql":
            names = [f"bench_{uuid.uuid4().hex[:8]}_{part}" for part in ("gw", "sector", "direct")]
            cleanup.enter_context(postgres_databases(*names))
            gateway_url, sector_url, direct_url = (postgres_url(name, driver="postgresql+asyncpg") for name in names)
        else:
            gateway_url = f"sqlite+aiosqlite:///{work / 'gateway.db'}"
            sector_url = f"sqlite:///{work / 'population.db'}"
            direct_url = f"sqlite+aiosqlite:///{work / 'direct.db'}"
        log = cleanup.enter_context((work / "gateway.log").open("ab"))
        return measure(operations, batch, clients, profile, work, log, (gateway_url, sector_url, direct_url))


def measure(
    operations: int,
    batch: int,
    clients: int,
    profile: Path | None,
    work: Path,
    log: IO[bytes],
    urls: tuple[str, str, str],
) -> Exchange:
    """Intake, delivery and the direct baseline; the gateway's errors go to ``log``."""
    gateway_url, sector_url, direct_url = urls
    from gateway.core import migrations
    from simulators.population import seed_population

    asyncio.run(seed_population(sector_url, count=0))
    migrations.upgrade(gateway_url)

    # The client's secret is stored as a keyed hash: under the pepper the gateway is given below.
    pepper = secrets.token_urlsafe(32)

    async def make_client() -> tuple[str, str]:
        from gateway.core.db import standalone_session
        from gateway.identity.clients import create_client
        from gateway.identity.passwords import use_pepper

        use_pepper(pepper.encode())

        async with standalone_session(gateway_url) as session:
            client, secret = await create_client(
                session, name="Bench", scopes=("population:read", "population:submit"), client_id="bench"
            )
            return client.client_id, secret

    client_id, secret = asyncio.run(make_client())
    connectors = {"population": {"config": {"url": sector_url, "writes": {}}}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATA_DIR": str(work / "var"),
        "GATEWAY_DATABASE_URL": gateway_url,
        "GATEWAY_SECRET_PEPPER": pepper,
        "GATEWAY_CONNECTORS": orjson.dumps(connectors).decode(),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_EXCHANGE_BATCH_MAX": str(max(500, batch)),
        # The whole backlog is one client's: its queue must hold it (10,000 by default).
        "GATEWAY_EXCHANGE_CLIENT_QUEUE_MAX": str(max(10_000, operations)),
    }
    gateway, base_url = start_gateway(env | {"GATEWAY_EXCHANGE_DISPATCH": "false"}, cwd=work, stderr=log)
    try:
        headers = data_headers(fetch_token(base_url, client_id, secret))
        intake = asyncio.run(submit(base_url, headers, operations, batch, clients))
    finally:
        terminate(gateway)
    n = operations
    # The baseline is measured before and after the delivery, and averaged: the load of a shared machine drifts.
    direct_before = asyncio.run(direct_inserts(direct_url, operations, batch))
    gateway, _ = start_gateway(env, cwd=work, stderr=log)
    cpu_before = cpu_seconds(gateway.pid)
    profiler = None if profile is None else py_spy(gateway.pid, profile, rate=200)
    try:
        # The dispatcher starts with the gateway: what it delivered before the first look is not counted.
        started = time.perf_counter()
        delivered = left = asyncio.run(backlog(gateway_url))
        while left:
            time.sleep(0.1)
            left = asyncio.run(backlog(gateway_url))
        delivery = (time.perf_counter() - started) * n / max(1, delivered)
        cpu = cpu_seconds(gateway.pid) - cpu_before
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()
        terminate(gateway)
    direct_after = asyncio.run(direct_inserts(direct_url, operations, batch))
    return Exchange(n, intake, delivery, direct_before, direct_after, cpu)


if __name__ == "__main__":
    main()
