"""Several dispatchers on one gateway database: on PostgreSQL they share the backlog, none delivers an operation
another took, and each record's operations still arrive in order; on SQLite only the lease holder dispatches."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import empty_databases

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker, utcnow
from gateway.core.settings import Settings
from gateway.exchange.dispatcher import Dispatcher
from gateway.exchange.intake import IntakeService
from gateway.exchange.operations import OperationChecker
from gateway.identity.access import Decision
from gateway.records.registry import ConnectorRegistry
from simulators.population import CITIZENS, seed_population

EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
RECORDS = 150
NAMES = ["Nguyễn Thị Một", "Nguyễn Thị Hai", "Nguyễn Thị Ba", "Nguyễn Thị Bốn"]


@pytest.fixture
def urls(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with empty_databases(tmp_path, "dispgateway", "dispsector") as (gateway_url, sector_url):
        migrations.upgrade(gateway_url)
        asyncio.run(seed_population(sector_url, count=0))
        yield gateway_url, sector_url


def _operation(op: str, record: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"op": op, "record_id": record, "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"}}
    if fields is not None:
        body["fields"] = fields
    return body


async def _backlog(settings: Settings, sessionmaker: Any) -> dict[str, str]:
    """Per record: a create, then three renames in three later submissions. Returns record -> final name."""
    service = IntakeService(sessionmaker, "population", OperationChecker(Citizen), settings)
    decision = Decision("writer", "population", "submit", None, None, None, (1,))
    records = [f"068185{n:06d}" for n in range(RECORDS)]
    base = {k: v for k, v in EXAMPLE.items() if k not in ("personal_id", "old_id_number")}
    base["household_id"] = "HK068000123"
    await service.submit(
        [_operation("create", r, {**base, "full_name": NAMES[0]}) for r in records],
        decision=decision,
        idempotency_key="creates",
    )
    for step, name in enumerate(NAMES[1:], start=1):
        await service.submit(
            [_operation("update", r, {"full_name": name}) for r in records],
            decision=decision,
            idempotency_key=f"renames-{step}",
        )
    return dict.fromkeys(records, NAMES[-1])


async def _run_dispatchers(settings: Settings, count: int) -> tuple[list[int], dict[str, int], dict[str, str]]:
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    registries = [ConnectorRegistry.from_settings(settings) for _ in range(count)]
    dispatchers = [Dispatcher(settings=settings, sessionmaker=sessionmaker, registry=r) for r in registries]
    try:
        expected = await _backlog(settings, sessionmaker)
        for registry in registries:
            await registry.start()
        delivered = [0] * count

        async def loop(index: int) -> None:
            dispatcher = dispatchers[index]
            idle = 0
            while idle < 20:
                if dispatcher.shared or await dispatcher.lease.hold():
                    claimed = await dispatcher.run_once()
                else:
                    claimed = 0
                delivered[index] += claimed
                idle = 0 if claimed else idle + 1
                await asyncio.sleep(0 if claimed else 0.02)

        await asyncio.wait_for(asyncio.gather(*(loop(i) for i in range(count))), timeout=120)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text("SELECT state, outcome, count(*) FROM exchange_operations GROUP BY state, outcome")
                )
            ).all()
            attempts = (await conn.execute(sa.text("SELECT sum(attempts) FROM exchange_operations"))).scalar_one()
        outcomes = {f"{state}/{outcome}": int(n) for state, outcome, n in rows}
        outcomes["attempts"] = int(attempts)
        return delivered, outcomes, expected
    finally:
        for dispatcher in dispatchers:
            await dispatcher.lease.release()
        for registry in registries:
            await registry.close()
        await engine.dispose()


async def _names(sector_url: str) -> dict[str, str]:
    engine = create_engine(sector_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(CITIZENS.c.so_dinh_danh, CITIZENS.c.ho_ten))).all()
        return {str(personal_id): str(name) for personal_id, name in rows}
    finally:
        await engine.dispose()


def test_dispatchers_share_the_work_and_keep_each_records_order(
    urls: tuple[str, str], make_settings: Callable[..., Settings]
) -> None:
    gateway_url, sector_url = urls
    settings = make_settings(
        database_url=gateway_url,
        connectors={"population": {"config": {"url": sector_url, "writes": {}}}},
        exchange_dispatch_batch=50,
        exchange_delivery_batch=25,
    )
    delivered, outcomes, expected = asyncio.run(_run_dispatchers(settings, count=3))
    total = RECORDS * len(NAMES)
    attempts = outcomes.pop("attempts")
    assert outcomes == {"delivered/delivered": total}, outcomes  # none twice (no duplicate), none failed
    # Each claim is one attempt of its operation: none was taken by two dispatchers at once. (A delivery that
    # fails for a moment, a timeout on a loaded machine, is tried again: one more claim, one more attempt.)
    assert sum(delivered) == attempts >= total
    if gateway_url.startswith("postgresql"):
        assert sum(1 for n in delivered if n) >= 2, delivered  # the work was shared
    else:
        assert sum(1 for n in delivered if n) == 1, delivered  # SQLite: one process, the lease holder
    # Each record's create and three renames arrived in order: the last rename is what the sector holds.
    assert asyncio.run(_names(sector_url)) == expected


def test_a_claim_held_by_another_dispatcher_is_left_to_it(
    urls: tuple[str, str], make_settings: Callable[..., Settings]
) -> None:
    gateway_url, sector_url = urls
    settings = make_settings(
        database_url=gateway_url, connectors={"population": {"config": {"url": sector_url, "writes": {}}}}
    )

    async def run() -> tuple[int, int]:
        engine = create_engine(gateway_url)
        sessionmaker = create_sessionmaker(engine)
        registry = ConnectorRegistry.from_settings(settings)
        first, second = (Dispatcher(settings=settings, sessionmaker=sessionmaker, registry=registry) for _ in range(2))
        try:
            await _backlog(settings, sessionmaker)
            claimed = await first.claim()  # claimed and not yet recorded: it is first's
            again = await second.claim()  # the records' first operations are held: nothing for second
            assert all(op.claimed_until and op.claimed_until > utcnow() for op in claimed)
            return len(claimed), len(again)
        finally:
            await engine.dispose()

    claimed, again = asyncio.run(run())
    assert claimed == RECORDS and again == 0


def test_a_round_whose_claim_lapsed_does_not_record_what_another_round_took_over(
    urls: tuple[str, str], make_settings: Callable[..., Settings]
) -> None:
    """A slow round (its claim lapsed after delivering) checks which operations are still its own, then records
    them; another round takes the lapsed operations over and delivers them again (the sector's ledger makes that
    a duplicate). Whatever the timing between the two, each operation gets one change in the feed: here the slow
    round is held just after its check while the other round, in another thread with its own engine, claims,
    delivers and records."""
    gateway_url, sector_url = urls
    settings = make_settings(
        database_url=gateway_url,
        connectors={"population": {"config": {"url": sector_url, "writes": {}}}},
        exchange_claim_seconds=1,
    )
    checked = threading.Event()
    other_outcome: list[int] = []

    def other_round() -> None:
        async def run() -> int:
            engine = create_engine(gateway_url)
            registry = ConnectorRegistry.from_settings(settings)
            await registry.start()
            try:
                dispatcher = Dispatcher(settings=settings, sessionmaker=create_sessionmaker(engine), registry=registry)
                return await dispatcher.run_once()
            finally:
                await registry.close()
                await engine.dispose()

        assert checked.wait(timeout=30)
        other_outcome.append(asyncio.run(run()))

    async def run() -> tuple[int, list[tuple[int, int]]]:
        engine = create_engine(gateway_url)
        sessionmaker = create_sessionmaker(engine)
        registry = ConnectorRegistry.from_settings(settings)
        slow = Dispatcher(settings=settings, sessionmaker=sessionmaker, registry=registry)
        armed = False

        def hold_after_first_statement(*_: Any) -> None:
            nonlocal armed
            if armed:
                armed = False
                checked.set()
                time.sleep(1.5)  # the other round runs meanwhile (or waits for this round's locks)

        try:
            await _backlog(settings, sessionmaker)
            await registry.start()
            claimed = await slow.claim()
            deliveries = await slow._deliver([op for op in claimed if op.receipt_id == claimed[0].receipt_id])
            await asyncio.sleep(1.2)  # the claim lapses
            other = threading.Thread(target=other_round)
            other.start()
            sa.event.listen(engine.sync_engine, "after_cursor_execute", hold_after_first_statement)
            armed = True
            await slow.record(deliveries)
            sa.event.remove(engine.sync_engine, "after_cursor_execute", hold_after_first_statement)
            await asyncio.to_thread(other.join, 60)
            async with engine.connect() as conn:
                changes = (
                    await conn.execute(
                        sa.text("SELECT operation_id, count(*) FROM exchange_changes GROUP BY operation_id")
                    )
                ).all()
            return len(deliveries), [(int(op_id), int(n)) for op_id, n in changes]
        finally:
            await registry.close()
            await engine.dispose()

    delivered, changes = asyncio.run(run())
    assert delivered == RECORDS and other_outcome  # the other round ran
    assert len(changes) == RECORDS  # each operation's one change: recorded by one round or the other
    assert all(count == 1 for _, count in changes), [c for c in changes if c[1] > 1][:5]
