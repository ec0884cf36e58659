"""Submitted values are kept only as long as delivery and the retention settings need: a delivered operation's
field values are erased after ``exchange_payload_retention_seconds``, a dead letter's after
``exchange_dead_payload_retention_seconds``, by the periodic job of the gateway; the operation's ids, metadata
and outcome stay for the receipt and the feed, and an erased operation is never retried or replayed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support import STATED, ClientCredentials, LiveServer, empty_databases, fetch_token

from contracts.population import Citizen
from gateway.core import metrics, migrations
from gateway.core.db import standalone_session, utcnow
from gateway.core.settings import Settings
from gateway.exchange import manage
from gateway.exchange.models import ExchangeOperation
from gateway.exchange.retention import erase_expired_payloads
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.population import seed_population

RECORDS = "/v1/databases/population/records"
CHANGES = "/v1/databases/population/changes"
EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with empty_databases(tmp_path_factory.mktemp("retention"), "rtgateway", "rtpopulation") as (gateway, population):
        migrations.upgrade(gateway)
        asyncio.run(seed_population(population, count=20, seed=3))
        yield gateway, population


# -- the erasing itself -----------------------------------------------------------------------------------------


def _operation(n: int, state: str, *, accepted: datetime, delivered: datetime | None = None) -> ExchangeOperation:
    return ExchangeOperation(
        receipt_id=str(uuid.uuid4()),
        position=0,
        database_id="population",
        record_id=f"068185{n:06d}",
        kind="update",
        fields={"full_name": "Nguyễn Thị Mai", "marital_status": "married"},
        meta={"changed_at": "2026-11-20T08:00:00+07:00", "source_reference": f"KS-{n}"},
        state=state,
        attempts=1,
        next_attempt_at=accepted,
        accepted_at=accepted,
        delivered_at=delivered,
        outcome="delivered" if state == "delivered" else None,
        last_error="refused" if state == "dead" else None,
    )


async def _store(url: str, operations: list[ExchangeOperation]) -> list[int]:
    async with standalone_session(url) as session:
        session.add_all(operations)
        await session.commit()
        return [op.id for op in operations if op.id is not None]


async def _load(url: str, ids: list[int]) -> dict[int, ExchangeOperation]:
    async with standalone_session(url) as session:
        rows = (await session.exec(sa.select(ExchangeOperation).where(ExchangeOperation.id.in_(ids)))).scalars()  # type: ignore[call-overload,union-attr]
        return {row.id: row for row in rows}


def test_expired_values_are_erased_and_the_rest_is_kept(databases: tuple[str, str]) -> None:
    url = databases[0]
    now = utcnow()
    settings = Settings(
        database_url=url
    )  # the defaults: 7 days after delivery, 30 days after a dead letter's acceptance
    assert settings.exchange_payload_retention_seconds == 7 * 86400
    assert settings.exchange_dead_payload_retention_seconds == 30 * 86400
    plan: dict[str, ExchangeOperation] = {
        "delivered long ago": _operation(1, "delivered", accepted=now - 9 * DAY, delivered=now - 8 * DAY),
        "delivered lately": _operation(2, "delivered", accepted=now - 9 * DAY, delivered=now - 6 * DAY),
        "dead long ago": _operation(3, "dead", accepted=now - 31 * DAY),
        "dead lately": _operation(4, "dead", accepted=now - 20 * DAY),
        "pending, old": _operation(5, "pending", accepted=now - 40 * DAY),
        "delivering, old": _operation(6, "delivering", accepted=now - 40 * DAY),
    }
    ids = dict(zip(plan, asyncio.run(_store(url, list(plan.values()))), strict=True))

    async def erase() -> Any:
        async with standalone_session(url) as session:
            return await erase_expired_payloads(
                session,
                delivered_before=now - timedelta(seconds=settings.exchange_payload_retention_seconds),
                dead_accepted_before=now - timedelta(seconds=settings.exchange_dead_payload_retention_seconds),
                batch=1,  # several batches
            )

    assert asyncio.run(erase()) == {"population": 2}
    rows = asyncio.run(_load(url, list(ids.values())))
    erased = {name for name, op_id in ids.items() if rows[op_id].payload_erased_at is not None}
    assert erased == {"delivered long ago", "dead long ago"}
    for name, op_id in ids.items():
        row = rows[op_id]
        if name in erased:
            assert row.fields == {}
        else:
            assert row.fields == {"full_name": "Nguyễn Thị Mai", "marital_status": "married"}, name
        # What the receipt, the feed and the operators need stays.
        assert row.meta["source_reference"] == plan[name].meta["source_reference"]
        assert (row.state, row.outcome, row.record_id, row.attempts) == (
            plan[name].state,
            plan[name].outcome,
            plan[name].record_id,
            1,
        )
    assert asyncio.run(erase()) == {}  # nothing twice

    # An erased dead letter cannot be retried, an erased delivered operation cannot be replayed.
    async def operate() -> tuple[int, int]:
        async with standalone_session(url) as session:
            retried = await manage.retry(session, ids=[ids["dead long ago"], ids["dead lately"]])
            replayed = await manage.replay(session, "population", since=now - 10 * DAY)
        return retried, replayed

    assert asyncio.run(operate()) == (1, 1)
    rows = asyncio.run(_load(url, list(ids.values())))
    assert rows[ids["dead long ago"]].state == "dead"
    assert rows[ids["dead lately"]].state == "pending"
    assert rows[ids["delivered long ago"]].state == "delivered"
    assert rows[ids["delivered lately"]].state == "pending"
    # Out of the way of the next test's dispatcher.
    asyncio.run(_delete(url, list(ids.values())))


async def _delete(url: str, ids: list[int]) -> None:
    async with standalone_session(url) as session:
        await session.exec(sa.delete(ExchangeOperation).where(ExchangeOperation.id.in_(ids)))  # type: ignore[call-overload,attr-defined]
        await session.commit()


# -- the periodic job in a running gateway ----------------------------------------------------------------------


def _writer(url: str) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            made, secret = await create_client(
                session, name="Retention test", scopes=("population:read", "population:submit"), client_id="rt-writer"
            )
            return ClientCredentials(made.client_id, secret)

    return asyncio.run(run())


def _erased_total() -> float:
    return metrics.EXCHANGE_PAYLOADS_ERASED.labels("population")._value.get()


def test_a_running_gateway_erases_delivered_values_after_their_retention(
    databases: tuple[str, str], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    gateway_url, population_url = databases
    settings = make_settings(
        database_url=gateway_url,
        connectors={"population": {"config": {"url": population_url, "writes": {}}}},
        exchange_poll_seconds=0.05,
        exchange_payload_retention_seconds=2,
        exchange_retention_interval_seconds=1,
        axis_lease_seconds=1,
    )
    credentials = _writer(gateway_url)
    record = "068185900777"
    fields = {**EXAMPLE, "household_id": "HK068000123", "old_id_number": "990077700"}
    fields.pop("personal_id")
    operation = {
        "op": "create",
        "record_id": record,
        "fields": fields,
        "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"},
    }
    before = _erased_total()
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}
        submitted = http.post(RECORDS, json={"operations": [operation]}, headers={**headers, "Idempotency-Key": "rt-1"})
        assert submitted.status_code == 202, submitted.text
        receipt_id = submitted.json()["receipt_id"]
        operation_id = submitted.json()["accepted"][0]["operation_id"]
        deadline = time.monotonic() + 30
        while (entry := http.get(f"/v1/receipts/{receipt_id}", headers=headers).json()["accepted"][0])["state"] != (
            "delivered"
        ):
            assert time.monotonic() < deadline, entry
            time.sleep(0.05)
        delivered = time.monotonic()
        # Kept while its retention lasts...
        assert asyncio.run(_load(gateway_url, [operation_id]))[operation_id].fields["full_name"] == fields["full_name"]
        assert entry["fields_erased_at"] is None
        # ... erased by the gateway's own job once it has ended.
        while (entry := http.get(f"/v1/receipts/{receipt_id}", headers=headers).json()["accepted"][0])[
            "fields_erased_at"
        ] is None:
            assert time.monotonic() < deadline, entry
            time.sleep(0.1)
        assert time.monotonic() - delivered >= 1.5
        assert entry["state"] == "delivered" and entry["outcome"] == "delivered"
        row = asyncio.run(_load(gateway_url, [operation_id]))[operation_id]
        assert row.fields == {}
        assert row.meta["changed_at"] == "2026-11-20T08:00:00+07:00"
        # The change feed still tells what changed (field names, never values).
        changes = http.get(CHANGES, headers=headers).json()["changes"]
        mine = [change for change in changes if change["record_id"] == record]
        assert mine and "full_name" in mine[0]["changed_fields"]
        # A repeated submission still gets its receipt.
        again = http.post(RECORDS, json={"operations": [operation]}, headers={**headers, "Idempotency-Key": "rt-1"})
        assert again.status_code == 202 and again.json()["receipt_id"] == receipt_id
    assert _erased_total() >= before + 1
