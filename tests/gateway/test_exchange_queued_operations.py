"""What a narrow writer leaves queued neither holds back the other clients' operations nor tells it what it may not
read. A writer granted one field of one database, which queues many updates of a single record (delivered one at a
time, in order), cannot fill the dispatcher's claim window so that the other records wait for every one of them; a
delivery that fails on a connector's error is retried, and the receipt names the error's class, never its text
(which may quote values). A real gateway (uvicorn on 127.0.0.1) accepts the submissions without dispatching them; a
dispatcher with a small claim window then delivers them, on SQLite or PostgreSQL (GATEWAY_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import httpx
from exchange_fixtures import (
    live_exchange_gateway,
    make_exchange_client,
    operation,
    sector_row,
    seeded_row,
)
from sqlmodel import col, select
from support import STATED, fetch_token

from connectors.base import SubmitOperation, SubmitResult
from connectors.errors import ConnectorError
from gateway.core.db import create_engine, create_sessionmaker, standalone_session
from gateway.core.settings import Settings
from gateway.exchange.dispatcher import SCAN_FACTOR, Dispatcher
from gateway.exchange.models import ExchangeOperation
from gateway.records.registry import ConnectorRegistry

RECORDS = "/v1/databases/population/records"
#: Operations a dispatcher round claims: its window holds SCAN_FACTOR times as many.
BATCH = 3
MARITAL = ["single", "married", "divorced", "widowed"]
#: The sector table's code of each marital status.
MARITAL_CODE = {"single": 1, "married": 2, "divorced": 3, "widowed": 4}


databases, settings, http, admin = live_exchange_gateway(
    "exqu",
    citizens=10,
    seed=43,
    exchange_dispatch=False,  # the test's dispatcher delivers
    exchange_dispatch_batch=BATCH,
)


def _writer(http: httpx.Client, url: str, fields: list[str] | None) -> dict[str, str]:
    """A new client granted ``submit`` on ``fields`` of the population database: its request headers."""

    admin = {"Authorization": f"Bearer {fetch_token(http, make_exchange_client(url, 'admin'))}"}
    credentials = make_exchange_client(url)
    grant = {"client_id": credentials.client_id, "database": "population", "operations": ["submit"], "fields": fields}
    assert http.post("/v1/admin/grants", json=grant, headers=admin).status_code == 201
    return {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}


def _submit(http: httpx.Client, headers: dict[str, str], operations: list[dict[str, object]]) -> list[int]:
    response = http.post(
        RECORDS, json={"operations": operations}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 202, response.text
    assert response.json()["rejected"] == []
    return [entry["operation_id"] for entry in response.json()["accepted"]]


def _states(url: str, ids: list[int]) -> list[str]:
    async def run() -> list[str]:
        async with standalone_session(url) as session:
            query = select(ExchangeOperation).where(col(ExchangeOperation.id).in_(ids))
            by_id = {op.id: op.state for op in (await session.exec(query)).all()}
            return [by_id[op_id] for op_id in ids]

    return asyncio.run(run())


def test_one_records_long_queue_does_not_hold_back_the_other_records(
    http: httpx.Client, settings: Settings, databases: tuple[str, str]
) -> None:
    flooded, other = seeded_row(databases[1], 0)["so_dinh_danh"], seeded_row(databases[1], 1)["so_dinh_danh"]
    narrow, full = _writer(http, databases[0], ["marital_status"]), _writer(http, databases[0], None)
    # More updates of one record than the claim window holds.
    values = [MARITAL[i % len(MARITAL)] for i in range(BATCH * SCAN_FACTOR * 2 + 1)]
    flood = _submit(http, narrow, [operation("update", flooded, {"marital_status": value}) for value in values])

    async def run() -> tuple[list[int], list[int], int]:
        engine = create_engine(settings.database_url)
        registry = ConnectorRegistry.from_settings(settings)
        await registry.start()
        try:
            dispatcher = Dispatcher(settings=settings, sessionmaker=create_sessionmaker(engine), registry=registry)
            # A round claims the flooded record's first update, and is slow delivering it (as it would be waiting
            # on the sector system, or the update waiting for its retry): the record's later updates wait.
            first = await dispatcher.claim()
            # Meanwhile another client updates another record: the next round takes it.
            (waiting,) = _submit(http, full, [operation("update", other, {"full_name": "Lê Văn An"})])
            second = await dispatcher.claim()
            for claimed in (first, second):
                for receipt in dict.fromkeys(op.receipt_id for op in claimed):
                    batch = [op for op in claimed if op.receipt_id == receipt]
                    await dispatcher.record(await dispatcher._deliver(batch))
            while await dispatcher.run_once():
                pass
            return [op.id for op in first], [op.id for op in second], waiting
        finally:
            await registry.close()
            await engine.dispose()

    first, second, waiting = asyncio.run(run())
    assert first == [flood[0]]
    assert second == [waiting]
    # The flooded record's updates were all delivered, one at a time and in order: the last one holds.
    assert _states(databases[0], [*flood, waiting]) == ["delivered"] * (len(flood) + 1)
    row = sector_row(databases[1], flooded)
    assert row is not None and row["tinh_trang_hon_nhan"] == MARITAL_CODE[values[-1]]
    assert sector_row(databases[1], other)["ho_ten"] == "Lê Văn An"  # type: ignore[index]


def test_a_connectors_error_text_does_not_reach_the_receipt(
    http: httpx.Client, settings: Settings, databases: tuple[str, str]
) -> None:
    record = seeded_row(databases[1], 2)
    secret = f"{record['ho_ten']} {record['ngay_sinh']}"  # what a careless connector's error could quote
    headers = _writer(http, databases[0], ["marital_status"])
    response = http.post(
        RECORDS,
        json={"operations": [operation("update", record["so_dinh_danh"], {"marital_status": "widowed"})]},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 202, response.text

    async def failing(operations: Sequence[SubmitOperation]) -> list[SubmitResult | ConnectorError]:
        raise RuntimeError(f"row conflicts with {secret}")

    async def run() -> None:
        engine = create_engine(settings.database_url)
        registry = ConnectorRegistry.from_settings(settings)
        await registry.start()
        try:
            registry.databases["population"].connector.submit_many = failing  # type: ignore[method-assign]
            dispatcher = Dispatcher(settings=settings, sessionmaker=create_sessionmaker(engine), registry=registry)
            await dispatcher.run_once()
        finally:
            await registry.close()
            await engine.dispose()

    asyncio.run(run())
    receipt = http.get(response.headers["Location"], headers=headers)
    assert receipt.status_code == 200, receipt.text
    (entry,) = receipt.json()["accepted"]
    assert entry["state"] == "pending" and entry["attempts"] == 1, entry
    assert entry["last_error"] == "the connector failed (RuntimeError)"
    assert str(record["ho_ten"]) not in receipt.text and "conflicts" not in receipt.text
