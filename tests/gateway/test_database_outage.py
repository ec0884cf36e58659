"""The gateway while its PostgreSQL database is gone, and after it is back: a submission is answered 503
``exchange-unavailable`` (retry with the same key, which then succeeds); the log says once that the database is
unavailable and once that it is back, with the failed rounds counted, without a traceback per round; the seal
made at shutdown reconnects and covers the last events.

The database goes away as in a restart: every connection to it is cut and, until it comes back, a new one
fails (the database is renamed meanwhile). The server's other databases are not touched.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from support import POSTGRES_SERVER_URL, STATED, ClientCredentials, LiveServer, fetch_token, postgres_database

from contracts.population import Citizen
from gateway.audit.events import PendingEvent
from gateway.audit.storage import EVENTS, SEALS
from gateway.audit.writer import AuditWriter, WriterOptions
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session, utcnow
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.key_material import new_signing_key
from simulators.population import seed_population

pytestmark = pytest.mark.postgres

RECORDS = "/v1/databases/population/records"
EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
OUTAGE_SECONDS = 3.0


# -- taking a database away -------------------------------------------------------------------------------------


def _server_dsn() -> str:
    return make_url(POSTGRES_SERVER_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _cut(name: str) -> int:
    """Cut every connection to the database and rename it away, so that new connections fail (3D000); how many
    tries it took (each retry means a gateway loop reached the database between the cut and the rename)."""
    admin = await asyncpg.connect(_server_dsn(), timeout=10)
    try:
        for attempt in range(1, 51):
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            try:
                await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
                return attempt
            except asyncpg.ObjectInUseError:  # a gateway loop connected again in between
                await asyncio.sleep(0.05)
        raise AssertionError("could not take the database away")
    finally:
        await admin.close()


async def _restore(name: str) -> None:
    admin = await asyncpg.connect(_server_dsn(), timeout=10)
    try:
        await admin.execute(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')
    finally:
        await admin.close()


async def _terminate(name: str) -> None:
    """Cut every connection to the database (it stays reachable): what pooled connections see after a restart."""
    admin = await asyncpg.connect(_server_dsn(), timeout=10)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()


@pytest.fixture
def gateway_url() -> Iterator[str]:
    with postgres_database(prefix="gwoutage") as url:
        migrations.upgrade(url)
        yield url


def _name(url: str) -> str:
    database = make_url(url).database
    assert database is not None
    return database


# -- the exchange and the log through an outage -----------------------------------------------------------------


def _writer(url: str) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            made, secret = await create_client(
                session, name="Commune office", scopes=("population:read", "population:submit"), client_id="commune"
            )
            return ClientCredentials(made.client_id, secret)

    return asyncio.run(run())


def _submission(record: str) -> bytes:
    fields = {**EXAMPLE, "household_id": "HK068000123", "old_id_number": f"9{record[-8:]}"}
    fields.pop("personal_id")
    operation = {
        "op": "create",
        "record_id": record,
        "fields": fields,
        "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"},
    }
    return orjson.dumps({"operations": [operation]})


def _log_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(orjson.loads(line))
    return lines


async def _seals_and_head(url: str) -> tuple[list[int], int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            seals = list((await conn.execute(sa.select(SEALS.c.seq).order_by(SEALS.c.seq))).scalars())
            last = (await conn.execute(sa.select(sa.func.max(EVENTS.c.seq)))).scalar_one()
        return seals, int(last)
    finally:
        await engine.dispose()


def test_a_submission_during_an_outage_is_retried_with_its_key_and_the_log_stays_short(
    gateway_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    population = f"sqlite+aiosqlite:///{tmp_path / 'population.db'}"
    asyncio.run(seed_population(population, count=50, seed=5))
    credentials = _writer(gateway_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=gateway_url,
        connectors={"population": {"config": {"url": population, "writes": {}, "timeout_seconds": 2}}},
        log_format="json",
        log_level="INFO",
        access_cache_seconds=0,  # every request asks the database for the client's grants
        exchange_poll_seconds=0.05,
        axis_lease_seconds=2,
    )
    name = _name(gateway_url)
    capsys.readouterr()
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}
        headers["Content-Type"] = "application/json"
        first = http.post(RECORDS, content=_submission("068185900001"), headers={**headers, "Idempotency-Key": "k-1"})
        assert first.status_code == 202, first.text

        attempts = asyncio.run(_cut(name))
        try:
            key = f"k-{uuid.uuid4().hex[:8]}"
            began = time.monotonic()
            answers = []
            while time.monotonic() - began < OUTAGE_SECONDS:
                answers.append(
                    http.post(RECORDS, content=_submission("068185900002"), headers={**headers, "Idempotency-Key": key})
                )
                time.sleep(0.2)
        finally:
            asyncio.run(_restore(name))
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.json()["type"] == "/problems/exchange-unavailable", answer.text
            assert answer.headers["retry-after"]

        # Back: the client retries with its key, as the problem says, and its submission is accepted once.
        deadline = time.monotonic() + 30
        while (
            retried := http.post(
                RECORDS, content=_submission("068185900002"), headers={**headers, "Idempotency-Key": key}
            )
        ).status_code == 503:
            assert time.monotonic() < deadline, retried.text
            time.sleep(0.2)
        assert retried.status_code == 202, retried.text
        assert "idempotent-replayed" not in retried.headers
        again = http.post(RECORDS, content=_submission("068185900002"), headers={**headers, "Idempotency-Key": key})
        assert again.status_code == 202
        assert again.headers["idempotent-replayed"] == "true"
        # Wait for the loops to report the database back: every outage reported as begun is reported as over (a
        # round that fails as the outage ends begins a short one after it, over at the next round that succeeds).
        deadline = time.monotonic() + 30
        log = ""
        while True:
            log += capsys.readouterr().err
            events = [line["event"] for line in _log_lines(log[: log.rfind("\n") + 1])]  # whole lines
            ended = events.count("gateway database available again")
            if ended and ended == events.count("gateway database unavailable"):
                break
            assert time.monotonic() < deadline, events
            time.sleep(0.2)
    log += capsys.readouterr().err  # the shutdown, with its seal

    lines = _log_lines(log)
    assert "Traceback" not in log, [line for line in lines if "Traceback" in orjson.dumps(line).decode()]
    down = [line for line in lines if line["event"] == "gateway database unavailable"]
    back = [line for line in lines if line["event"] == "gateway database available again"]
    # One line when the outage starts and one when it ends, not one per failed round. The connections are cut
    # before the database is renamed away: a loop that reconnects in between ends a first, short outage, so a
    # second (or a third) line pair may come before the long one; and a round that fails as the outage ends makes
    # a short one after it. The audit chain's verification, which runs for seconds in a child process, is not
    # such a round: begun during the outage, its failure belongs to it even when it comes after the recovery
    # (before this, its late failure began an outage that no round was left to end).
    assert 1 <= len(down) <= attempts + 3, (attempts, down)
    assert len(back) == len(down), back
    every = (down, back)
    back = [max(back, key=lambda line: float(line["seconds"]))]
    assert back[0]["seconds"] >= OUTAGE_SECONDS * 0.8, every
    # Dozens of failed rounds of the background loops (and the refused requests), summed up in one line.
    assert back[0]["failed_rounds"] >= 20, back
    assert {"exchange dispatch", "health-check", "requests"} <= set(back[0]["by_part"]), back
    assert back[0]["reached_by"], back
    errors = [line for line in lines if line["level"] in ("error", "critical")]
    assert len(errors) <= len(down) + 1, errors  # each outage's first line, at most one other
    assert not [line for line in lines if "seal on close failed" in line["event"]]

    # The seal made at shutdown reconnected after the outage and covers the last event.
    seals, last = asyncio.run(_seals_and_head(gateway_url))
    assert seals and seals[-1] == last


# -- the seal at shutdown ---------------------------------------------------------------------------------------


def _event(n: int) -> PendingEvent:
    return PendingEvent(
        occurred_at=utcnow(),
        request_id=f"req-{n}",
        client_id="outage-test",
        actor=None,
        purpose=None,
        database="population",
        operation="read",
        record_ids=(),
        outcome="allowed",
        status=200,
        reason=None,
        latency_ms=1.0,
        response_sha256="0" * 64,
    )


@pytest.mark.anyio
async def test_the_seal_at_shutdown_reconnects_after_the_connections_were_cut(gateway_url: str, tmp_path: Path) -> None:
    key = new_signing_key("ES256")
    audit = AuditWriter.for_database(gateway_url, WriterOptions(seal_every_events=1000), signing_key=lambda: key)
    await audit.start()
    for n in range(3):
        await audit.append(_event(n))
    await _terminate(_name(gateway_url))  # as a restart of PostgreSQL does to every pooled connection
    await audit.close()
    seals, last = await _seals_and_head(gateway_url)
    assert last == 3
    assert seals == [3]
