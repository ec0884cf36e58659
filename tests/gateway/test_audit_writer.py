"""The group-commit writer on its own: concurrent events share transactions and get contiguous seqs; seals every
N events, every T seconds and on close; a full queue, a failing or stuck database answer 503 (AuditUnavailable)
instead of hanging; a chain without its head is never continued."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from support import TEST_DATA_KEY, postgres_database

from gateway.audit.events import PendingEvent
from gateway.audit.storage import EVENTS, HEAD, SEALS, HeadMissing, audit_engine
from gateway.audit.verify import verify_trail
from gateway.audit.writer import AuditUnavailable, AuditWriter, WriterOptions
from gateway.core import metrics, migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.identity.datakeys import DataKeys
from gateway.identity.key_material import SigningKeyFile
from gateway.identity.signing_keys import ensure_signing_key

#: The gateway's data key: it vouches for the signing key that seals (``gateway audit verify`` trusts no other).
DATA_KEYS = DataKeys(keys=[TEST_DATA_KEY])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
        migrations.upgrade(url)
        yield url
    else:
        with postgres_database(prefix="gwwriter") as url:
            migrations.upgrade(url)
            yield url


def event(n: int, outcome: str = "allowed") -> PendingEvent:
    return PendingEvent(
        occurred_at=datetime.now(UTC),
        request_id=f"req-{n}",
        client_id="writer-test",
        actor=None,
        purpose=None,
        database="population",
        operation="read",
        record_ids=(f"0680990{n:05d}",),
        outcome=outcome,  # type: ignore[arg-type]
        status=200 if outcome == "allowed" else 403,
        reason=None,
        latency_ms=1.0,
        response_sha256="0" * 64,
    )


async def gateway_key(url: str, tmp_path: Path) -> SigningKeyFile:
    """The signing key of the gateway of ``url``, as its start makes it (stored, its private part encrypted with
    the data key)."""
    settings = Settings(database_url=url, data_dir=tmp_path, data_key=TEST_DATA_KEY)  # type: ignore[arg-type]
    async with standalone_session(url) as session:
        return await ensure_signing_key(session, settings, DATA_KEYS)


async def writer(url: str, tmp_path: Path, **options: float) -> AuditWriter:
    """A writer appending by the gateway's own path for the database (asyncpg, or sqlite3)."""
    key = await gateway_key(url, tmp_path)
    return AuditWriter.for_database(url, WriterOptions(**options), signing_key=lambda: key)  # type: ignore[arg-type]


async def seals_and_report(url: str) -> tuple[list[int], bool, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            seals = list((await conn.execute(sa.select(SEALS.c.seq).order_by(SEALS.c.seq))).scalars())
        report = await verify_trail(engine, data_keys=DATA_KEYS)
    finally:
        await engine.dispose()
    return seals, report.ok, report.summary()


def batches() -> float:
    return next(
        s.value for family in metrics.AUDIT_BATCH_EVENTS.collect() for s in family.samples if s.name.endswith("_count")
    )


@pytest.mark.anyio
async def test_concurrent_events_share_transactions_and_get_contiguous_seqs(database: str, tmp_path: Path) -> None:
    audit = await writer(database, tmp_path, batch_wait_seconds=0.005)
    await audit.start()
    before = batches()
    seqs = await asyncio.gather(*(audit.append(event(n)) for n in range(200)))
    transactions = batches() - before
    await audit.close()
    assert sorted(seqs) == list(range(1, 201))
    assert transactions <= 20, transactions  # grouped, not one transaction per event
    _seals, ok, summary = await seals_and_report(database)
    assert ok, summary


@pytest.mark.anyio
async def test_the_generic_appender_chains_as_the_fast_ones_do(database: str, tmp_path: Path) -> None:
    key = await gateway_key(database, tmp_path)
    audit = AuditWriter(
        audit_engine(database, writer=True), WriterOptions(seal_every_events=7), signing_key=lambda: key
    )  # type: ignore[arg-type]
    await audit.start()
    seqs = [await audit.append(event(n)) for n in range(10)]
    seqs += await asyncio.gather(*(audit.append(event(n)) for n in range(10, 20)))
    await audit.close()
    assert seqs[:10] == list(range(1, 11)) and sorted(seqs) == list(range(1, 21))
    seals, ok, summary = await seals_and_report(database)
    assert ok, summary
    assert seals[0] == 7 and seals[-1] == 20


@pytest.mark.anyio
async def test_processes_appending_in_turn_keep_one_chain(database: str, tmp_path: Path) -> None:
    # Each writer stands for a gateway process: each expects the head where its own last batch left it, and finds
    # that the other moved it.
    first, second = await writer(database, tmp_path), await writer(database, tmp_path)
    await first.start()
    await second.start()
    seqs = []
    for n in range(12):
        seqs.append(await (first if n % 3 else second).append(event(n)))
    seqs += await asyncio.gather(*(w.append(event(100 + n)) for n in range(10) for w in (first, second)))
    await first.close()
    await second.close()
    assert seqs[:12] == list(range(1, 13))
    assert sorted(seqs) == list(range(1, 33))
    engine = create_engine(database)
    try:
        async with engine.connect() as conn:
            ids = list((await conn.execute(sa.select(EVENTS.c.request_id).order_by(EVENTS.c.seq))).scalars())
    finally:
        await engine.dispose()
    assert ids[:12] == [f"req-{n}" for n in range(12)]
    _seals, ok, summary = await seals_and_report(database)
    assert ok, summary


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrations.upgrade(url)
    return url


@pytest.mark.anyio
async def test_sqlite_appends_wait_for_another_process_holding_the_write_lock(
    sqlite_database: str, tmp_path: Path
) -> None:
    url = sqlite_database
    audit = await writer(url, tmp_path, batch_wait_seconds=0)
    await audit.start()
    assert await audit.append(event(0)) == 1
    other = sqlite3.connect(tmp_path / "gateway.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        pending = asyncio.ensure_future(audit.append(event(1)))
        await asyncio.sleep(0.3)
        assert not pending.done()  # waiting for the lock, off the event loop (this test's loop kept running)
        other.execute("COMMIT")
        assert await asyncio.wait_for(pending, 10) == 2
    finally:
        other.close()
    await audit.close()
    _seals, ok, summary = await seals_and_report(url)
    assert ok, summary


@pytest.mark.anyio
async def test_seals_every_n_events_and_on_close(database: str, tmp_path: Path) -> None:
    audit = await writer(database, tmp_path, batch_wait_seconds=0, seal_every_events=25)
    await audit.start()
    for n in range(60):
        await audit.append(event(n))
    assert (await seals_and_report(database))[0] == [25, 50]
    await audit.close()
    seals, ok, summary = await seals_and_report(database)
    assert seals == [25, 50, 60]
    assert ok, summary
    assert "3 seals verified, the last at seq 60 (0 events after it)" in summary


@pytest.mark.anyio
async def test_seals_after_a_quiet_interval(database: str, tmp_path: Path) -> None:
    audit = await writer(database, tmp_path, batch_wait_seconds=0, seal_every_seconds=0.2)
    await audit.start()
    for n in range(3):
        await audit.append(event(n))
    for _ in range(200):  # the timed seal is due 0.2 s after the writer fell quiet
        await asyncio.sleep(0.05)
        if (await seals_and_report(database))[0] == [3]:
            break
    assert (await seals_and_report(database))[0] == [3]
    await audit.close()
    assert (await seals_and_report(database))[0] == [3]  # nothing new to seal on close


@pytest.mark.anyio
async def test_a_full_queue_is_refused_at_once(database: str, tmp_path: Path) -> None:
    audit = await writer(database, tmp_path, batch_wait_seconds=0.3, queue_max=2)
    await audit.start()
    results = await asyncio.gather(*(audit.append(event(n)) for n in range(5)), return_exceptions=True)
    await audit.close()
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2]
    assert sum(isinstance(r, AuditUnavailable) for r in results) == 3


@pytest.mark.anyio
async def test_a_failing_database_fails_the_batch_and_the_writer_recovers(database: str, tmp_path: Path) -> None:
    audit = await writer(database, tmp_path, batch_wait_seconds=0.01)
    await audit.start()
    assert await audit.append(event(0)) == 1
    engine = create_engine(database)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE audit_events RENAME TO audit_events_away"))
        failed = await asyncio.gather(*(audit.append(event(n)) for n in range(1, 4)), return_exceptions=True)
        assert all(isinstance(r, AuditUnavailable) for r in failed), failed
        async with engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE audit_events_away RENAME TO audit_events"))
        assert await audit.append(event(4)) == 2
    finally:
        await engine.dispose()
    await audit.close()
    _seals, ok, summary = await seals_and_report(database)
    assert ok, summary


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database(prefix="gwstuck") as url:
        migrations.upgrade(url)
        yield url


@pytest.mark.anyio
@pytest.mark.postgres
async def test_a_stuck_database_times_out_instead_of_hanging(postgres_url: str, tmp_path: Path) -> None:
    audit = await writer(postgres_url, tmp_path, batch_wait_seconds=0, timeout_seconds=0.5)
    await audit.start()
    assert await audit.append(event(0)) == 1
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as locker:
            transaction = await locker.begin()
            await locker.execute(sa.select(HEAD).with_for_update())  # another process holding the head
            began = time.monotonic()
            with pytest.raises(AuditUnavailable):
                await audit.append(event(1))
            assert time.monotonic() - began < 5
            await transaction.rollback()
        assert await audit.append(event(2)) == 2
        await audit.close()
        async with engine.connect() as conn:
            ids = list((await conn.execute(sa.select(EVENTS.c.request_id).order_by(EVENTS.c.seq))).scalars())
        assert ids == ["req-0", "req-2"]
    finally:
        await engine.dispose()


@pytest.mark.anyio
async def test_a_trail_without_its_head_is_not_continued(database: str, tmp_path: Path) -> None:
    audit = await writer(database, tmp_path, batch_wait_seconds=0)
    await audit.start()
    await audit.append(event(0))
    await audit.close()
    engine = create_engine(database)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.delete(HEAD))
    finally:
        await engine.dispose()
    with pytest.raises(HeadMissing):
        await (await writer(database, tmp_path)).start()


def test_production_refuses_to_run_without_the_audit_trail(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="audit trail cannot be disabled"):
        Settings(environment="production", audit_enabled=False, data_dir=tmp_path)
    assert not Settings(environment="development", audit_enabled=False, data_dir=tmp_path).audit_enabled
