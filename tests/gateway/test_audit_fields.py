"""The fields an allowed data exchange's grants cover are part of its event: written by every appender (SQLite,
PostgreSQL's one-statement and locking paths), hashed, so that changing them is caught; the events written before
they were recorded (null) keep their hashes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import TEST_DATA_KEY, postgres_database

from gateway.audit.events import PendingEvent, event_hash
from gateway.audit.storage import EVENTS, audit_engine
from gateway.audit.verify import verify_trail
from gateway.audit.writer import AuditWriter, WriterOptions
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.identity.datakeys import DataKeys
from gateway.identity.signing_keys import ensure_signing_key

DATA_KEYS = DataKeys(keys=[TEST_DATA_KEY])
EVENT = PendingEvent(
    occurred_at=datetime(2026, 11, 30, 8, 15, tzinfo=UTC),
    request_id="req-1",
    client_id="so-tu-phap",
    actor="CB-068-0001",
    purpose="1.001612.000.00.00.H41",
    database="population",
    operation="read",
    record_ids=("068085001234",),
    outcome="allowed",
    status=200,
    reason=None,
    latency_ms=1.5,
    response_sha256="ab" * 32,
)


def test_an_event_without_fields_keeps_the_hash_it_had_before_fields_were_recorded() -> None:
    # The hash this event had when events had no `fields` column: a trail written then still verifies.
    assert EVENT.chained(7, "cd" * 32)["hash"] == "dabd57c012779a4f582aff63b9f8fe3ce577277850a7c56e2cf2c6ebb2ec19b9"
    with_fields = replace(EVENT, fields=("full_name",)).chained(7, "cd" * 32)
    assert with_fields["hash"] != EVENT.chained(7, "cd" * 32)["hash"]
    assert event_hash({**with_fields, "fields": ["full_name", "date_of_birth"]}) != with_fields["hash"]
    assert event_hash({**with_fields, "fields": None}) != with_fields["hash"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
        migrations.upgrade(url)
        yield url
    else:
        with postgres_database(prefix="gwfields") as url:
            migrations.upgrade(url)
            yield url


def test_fields_are_written_hashed_and_verified_by_every_appender(database: str) -> None:
    async def scenario() -> None:
        async with standalone_session(database) as session:
            key = await ensure_signing_key(session, Settings(database_url=database, data_key=TEST_DATA_KEY), DATA_KEYS)
        writer = AuditWriter.for_database(
            database, WriterOptions(batch_wait_seconds=0, seal_every_events=4), signing_key=lambda: key
        )
        await writer.start()
        kinds = [("date_of_birth", "full_name"), ("*",), None, ()]
        try:
            for n in range(12):  # sealed every 4 events: the locking path, then the one-statement path
                await writer.append(replace(EVENT, request_id=f"req-{n}", fields=kinds[n % 4]))
        finally:
            await writer.close()
        engine = create_engine(database)
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(sa.select(EVENTS.c.seq, EVENTS.c.fields).order_by(EVENTS.c.seq))).all()
            assert [row.fields for row in rows] == [None if k is None else list(k) for k in kinds] * 3
            verifier = audit_engine(database, writer=False)
            report = await verify_trail(verifier, data_keys=DATA_KEYS)
            assert report.ok, report.summary()
            async with engine.begin() as connection:
                await connection.execute(sa.update(EVENTS).where(EVENTS.c.seq == 5).values(fields=["*"]))
            report = await verify_trail(verifier, data_keys=DATA_KEYS)
            assert report.summary().startswith("audit trail NOT intact: first bad event seq 5: its content"), (
                report.summary()
            )
            await verifier.dispose()
        finally:
            await engine.dispose()

    asyncio.run(scenario())
