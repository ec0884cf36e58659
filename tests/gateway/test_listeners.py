"""The PostgreSQL listener shared by the signing keys and the access cache (:func:`gateway.core.listeners.listen`):
it delivers each notification's payload, listens again after its connection is terminated by the server (telling
its owner both times, since notifications sent meanwhile are lost), closes its connection when cancelled, and
reports a database it cannot reach as an outage."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from support import free_port, postgres_database

from gateway.core.db import create_engine
from gateway.core.listeners import listen
from gateway.core.outages import database_outage

WITHIN = 10.0


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_database(prefix="gwlisten") as url:
        yield url


async def _listening_backends(admin: asyncpg.Connection, channel: str) -> list[int]:
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = $1", f'LISTEN "{channel}"'
    )
    return [row["pid"] for row in rows]


@pytest.mark.anyio
@pytest.mark.postgres
async def test_a_listener_delivers_notifications_and_listens_again_after_its_connection_is_terminated(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    channel = f"test_listen_{uuid.uuid4().hex[:8]}"
    payloads: asyncio.Queue[str] = asyncio.Queue()
    told: list[str] = []
    listening, lost = asyncio.Event(), asyncio.Event()

    def on_listening() -> None:
        told.append("listening")
        listening.set()

    def on_lost() -> None:
        told.append("lost")
        lost.set()

    admin = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    task = asyncio.create_task(
        listen(
            engine,
            channel,
            payloads.put_nowait,
            name="test listener",
            on_listening=on_listening,
            on_lost=on_lost,
            reconnect_seconds=0.1,
        )
    )
    try:
        await asyncio.wait_for(listening.wait(), WITHIN)
        listening.clear()
        await admin.execute("SELECT pg_notify($1, 'first')", channel)
        assert await asyncio.wait_for(payloads.get(), WITHIN) == "first"

        (pid,) = await _listening_backends(admin, channel)
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        await asyncio.wait_for(lost.wait(), WITHIN)
        await asyncio.wait_for(listening.wait(), WITHIN)
        (again,) = await _listening_backends(admin, channel)
        assert again != pid
        await admin.execute("SELECT pg_notify($1, 'second')", channel)
        assert await asyncio.wait_for(payloads.get(), WITHIN) == "second"
        assert told == ["listening", "lost", "listening"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    try:
        for _ in range(100):
            if not await _listening_backends(admin, channel):
                break
            await asyncio.sleep(0.05)
        assert await _listening_backends(admin, channel) == []  # cancelling closed its connection
        assert payloads.empty()
    finally:
        await admin.close()
        await engine.dispose()


@pytest.mark.anyio
async def test_a_listener_that_cannot_reach_its_database_reports_an_outage_and_keeps_trying() -> None:
    url = f"postgresql+asyncpg://gateway@127.0.0.1:{free_port()}/unreachable"
    engine = create_engine(url)
    outage = database_outage(url)
    task = asyncio.create_task(
        listen(engine, "anything", lambda _payload: None, name="test listener", part="test part", retry_seconds=0.01)
    )
    try:
        for _ in range(500):
            if outage.failures["test part"] >= 2:
                break
            await asyncio.sleep(0.01)
        assert outage.ongoing
        assert outage.failures["test part"] >= 2  # tried again
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        outage.succeeded("test part")
        await engine.dispose()
