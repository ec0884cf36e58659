"""An operation whose outcome the gateway's database cannot store does not hold the exchange back: it ends as a dead
letter with the reason, in its first round; the other operations of that round (another client's too) are recorded
and reach the change feed; the later operations of its record follow; no round fails and nothing comes back.

No client can submit such an operation any more: a ``changed_at`` the database cannot store is refused at intake
(422, ``test_exchange_input.py``). The fault is therefore injected at the storage boundary, and only there: an
operation accepted through the API has its stored ``changed_at`` rewritten in the gateway's database to one a gateway
without that check stored (``0001-01-01T00:00:00+14:00``, whose time in UTC precedes the year 1), as an upgraded
gateway finds it in its queue. Everything else is real: a gateway (in process, not dispatching) takes the
submissions and answers the receipts and the feed, and the exchange's own dispatcher delivers to the simulated
population database through the SQL connector, on SQLite or PostgreSQL (GATEWAY_TEST_DATABASE_URL). Its rounds are
run one at a time, so that the planted operation and the others are claimed in the same round."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support import STATED, ClientCredentials, InProcessGateway, empty_databases, fetch_token

from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker, standalone_session
from gateway.core.settings import Settings
from gateway.exchange.dispatcher import Dispatcher
from gateway.exchange.models import ExchangeOperation
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.records.registry import ConnectorRegistry
from simulators.population import CITIZENS, seed_population

RECORDS = "/v1/databases/population/records"
CHANGES = "/v1/databases/population/changes"
BEFORE_THE_CHECK = "0001-01-01T00:00:00+14:00"


@pytest.fixture
def urls(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with empty_databases(tmp_path, "unrecgateway", "unrecsector") as (gateway_url, sector_url):
        migrations.upgrade(gateway_url)
        asyncio.run(seed_population(sector_url, count=20, seed=5))
        yield gateway_url, sector_url


@pytest.fixture
def settings(make_settings: Callable[..., Settings], urls: tuple[str, str]) -> Settings:
    return make_settings(
        database_url=urls[0],
        connectors={"population": {"config": {"url": urls[1], "writes": {}, "timeout_seconds": 5}}},
        exchange_dispatch=False,  # the rounds are run by the test
    )


def _writer(http: httpx.Client, url: str) -> dict[str, str]:
    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            made, secret = await create_client(
                session,
                name="Unrecordable test",
                scopes=("population:read", "population:submit"),
                client_id=f"un-{uuid.uuid4().hex[:10]}",
            )
            return ClientCredentials(made.client_id, secret)

    return {"Authorization": f"Bearer {fetch_token(http, asyncio.run(run()))}", **STATED}


def _update(http: httpx.Client, headers: dict[str, str], record: str, fields: dict[str, Any]) -> str:
    body = {"op": "update", "record_id": record, "fields": fields, "metadata": {"changed_at": "2026-11-20T08:00:00Z"}}
    response = http.post(RECORDS, json={"operations": [body]}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 202, response.text
    return str(response.json()["receipt_id"])


def _plant(url: str, receipt_id: str) -> None:
    """The fault, at the storage boundary: the operation's stored changed_at becomes one no client can submit
    now."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            table = ExchangeOperation.__table__  # type: ignore[attr-defined]
            async with engine.begin() as conn:
                op_id, meta = (
                    await conn.execute(
                        sa.select(table.c.id, table.c["metadata"]).where(table.c.receipt_id == receipt_id)
                    )
                ).one()
                await conn.execute(
                    sa.update(table)
                    .where(table.c.id == op_id)
                    .values(metadata={**meta, "changed_at": BEFORE_THE_CHECK})
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def _rounds(settings: Settings, count: int) -> list[int]:
    """Run ``count`` dispatcher rounds, one after the other; how many operations each claimed."""

    async def run() -> list[int]:
        engine = create_engine(settings.database_url)
        registry = ConnectorRegistry.from_settings(settings)
        await registry.start()
        try:
            dispatcher = Dispatcher(settings=settings, sessionmaker=create_sessionmaker(engine), registry=registry)
            return [await dispatcher.run_once() for _ in range(count)]
        finally:
            await registry.close()
            await engine.dispose()

    return asyncio.run(run())


def _entry(http: httpx.Client, headers: dict[str, str], receipt_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = http.get(f"/v1/receipts/{receipt_id}", headers=headers).json()["accepted"][0]
    return entry


def _citizens(url: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(sa.select(CITIZENS).order_by(CITIZENS.c.so_dinh_danh))).all()
                return [dict(row._mapping) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_an_operation_that_cannot_be_recorded_is_dead_lettered_alone(settings: Settings, urls: tuple[str, str]) -> None:
    gateway_url, sector_url = urls
    seeded = _citizens(sector_url)
    planted_record, other_record, alone_record = (seeded[i]["so_dinh_danh"] for i in (0, 1, 2))
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as http:
        first, second = _writer(http, gateway_url), _writer(http, gateway_url)
        planted = _update(http, first, planted_record, {"marital_status": "divorced"})
        other = _update(http, second, other_record, {"full_name": "Trần Văn Bình"})
        later = _update(http, second, planted_record, {"full_name": "Lê Thị Hoa"})  # waits for the planted one
        _plant(gateway_url, planted)

        # One round claims the planted operation and the other client's (the later one waits for its record).
        assert _rounds(settings, 1) == [2]
        dead = _entry(http, first, planted)
        assert dead["state"] == "dead" and dead["attempts"] == 1, dead
        assert "not recorded in the change feed" in dead["last_error"]
        assert _entry(http, second, other)["state"] == "delivered"

        # The next round delivers the later operation of the planted record; then nothing is left to claim: the
        # dead letter does not come back.
        assert _rounds(settings, 2) == [1, 0]
        assert _entry(http, second, later)["state"] == "delivered"
        time.sleep(0.2)
        assert _rounds(settings, 1) == [0]
        assert _entry(http, first, planted)["attempts"] == 1

        changes = http.get(CHANGES, headers=second, params={"limit": 100}).json()["changes"]
        assert [(c["record_id"], c["changed_fields"]) for c in changes] == [
            (other_record, ["full_name"]),
            (planted_record, ["full_name"]),
        ]
        citizens = {row["so_dinh_danh"]: row for row in _citizens(sector_url)}
        assert citizens[other_record]["ho_ten"] == "Trần Văn Bình"
        assert citizens[planted_record]["ho_ten"] == "Lê Thị Hoa"

        # Alone in its round, such an operation is dead-lettered just the same.
        lone = _update(http, first, alone_record, {"marital_status": "widowed"})
        _plant(gateway_url, lone)
        assert _rounds(settings, 2) == [1, 0]
        assert _entry(http, first, lone)["state"] == "dead"
