"""A chain cut or rewritten after its last seal, by someone who can write the database but holds no key: the
running gateway remembers what it wrote, so it never seals the altered chain as its own, logs the position it
knew (an anchor), and its periodic verification reports the chain broken. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from support import TEST_DATA_KEY, postgres_database

from gateway.audit.events import PendingEvent, event_hash
from gateway.audit.storage import EVENTS, HEAD, SEALS, SUBJECTS, audit_engine
from gateway.audit.verify import verify_in_child, verify_trail
from gateway.audit.writer import AuditWriter, ChainAltered, WriterOptions, known_anchors
from gateway.core import metrics, migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.logs import configure_logging
from gateway.core.settings import Settings
from gateway.identity.datakeys import DataKeys
from gateway.identity.key_material import SigningKeyFile
from gateway.identity.signing_keys import ensure_signing_key

DATA_KEYS = DataKeys(keys=[TEST_DATA_KEY])
SEAL_EVERY = 5


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
        migrations.upgrade(url)
        yield url
    else:
        with postgres_database(prefix="gwaltered") as url:
            migrations.upgrade(url)
            yield url


def pending(n: int, client: str = "so-y-te") -> PendingEvent:
    return PendingEvent(
        occurred_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC) + timedelta(seconds=n),
        request_id=f"req-{n}",
        client_id=client,
        actor="CB-068-0001",
        purpose="1.001612.000.00.00.H41",
        database="population",
        operation="read",
        record_ids=(f"0680990{n:05d}",),
        outcome="allowed",
        status=200,
        reason=None,
        latency_ms=1.0,
        response_sha256="0" * 64,
    )


async def signing_key(url: str) -> SigningKeyFile:
    async with standalone_session(url) as session:
        return await ensure_signing_key(session, Settings(database_url=url, data_key=TEST_DATA_KEY), DATA_KEYS)


async def started(url: str, key: SigningKeyFile) -> AuditWriter:
    writer = AuditWriter.for_database(
        url, WriterOptions(batch_wait_seconds=0, seal_every_events=SEAL_EVERY), signing_key=lambda: key
    )
    await writer.start()
    return writer


async def run_sql(url: str, *statements: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            rows: list[Any] = []
            for statement in statements:
                result = await connection.execute(statement)
                rows = list(result.mappings()) if result.returns_rows else rows
            return rows
    finally:
        await engine.dispose()


async def rewrite_from(url: str, first: int) -> None:
    """What an attacker with write access does: put another client in every event from ``first`` on, recompute
    the hashes, delete the seals they would break, move the head."""
    rows = [dict(row) for row in await run_sql(url, sa.select(EVENTS).where(EVENTS.c.seq >= first - 1))]
    prev = rows[0]["hash"]
    statements: list[Any] = []
    for row in rows[1:]:
        row.update(client_id="so-tu-phap", prev_hash=prev)
        row["hash"] = prev = event_hash(row)
        statements.append(sa.update(EVENTS).where(EVENTS.c.seq == row["seq"]).values(**row))
    statements += [sa.delete(SEALS).where(SEALS.c.seq >= first), sa.update(HEAD).values(seq=rows[-1]["seq"], hash=prev)]
    await run_sql(url, *statements)


async def cut_after(url: str, last: int) -> None:
    """Delete the events after ``last``, their index and seals, and move the head back to it."""
    (row,) = await run_sql(url, sa.select(EVENTS.c.hash).where(EVENTS.c.seq == last))
    await run_sql(
        url,
        sa.delete(SUBJECTS).where(SUBJECTS.c.seq > last),
        sa.delete(EVENTS).where(EVENTS.c.seq > last),
        sa.delete(SEALS).where(SEALS.c.seq > last),
        sa.update(HEAD).values(seq=last, hash=row["hash"]),
    )


async def seals(url: str) -> list[int]:
    return [row["seq"] for row in await run_sql(url, sa.select(SEALS.c.seq).order_by(SEALS.c.seq))]


async def verified(url: str, anchors: list[tuple[int, str]] | None = None) -> tuple[bool, str]:
    engine = audit_engine(url, writer=False)
    try:
        report = await verify_trail(engine, anchors or [], data_keys=DATA_KEYS)
    finally:
        await engine.dispose()
    return report.ok, report.summary()


@contextmanager
def json_logs() -> Iterator[list[dict[str, Any]]]:
    """The gateway's log lines written within, as JSON objects (the list is filled on exit). The loggers of the
    gateway's modules are cached on first use: their lines are read where they are written, on stderr."""
    stream, lines = io.StringIO(), []
    saved = sys.stderr
    sys.stderr = stream
    configure_logging(level="INFO", fmt="json")
    try:
        yield lines
    finally:
        sys.stderr = saved
        configure_logging(level="WARNING", fmt="console")
        lines += [orjson.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_a_chain_rewritten_after_its_last_seal_is_never_sealed_and_the_periodic_verification_finds_it(
    database: str,
) -> None:
    async def scenario() -> None:
        key = await signing_key(database)
        writer = await started(database, key)
        try:
            for n in range(1, 8):  # sealed at 5; 6 and 7 after the seal
                await writer.append(pending(n))
            assert await seals(database) == [5]
            assert known_anchors(database) == [writer.anchor]
            assert writer.anchor is not None and writer.anchor[0] == 7
            await rewrite_from(database, 6)
            # The database alone holds nothing that shows it.
            assert (await verified(database))[0]
            metrics.AUDIT_CHAIN_ALTERED.set(0)
            with json_logs() as logs:
                for n in range(8, 14):  # a seal is due at 10: the gateway must not sign the rewritten chain
                    await writer.append(pending(n))
                with pytest.raises(ChainAltered):
                    await writer.seal()
            assert await seals(database) == [5]
            assert writer.altered is not None and "seq 7" in writer.altered
            (logged,) = [line for line in logs if line["event"] == "audit chain altered"]
            assert (logged["seq"], logged["hash"]) == writer.anchor == known_anchors(database)[0]
            assert logged["level"] == "error"
            assert metrics.AUDIT_CHAIN_ALTERED._value.get() == 1  # this process's own finding, for the alert
            ok, summary = await verify_in_child(
                database, settings=Settings(database_url=database, data_key=TEST_DATA_KEY)
            )
            assert not ok
            assert "first bad event seq 7" in summary and "rewritten" in summary
            ok, summary = await verified(database, [writer.anchor])
            assert not ok
        finally:
            await writer.close()
        assert await seals(database) == [5]  # nor on close

    asyncio.run(scenario())


def test_a_tail_cut_with_its_seals_under_a_running_gateway_is_never_sealed_and_is_reported(database: str) -> None:
    async def scenario() -> None:
        key = await signing_key(database)
        writer = await started(database, key)
        try:
            for n in range(1, 13):  # sealed at 5 and 10
                await writer.append(pending(n))
            assert await seals(database) == [5, 10]
            await cut_after(database, 6)
            assert (await verified(database))[0]
            await writer.append(pending(13))  # appended at seq 7: the head is behind what the gateway wrote
            assert writer.altered is not None and "behind seq 12" in writer.altered
            for n in range(14, 20):
                await writer.append(pending(n))
            assert await seals(database) == [5]
            ok, summary = await verify_in_child(
                database, settings=Settings(database_url=database, data_key=TEST_DATA_KEY)
            )
            assert not ok
            assert "first bad event seq 12" in summary, summary
        finally:
            await writer.close()
        assert await seals(database) == [5]

    asyncio.run(scenario())


def test_a_chain_appended_to_by_another_gateway_process_is_sealed_as_before(database: str) -> None:
    async def scenario() -> None:
        key = await signing_key(database)
        first, second = await started(database, key), await started(database, key)
        try:
            for n in range(1, 31):
                await (first if n % 3 else second).append(pending(n))
            await first.seal()
            assert first.altered is None and second.altered is None
            assert len(known_anchors(database)) == 2
            ok, summary = await verify_in_child(
                database, settings=Settings(database_url=database, data_key=TEST_DATA_KEY)
            )
            assert ok, summary
            assert "2 anchors matched" in summary
        finally:
            await first.close()
            await second.close()
        assert known_anchors(database) == []
        ok, summary = await verified(database)
        assert ok, summary
        assert (await seals(database))[-1] == 30

    asyncio.run(scenario())
