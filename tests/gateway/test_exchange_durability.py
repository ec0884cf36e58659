"""No submitted data is lost: 10,000 operations from concurrent clients while the gateway is killed with SIGKILL
(and, separately, while PostgreSQL is restarted after a crash), then every operation answered 202 is applied
exactly once in effect, none refused is applied, and nothing is left pending.

The gateway is a real ``gateway serve`` process; the sector database is the simulated population database. The
PostgreSQL restart uses a private PostgreSQL cluster started for the test (so that the suite's own server is not
disturbed), restarted in ``immediate`` mode: a crash followed by WAL recovery.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from exchange_fixtures import gapless_but_at_starts
from support import STATED, TEST_PEPPER, ClientCredentials, empty_databases, free_port, need_service

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.identity.clients import create_client
from simulators.population import CITIZENS, seed_population

OPERATIONS = 10_000
BATCH = 50
CLIENTS = 8
RECORDS = "/v1/databases/population/records"
EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
NAMES = ["Nguyễn Thị Mai", "Trần Thị Lan", "Lê Thị Hoa", "Phạm Thị Cúc", "Hoàng Thị Đào", "Vũ Thị Huệ"]
STATUSES = ["single", "married", "divorced", "widowed"]
PG_BIN = Path("/usr/lib/postgresql")
MARITAL_CODES = {"single": "1", "married": "2", "divorced": "3", "widowed": "4"}


# -- the gateway process ------------------------------------------------------------------------------------------


class GatewayProcess:
    """``gateway serve`` in a subprocess on a fixed port, that can be killed and started again."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = cwd / "gateway.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(self.port)],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# -- a private PostgreSQL cluster ---------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of its own, in a temporary directory, on a free loopback port."""

    def __init__(self, directory: Path) -> None:
        versions = sorted(PG_BIN.glob("*/bin/pg_ctl")) if PG_BIN.exists() else []
        if not versions or os.geteuid() != 0 or shutil.which("runuser") is None:
            need_service("a private PostgreSQL cluster needs the PostgreSQL binaries, root and runuser")
        self.bin = versions[-1].parent
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "log"),
            "-o",
            options,
            "-w",
            *args,
        )

    def start(self) -> None:
        shutil.chown(self.directory, "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._ctl("start")

    def crash_restart(self) -> None:
        """Stop as a crash would (no checkpoint), then start: recovery replays the WAL."""
        self._ctl("-m", "immediate", "restart")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")


# -- the submissions ----------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One submission: its idempotency key, its operations, and what the gateway answered."""

    key: str
    operations: list[dict[str, Any]]
    status: int | None = None
    accepted: list[int] = field(default_factory=list)
    tries: int = 0


def _citizen(**changes: Any) -> dict[str, Any]:
    fields = {**EXAMPLE, "household_id": "HK068000123", **changes}
    for name in ("personal_id", "old_id_number"):
        fields.pop(name)
    return fields


def _meta(n: int) -> dict[str, Any]:
    return {"changed_at": "2026-11-20T08:00:00+07:00", "source_reference": f"KS-{n:06d}"}


def make_jobs() -> list[Job]:
    """10,000 operations in batches of 50: new citizens, updates of some of them in the same batch (so that their
    order matters), one invalid operation in 25 (a gender the personal id contradicts), and every 40th batch
    entirely invalid."""
    jobs: list[Job] = []
    serial = 0
    for number in range(OPERATIONS // BATCH):
        operations: list[dict[str, Any]] = []
        while len(operations) < BATCH:
            serial += 1
            record = f"068185{serial:06d}"
            if number % 40 == 39 or serial % 25 == 0:
                fields = _citizen(gender="male")  # digit 4 of the id says female
                operations.append({"op": "create", "record_id": record, "fields": fields, "metadata": _meta(serial)})
                continue
            name = NAMES[serial % len(NAMES)]
            create = {
                "op": "create",
                "record_id": record,
                "fields": _citizen(full_name=name),
                "metadata": _meta(serial),
            }
            operations.append(create)
            if serial % 5 == 0 and len(operations) < BATCH:
                update = {"marital_status": STATUSES[serial % 4], "full_name": NAMES[(serial + 1) % len(NAMES)]}
                operations.append({"op": "update", "record_id": record, "fields": update, "metadata": _meta(serial)})
        jobs.append(Job(key=f"batch-{number:04d}-{uuid.uuid4().hex[:8]}", operations=operations))
    return jobs


async def submit_all(
    base_url: str, headers: dict[str, str], jobs: list[Job], on_progress: Callable[[int], None]
) -> None:
    """Send every job from concurrent clients. A job whose answer is lost (connection refused or reset, a
    timeout) or is a 503 is sent again with the same key until it gets an answer: the client's side of the
    idempotency contract."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    done = 0

    async def client() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            while not queue.empty():
                job = queue.get_nowait()
                while True:
                    job.tries += 1
                    try:
                        response = await http.post(
                            RECORDS,
                            content=orjson.dumps({"operations": job.operations}),
                            headers={**headers, "Idempotency-Key": job.key, "Content-Type": "application/json"},
                        )
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)
                        continue
                    if response.status_code in (502, 503, 504):
                        await asyncio.sleep(0.2)
                        continue
                    break
                job.status = response.status_code
                assert response.status_code in (202, 422), response.text
                if response.status_code == 202:
                    job.accepted = [entry["index"] for entry in response.json()["accepted"]]
                else:
                    assert response.json()["type"] == "/problems/submission-rejected", response.text
                done += 1
                on_progress(done)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


# -- checking the outcome -----------------------------------------------------------------------------------------


def expected_state(jobs: list[Job]) -> tuple[dict[str, dict[str, Any]], set[str], int]:
    """The citizens the accepted operations make (record -> fields), the records of refused operations, and how
    many operations were accepted."""
    citizens: dict[str, dict[str, Any]] = {}
    refused: set[str] = set()
    accepted = 0
    for job in jobs:
        taken = set(job.accepted)
        accepted += len(taken)
        for index, operation in enumerate(job.operations):
            record = operation["record_id"]
            if index not in taken:
                refused.add(record)
            elif operation["op"] == "create":
                citizens[record] = dict(operation["fields"])
            else:
                citizens[record].update(operation["fields"])
    return citizens, refused - set(citizens), accepted


async def wait_drained(gateway_url: str, limit_seconds: float) -> dict[str, int]:
    """Wait until no operation is pending or being delivered; the count of operations by state."""
    deadline = time.monotonic() + limit_seconds
    engine = create_engine(gateway_url)
    try:
        while True:
            try:
                async with engine.connect() as conn:
                    rows = (
                        await conn.execute(sa.text("SELECT state, count(*) FROM exchange_operations GROUP BY state"))
                    ).all()
                counts = {state: int(count) for state, count in rows}
                if not counts.get("pending") and not counts.get("delivering"):
                    return counts
            except sa.exc.DBAPIError:
                pass  # the database is restarting
            assert time.monotonic() < deadline, f"operations still waiting: {counts}"
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def sector_rows(population_url: str) -> tuple[dict[str, dict[str, Any]], int]:
    engine = create_engine(population_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(CITIZENS))).mappings().all()
            ledger = (await conn.execute(sa.text("SELECT count(*) FROM gateway_applied_operations"))).scalar_one()
        return {row["so_dinh_danh"]: dict(row) for row in rows}, int(ledger)
    finally:
        await engine.dispose()


async def feed_positions(gateway_url: str) -> tuple[list[int], int]:
    engine = create_engine(gateway_url)
    try:
        async with engine.connect() as conn:
            positions = (
                (
                    await conn.execute(
                        sa.text(
                            "SELECT position FROM exchange_changes WHERE database_id = 'population' ORDER BY position"
                        )
                    )
                )
                .scalars()
                .all()
            )
            operations = (
                await conn.execute(sa.text("SELECT count(DISTINCT operation_id) FROM exchange_changes"))
            ).scalar_one()
        return [int(p) for p in positions], int(operations)
    finally:
        await engine.dispose()


def check_outcome(jobs: list[Job], gateway_url: str, population_url: str) -> None:
    citizens, refused, accepted = expected_state(jobs)
    assert all(job.status in (202, 422) for job in jobs)
    assert accepted > 0.9 * OPERATIONS * 0.9
    started = time.monotonic()
    counts = asyncio.run(wait_drained(gateway_url, limit_seconds=240))
    print(f"drained in {time.monotonic() - started:.1f} s")
    assert counts == {"delivered": accepted}, counts  # nothing pending, nothing dead, nothing stored without a 202
    rows, ledger = asyncio.run(sector_rows(population_url))
    assert ledger == accepted  # each operation applied once: the ledger's key is unique
    assert set(rows) == set(citizens)  # every accepted create applied; no refused one
    assert not refused & set(rows)
    for record, fields in citizens.items():
        row = rows[record]
        assert row["ho_ten"] == fields["full_name"], record
        assert str(row["tinh_trang_hon_nhan"]) == MARITAL_CODES[fields["marital_status"]], record
    positions, distinct_operations = asyncio.run(feed_positions(gateway_url))
    # One change per operation, no repeat, no gap but where a gateway started (the feed moves on to that moment's
    # first position).
    assert len(positions) == accepted == distinct_operations
    assert gapless_but_at_starts(positions)


# -- the scenarios ------------------------------------------------------------------------------------------------


def _make_writer(gateway_url: str) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(gateway_url) as session:
            client, secret = await create_client(
                session, name="Commune office", scopes=("population:read", "population:submit"), client_id="commune"
            )
            return ClientCredentials(client.client_id, secret)

    return asyncio.run(run())


def _gateway_env(tmp_path: Path, gateway_url: str, population_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    connectors = {"population": {"config": {"url": population_url, "writes": {}, "timeout_seconds": 5}}}
    env |= {
        "GATEWAY_DATA_DIR": str(tmp_path / "var"),
        "GATEWAY_SECRET_PEPPER": TEST_PEPPER,
        "GATEWAY_DATABASE_URL": gateway_url,
        "GATEWAY_CONNECTORS": orjson.dumps(connectors).decode(),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_EXCHANGE_CLAIM_SECONDS": "3",
        "GATEWAY_EXCHANGE_BACKOFF_SECONDS": "0.2",
        "GATEWAY_EXCHANGE_BACKOFF_MAX_SECONDS": "2",
        "GATEWAY_EXCHANGE_MAX_ATTEMPTS": "1000",
        "GATEWAY_EXCHANGE_POLL_SECONDS": "0.1",
        "GATEWAY_AXIS_LEASE_SECONDS": "3",
    }
    return env


def _token(base_url: str, credentials: ClientCredentials) -> str:
    response = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def run_scenario(
    tmp_path: Path, gateway_url: str, population_url: str, fault: Callable[[GatewayProcess], None]
) -> None:
    migrations.upgrade(gateway_url)
    asyncio.run(seed_population(population_url, count=0))
    credentials = _make_writer(gateway_url)
    gateway = GatewayProcess(_gateway_env(tmp_path, gateway_url, population_url), tmp_path)
    gateway.start()
    try:
        headers = {"Authorization": f"Bearer {_token(gateway.url, credentials)}", **STATED}
        jobs = make_jobs()
        faulted = False

        def progress(done: int) -> None:
            nonlocal faulted
            if not faulted and done >= len(jobs) * 0.35:
                faulted = True
                fault(gateway)

        started = time.monotonic()
        asyncio.run(submit_all(gateway.url, headers, jobs, progress))
        print(f"submitted in {time.monotonic() - started:.1f} s")
        assert faulted
        assert any(job.tries > 1 for job in jobs), "the fault interrupted no submission"
        check_outcome(jobs, gateway_url, population_url)
    finally:
        gateway.stop()


def test_nothing_is_lost_when_the_gateway_is_killed(tmp_path: Path) -> None:
    def kill_and_restart(gateway: GatewayProcess) -> None:
        gateway.kill()  # SIGKILL: no shutdown, claims left behind, requests cut off
        time.sleep(0.5)
        gateway.start()

    with empty_databases(tmp_path, "durgateway", "durpopulation") as (gateway_url, population_url):
        run_scenario(tmp_path, gateway_url, population_url, kill_and_restart)


def test_nothing_is_lost_when_postgresql_crashes_and_restarts(tmp_path: Path) -> None:
    if not os.environ.get("GATEWAY_TEST_DATABASE_URL"):
        pytest.skip("runs with the PostgreSQL suite (GATEWAY_TEST_DATABASE_URL)")
    # Outside pytest's temporary directory, which only root may enter.
    directory = Path(tempfile.mkdtemp(prefix="axis-pg-"))
    cluster = PrivatePostgres(directory)
    cluster.start()
    try:
        base = cluster.url.rsplit("/", 1)[0]
        asyncio.run(_create_databases(cluster.url, "gateway", "population"))

        def crash_postgres(_: GatewayProcess) -> None:
            cluster.crash_restart()

        run_scenario(tmp_path, f"{base}/gateway", f"{base}/population", crash_postgres)
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _create_databases(url: str, *names: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for name in names:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
