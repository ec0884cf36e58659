"""Submitting records through the gateway: intake, idempotency, delivery in order to the sector database, the
receipt, the change feed, retries and dead letters. The gateway and the sector database are real (SQLite, or
PostgreSQL under GATEWAY_TEST_DATABASE_URL); the gateway is served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from support import STATED, ClientCredentials, LiveServer, empty_databases, fetch_token

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.problems import ValidationFailed
from gateway.core.settings import Settings
from gateway.exchange import manage
from gateway.exchange.models import WebhookSubscription
from gateway.exchange.webhooks import RefusedDestination, parse_webhook_url, resolve_destination
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.population import CITIZENS, seed_population

RECORDS = "/v1/databases/population/records"
CHANGES = "/v1/databases/population/changes"
EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The gateway's database, migrated, and a population database of 300 citizens, for this module."""
    with empty_databases(tmp_path_factory.mktemp("exchange"), "exgateway", "expopulation") as (gateway, population):
        migrations.upgrade(gateway)
        asyncio.run(seed_population(population, count=300, seed=11))
        yield gateway, population


@pytest.fixture(scope="module")
def gateway_url(databases: tuple[str, str]) -> str:
    return databases[0]


@pytest.fixture(scope="module")
def population_url(databases: tuple[str, str]) -> str:
    return databases[1]


@pytest.fixture(scope="module")
def exchange_settings(make_settings: Callable[..., Settings], gateway_url: str, population_url: str) -> Settings:
    return make_settings(
        database_url=gateway_url,
        data_key=None,  # the data key file of the data directory: the data key rotates in these tests
        connectors={"population": {"config": {"url": population_url, "writes": {}, "timeout_seconds": 0.5}}},
        exchange_backoff_seconds=0.05,
        exchange_backoff_max_seconds=0.2,
        exchange_poll_seconds=0.05,
        exchange_max_attempts=4,
        # The receivers of these tests run on 127.0.0.1: allowed explicitly, as an operator would. ::1 is not.
        webhook_allowed_networks=["127.0.0.0/8"],
        webhook_max_subscriptions=10,
    )


@pytest.fixture(scope="module")
def live(exchange_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(create_app(exchange_settings)) as server:
        yield server


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


def _make_client(url: str, *scopes: str) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            made, secret = await create_client(
                session, name="Exchange test", scopes=scopes, client_id=f"ex-{uuid.uuid4().hex[:10]}"
            )
            return ClientCredentials(made.client_id, secret)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def writer(client: httpx.Client, gateway_url: str) -> dict[str, str]:
    credentials = _make_client(gateway_url, "population:read", "population:submit")
    return {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}


def _new_id(seed: int) -> str:
    """A personal id (province 068, female born 1985) not among the seeded citizens."""
    return f"068185{900000 + seed:06d}"


def _citizen(personal_id: str, **changes: Any) -> dict[str, Any]:
    # A unique old identity card number: the sector table has a unique index on it.
    fields = {**EXAMPLE, "household_id": "HK068000123", "old_id_number": f"9{personal_id[-8:]}", **changes}
    fields.pop("personal_id")
    return fields


def _op(op: str, record_id: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"op": op, "record_id": record_id, "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"}}
    if fields is not None:
        body["fields"] = fields
    return body


def _submit(
    client: httpx.Client, headers: dict[str, str], operations: list[Any], key: str | None = None
) -> httpx.Response:
    return client.post(
        RECORDS,
        json={"operations": operations},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def _wait_delivered(
    client: httpx.Client, headers: dict[str, str], receipt_id: str, timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/receipts/{receipt_id}", headers=headers).json()
        states = {entry["state"] for entry in body["accepted"]}
        if states <= {"delivered", "dead"} or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def _sector_row(url: str, personal_id: str) -> dict[str, Any] | None:
    async def run() -> dict[str, Any] | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(sa.select(CITIZENS).where(CITIZENS.c.so_dinh_danh == personal_id))).first()
                return None if row is None else dict(row._mapping)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_create_update_delete_are_delivered_in_order(
    client: httpx.Client, writer: dict[str, str], population_url: str
) -> None:
    born, moved = _new_id(1), _new_id(2)
    operations = [
        _op("create", born, _citizen(born)),
        _op("create", moved, _citizen(moved)),
        _op("update", moved, {"marital_status": "widowed", "full_name": "Nguyễn Thị Hoa"}),
        _op("delete", moved),
    ]
    response = _submit(client, writer, operations)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert response.headers["location"] == f"/v1/receipts/{receipt['receipt_id']}"
    assert [e["index"] for e in receipt["accepted"]] == [0, 1, 2, 3] and receipt["rejected"] == []
    final = _wait_delivered(client, writer, receipt["receipt_id"])
    assert [e["state"] for e in final["accepted"]] == ["delivered"] * 4, final["accepted"]
    row = _sector_row(population_url, born)
    assert row is not None and row["ho_ten"] == "Nguyễn Thị Mai" and row["gioi_tinh"] == 2
    assert _sector_row(population_url, moved) is None
    read = client.get(f"{RECORDS}/{born}", headers=writer)
    assert read.status_code == 200 and read.json()["household_id"] == "HK068000123"


def test_a_repeated_key_returns_the_first_receipt_and_changes_nothing(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    record = _new_id(3)
    operations = [_op("create", record, _citizen(record))]
    first = _submit(client, writer, operations, key="repeat-1")
    again = _submit(client, writer, operations, key="repeat-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = _submit(client, writer, [_op("delete", record)], key="repeat-1")
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"

    async def count() -> int:
        async with standalone_session(gateway_url) as session:
            found = await session.exec(
                sa.select(sa.func.count())
                .where(sa.text(f"record_id = '{record}'"))
                .select_from(sa.table("exchange_operations"))
            )  # type: ignore[call-overload]
            return int(found.scalar_one())

    assert asyncio.run(count()) == 1


def test_invalid_operations_are_rejected_one_by_one(client: httpx.Client, writer: dict[str, str]) -> None:
    good = _new_id(4)
    operations = [
        _op("create", good, _citizen(good)),
        _op("create", _new_id(5), _citizen(_new_id(5), gender="male")),  # digit 4 of the id says female
        _op("update", good, {"no_such_field": 1}),
        _op("frobnicate", good),
        _op("update", "12ab", {"marital_status": "married"}),
        _op("delete", good, {"full_name": "x"}),
        {"op": "update", "record_id": good, "fields": {"marital_status": "married"}},  # no metadata
    ]
    response = _submit(client, writer, operations)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert [e["index"] for e in receipt["accepted"]] == [0]
    rejected = {e["index"]: e["problem"] for e in receipt["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6]
    assert all(p["type"] == "/problems/validation-error" and p["status"] == 422 for p in rejected.values())
    assert "no_such_field" in rejected[2]["detail"]
    assert receipt["rejected"][0]["record_id"] == _new_id(5)


def test_a_submission_with_nothing_valid_stores_nothing(client: httpx.Client, writer: dict[str, str]) -> None:
    response = _submit(client, writer, [_op("update", _new_id(6), {"gender": "neither"})], key="nothing-valid")
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/submission-rejected" and body["rejected"][0]["index"] == 0
    again = _submit(client, writer, [_op("delete", _new_id(6))], key="nothing-valid")
    assert again.status_code == 202  # the key was not used up by the refused submission


def test_the_idempotency_key_and_the_submit_scope_are_required(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    response = client.post(RECORDS, json={"operations": [_op("delete", _new_id(7))]}, headers=writer)
    assert response.status_code == 400 and response.json()["header"] == "Idempotency-Key"
    reader = _make_client(gateway_url, "population:read")
    headers = {"Authorization": f"Bearer {fetch_token(client, reader)}", **STATED}
    refused = _submit(client, headers, [_op("delete", _new_id(7))])
    assert refused.status_code == 403
    assert (
        client.post(RECORDS, json={"operations": []}, headers={**writer, "Idempotency-Key": "empty"}).status_code == 422
    )


def test_the_change_feed_lists_applied_operations_in_order(client: httpx.Client, writer: dict[str, str]) -> None:
    start, more = "", True
    while more:
        page = client.get(CHANGES, headers=writer, params={"after": start, "limit": 100}).json()
        start, more = page["next_cursor"], page["more"]
    record = _new_id(8)
    receipts = []
    for status in ("married", "divorced", "widowed"):
        fields = {"marital_status": status}
        operations = [_op("create", record, _citizen(record))] if not receipts else [_op("update", record, fields)]
        receipts.append(_submit(client, writer, operations).json()["receipt_id"])
    for receipt_id in receipts:
        _wait_delivered(client, writer, receipt_id)
    page = client.get(CHANGES, headers=writer, params={"after": start, "limit": 2}).json()
    assert [c["op"] for c in page["changes"]] == ["create", "update"] and page["more"] is True
    rest = client.get(CHANGES, headers=writer, params={"after": page["next_cursor"]}).json()
    assert [c["op"] for c in rest["changes"]] == ["update"] and rest["more"] is False
    assert rest["changes"][0]["changed_fields"] == ["marital_status"] and rest["changes"][0]["record_id"] == record
    assert int(rest["next_cursor"]) == int(start) + 3
    assert client.get(f"{RECORDS}/{record}", headers=writer).json()["marital_status"] == "widowed"
    assert client.get(CHANGES, headers=writer, params={"after": "abc"}).status_code == 400


def test_updates_of_one_record_apply_in_acceptance_order(
    client: httpx.Client, writer: dict[str, str], population_url: str
) -> None:
    record = _new_id(9)
    _wait_delivered(
        client, writer, _submit(client, writer, [_op("create", record, _citizen(record))]).json()["receipt_id"]
    )
    names = [f"Nguyễn Thị Lần {chr(0x41 + i)}" for i in range(12)]
    receipts = [
        _submit(client, writer, [_op("update", record, {"full_name": name})]).json()["receipt_id"] for name in names
    ]
    for receipt_id in receipts:
        assert _wait_delivered(client, writer, receipt_id)["accepted"][0]["state"] == "delivered"
    row = _sector_row(population_url, record)
    assert row is not None and row["ho_ten"] == names[-1]


def test_a_refused_operation_is_dead_lettered_and_can_be_retried(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    missing = _new_id(10)
    receipt = _submit(client, writer, [_op("update", missing, {"marital_status": "married"})]).json()
    final = _wait_delivered(client, writer, receipt["receipt_id"])
    entry = final["accepted"][0]
    assert entry["state"] == "dead" and entry["attempts"] == 1 and "no record" in entry["last_error"]

    async def retry() -> int:
        async with standalone_session(gateway_url) as session:
            dead = await manage.dead_letters(session, "population")
            assert entry["operation_id"] in [op.id for op in dead]
            return await manage.retry(session, ids=[entry["operation_id"]])

    # Create the record meanwhile, then retry: the update now applies.
    created = _submit(client, writer, [_op("create", missing, _citizen(missing))]).json()
    _wait_delivered(client, writer, created["receipt_id"])
    assert asyncio.run(retry()) == 1
    again = _wait_delivered(client, writer, receipt["receipt_id"])
    assert again["accepted"][0]["state"] == "delivered"
    assert client.get(f"{RECORDS}/{missing}", headers=writer).json()["marital_status"] == "married"


def test_a_locked_sector_database_is_retried_until_it_frees(
    client: httpx.Client, writer: dict[str, str], population_url: str
) -> None:
    record = _new_id(11)
    with _locked(population_url):
        receipt = _submit(client, writer, [_op("create", record, _citizen(record))]).json()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            entry = client.get(f"/v1/receipts/{receipt['receipt_id']}", headers=writer).json()["accepted"][0]
            if entry["attempts"] >= 2:
                break
            time.sleep(0.05)
        assert entry["state"] in ("pending", "delivering") and entry["attempts"] >= 2, entry
        assert entry["last_error"]
    final = _wait_delivered(client, writer, receipt["receipt_id"])
    assert final["accepted"][0]["state"] == "delivered"
    assert _sector_row(population_url, record) is not None


class _locked:
    """Hold a write lock on the sector table from another connection (SQLite: an exclusive transaction;
    PostgreSQL: LOCK TABLE)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._release: Callable[[], None] = lambda: None

    def __enter__(self) -> None:
        if self.url.startswith("postgresql"):
            loop = asyncio.new_event_loop()
            dsn = self.url.replace("postgresql+asyncpg", "postgresql")
            conn = loop.run_until_complete(asyncpg.connect(dsn))
            transaction = conn.transaction()
            loop.run_until_complete(transaction.start())
            loop.run_until_complete(conn.execute("LOCK TABLE cong_dan IN ACCESS EXCLUSIVE MODE"))

            def release() -> None:
                loop.run_until_complete(transaction.rollback())
                loop.run_until_complete(conn.close())
                loop.close()

            self._release = release
        else:
            import sqlite3

            holder = sqlite3.connect(self.url.split(":///", 1)[1], isolation_level=None, timeout=0.1)
            holder.execute("BEGIN EXCLUSIVE")

            def release_sqlite() -> None:
                holder.execute("ROLLBACK")
                holder.close()

            self._release = release_sqlite

    def __exit__(self, *exc: object) -> None:
        self._release()


def test_metrics_show_the_exchange(client: httpx.Client, writer: dict[str, str]) -> None:
    record = _new_id(14)
    _wait_delivered(
        client, writer, _submit(client, writer, [_op("create", record, _citizen(record))]).json()["receipt_id"]
    )
    text = client.get("/metrics").text
    assert 'gateway_exchange_operations_total{database="population",outcome="delivered"}' in text
    assert 'gateway_exchange_queue_depth{database="population",state="dead"}' in text
    assert 'gateway_exchange_oldest_pending_age_seconds{database="population"}' in text
    assert 'gateway_exchange_delivery_duration_seconds_count{database="population"}' in text
    # The records created through the exchange count in the database's data-quality scores.
    submitted = [
        line
        for line in text.splitlines()
        if line.startswith("gateway_data_quality_records{") and 'source="submitted"' in line
    ]
    assert submitted and any(float(line.rsplit(" ", 1)[1]) > 0 for line in submitted), submitted


def _cli(gateway_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_DATABASE_URL": gateway_url, "GATEWAY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "exchange", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_operators_list_retry_and_replay_from_the_command_line(
    client: httpx.Client, writer: dict[str, str], gateway_url: str, population_url: str, tmp_path: Path
) -> None:
    record = _new_id(12)
    dead = _submit(client, writer, [_op("delete", record)]).json()
    entry = _wait_delivered(client, writer, dead["receipt_id"])["accepted"][0]
    assert entry["state"] == "dead"
    listed = _cli(gateway_url, tmp_path, "dead-letters", "--database", "population", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = next(row for row in rows if row["operation_id"] == entry["operation_id"])
    assert mine["record_id"] == record and mine["op"] == "delete" and "no record" in mine["last_error"]
    assert "fields" not in mine
    assert _cli(gateway_url, tmp_path, "retry").returncode == 2  # neither ids nor a database: refused
    created = _submit(client, writer, [_op("create", record, _citizen(record))]).json()
    _wait_delivered(client, writer, created["receipt_id"])
    retried = _cli(gateway_url, tmp_path, "retry", str(entry["operation_id"]))
    assert retried.returncode == 0 and retried.stdout.startswith("1 operation"), retried.stderr
    assert _wait_delivered(client, writer, dead["receipt_id"])["accepted"][0]["state"] == "delivered"
    assert _sector_row(population_url, record) is None

    # The sector database loses the record (restored from a backup): replaying the create brings it back.
    replayed = _cli(gateway_url, tmp_path, "replay", "population", "--receipt", created["receipt_id"])
    assert replayed.returncode == 0 and replayed.stdout.startswith("1 operation"), replayed.stderr
    final = _wait_delivered(client, writer, created["receipt_id"])["accepted"][0]
    assert final["state"] == "delivered" and final["outcome"] == "delivered"  # a new key: applied again
    assert _sector_row(population_url, record) is not None


class Receiver:
    """A webhook subscriber on 127.0.0.1: records every post, answers 503 to the first ``fail_first``."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.posts: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.posts.append((headers, body))
        status = 503 if len(self.posts) <= self.fail_first else 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _webhook_deliveries(client: httpx.Client) -> dict[str, float]:
    """gateway_webhook_deliveries_total of population, by outcome, as /metrics shows it."""
    found = {"ok": 0.0, "error": 0.0}
    for line in client.get("/metrics").text.splitlines():
        for outcome in found:
            if line.startswith(f'gateway_webhook_deliveries_total{{database="population",outcome="{outcome}"}} '):
                found[outcome] = float(line.rsplit(" ", 1)[1])
    return found


def test_a_webhook_receives_every_change_in_order_signed_despite_failures(
    client: httpx.Client, writer: dict[str, str]
) -> None:
    receiver = Receiver(fail_first=2)
    before = _webhook_deliveries(client)
    with LiveServer(receiver) as hook:
        created = client.post(
            "/v1/databases/population/subscriptions", json={"url": f"{hook.url}/hooks/population"}, headers=writer
        )
        assert created.status_code == 201, created.text
        subscription = created.json()
        secret = subscription["secret"]
        assert len(secret) >= 32
        listed = client.get("/v1/databases/population/subscriptions", headers=writer).json()["subscriptions"]
        assert [s["id"] for s in listed if s["id"] == subscription["id"]] and "secret" not in listed[0]
        record = _new_id(13)
        receipts = [_submit(client, writer, [_op("create", record, _citizen(record))]).json()["receipt_id"]]
        receipts += [
            _submit(client, writer, [_op("update", record, {"marital_status": s})]).json()["receipt_id"]
            for s in ("divorced", "widowed", "married")
        ]
        for receipt_id in receipts:
            _wait_delivered(client, writer, receipt_id)
        deadline = time.monotonic() + 20
        changes: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            changes = [c for _, b in receiver.posts[2:] for c in json.loads(b)["changes"]]
            if len(changes) >= 4:
                break
            time.sleep(0.05)
        assert len(receiver.posts) >= 3, "the first two posts failed and were retried"
        assert [c["record_id"] for c in changes] == [record] * 4
        assert [c["op"] for c in changes] == ["create", "update", "update", "update"]
        cursors = [int(c["cursor"]) for c in changes]
        assert cursors == sorted(cursors) and len(set(cursors)) == 4
        for headers, body in receiver.posts:
            expected = hmac.new(
                secret.encode(), headers["x-axis-timestamp"].encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            assert headers["x-axis-signature"] == f"sha256={expected}"
            assert headers["x-axis-subscription"] == subscription["id"]
        # The cursor is stored once the subscriber has answered: soon after its last post.
        deadline = time.monotonic() + 10
        while True:
            state = client.get("/v1/databases/population/subscriptions", headers=writer).json()["subscriptions"]
            mine = next(s for s in state if s["id"] == subscription["id"])
            if mine["cursor"] == changes[-1]["cursor"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert mine["cursor"] == changes[-1]["cursor"] and mine["failures"] == 0
        # Each refused post counted as an error (the ExchangeWebhookDeliveriesFailing alert), each accepted one ok.
        after = _webhook_deliveries(client)
        assert after["error"] - before["error"] == 2
        assert after["ok"] - before["ok"] == len(receiver.posts) - 2
        gone = client.delete(f"/v1/databases/population/subscriptions/{subscription['id']}", headers=writer)
        assert gone.status_code == 204
        assert (
            client.delete(f"/v1/databases/population/subscriptions/{subscription['id']}", headers=writer).status_code
            == 404
        )


def test_a_webhook_url_must_be_http(client: httpx.Client, writer: dict[str, str]) -> None:
    for url in ("ftp://127.0.0.1/x", "not a url", "http://user:pw@127.0.0.1/x"):
        response = client.post("/v1/databases/population/subscriptions", json={"url": url}, headers=writer)
        assert response.status_code == 422, url


def test_a_database_failure_at_intake_answers_503_and_keeps_nothing(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    """The operations table is out of reach while a submission comes in: 503, no receipt kept, so the same
    request with the same key is accepted once the table is back."""
    record = _new_id(15)
    operations = [_op("create", record, _citizen(record))]

    async def rename(old: str, new: str) -> None:
        engine = create_engine(gateway_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))
        finally:
            await engine.dispose()

    asyncio.run(rename("exchange_operations", "exchange_operations_away"))
    try:
        refused = _submit(client, writer, operations, key="intake-failure")
    finally:
        asyncio.run(rename("exchange_operations_away", "exchange_operations"))
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"] == "/problems/exchange-unavailable" and refused.headers["retry-after"]
    again = _submit(client, writer, operations, key="intake-failure")
    assert again.status_code == 202 and "idempotent-replayed" not in again.headers
    assert _wait_delivered(client, writer, again.json()["receipt_id"])["accepted"][0]["state"] == "delivered"


def test_submissions_and_receipts_are_audited_with_their_records(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    record = _new_id(16)
    receipt = _submit(client, writer, [_op("create", record, _citizen(record))]).json()
    _wait_delivered(client, writer, receipt["receipt_id"])
    auditor = _make_client(gateway_url, "audit")
    headers = {"Authorization": f"Bearer {fetch_token(client, auditor)}"}
    deadline = time.monotonic() + 10
    while True:
        events = client.get("/v1/audit", params={"subject": record}, headers=headers).json()["items"]
        operations = sorted({event["operation"] for event in events})
        if operations == ["receipt", "submit"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert operations == ["receipt", "submit"], events
    submitted = next(event for event in events if event["operation"] == "submit")
    assert submitted["database"] == "population" and submitted["status"] == 202


SUBSCRIPTIONS = "/v1/databases/population/subscriptions"


def _reader(client: httpx.Client, gateway_url: str) -> dict[str, str]:
    credentials = _make_client(gateway_url, "population:read")
    return {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}


def _auditor(client: httpx.Client, gateway_url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(client, _make_client(gateway_url, 'audit'))}"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost:6379/",  # /etc/hosts
        "http://[::1]:5432/",
        "http://2130706433:8080/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",  # hexadecimal, short form
        "http://0177.0.0.1/",  # octal
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
        "http://[::ffff:7f00:1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://169.254.169.254/latest/meta-data/",  # link-local (cloud metadata)
        "http://[fe80::1]/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://[fc00::1]/",
        "http://100.64.0.1/",  # shared address space
        "http://224.0.0.1/",  # multicast
        "http://[ff02::1]/",
        "http://240.0.0.1/",  # reserved
        "http://255.255.255.255/",
        "http://198.18.0.1/",  # benchmarking
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    ],
)
def test_non_public_destinations_are_refused_in_every_spelling(url: str) -> None:
    """Classified by resolution only: IP literals and /etc/hosts names resolve without any traffic (a spelling
    the URL parser already rejects, such as a leading-zero octet, is refused as malformed)."""
    with pytest.raises((RefusedDestination, ValidationFailed)):
        asyncio.run(resolve_destination(parse_webhook_url(url), []))


def test_an_allow_listed_network_is_accepted_and_public_addresses_pass() -> None:
    import ipaddress

    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    assert asyncio.run(resolve_destination(parse_webhook_url("http://0x7f.1:8080/"), loopback)) == [
        ipaddress.ip_address("127.0.0.1")
    ]
    with pytest.raises(RefusedDestination):  # ::1 is not in 127.0.0.0/8
        asyncio.run(resolve_destination(parse_webhook_url("http://[::1]/"), loopback))
    public = asyncio.run(resolve_destination(parse_webhook_url("https://8.8.8.8/"), []))  # resolved, not contacted
    assert public == [ipaddress.ip_address("8.8.8.8")]


def test_subscribing_an_internal_or_malformed_url_is_a_422_problem(client: httpx.Client, gateway_url: str) -> None:
    reader = _reader(client, gateway_url)
    for url in (
        "http://[::1]:5432/",
        "http://169.254.169.254/",
        "http://10.0.0.1/",
        "http://[::ffff:192.168.0.1]/",
        "http://0.0.0.0:6379/",
        "http://127.0.0.1:6379/\x00",
        "http://127.0.0.1:6379/a\nb",
        "http://127.0.0.1:6379/a\x7fb",
        "http://exa mple.org/",
        "http://[::1/",
    ):
        response = client.post(SUBSCRIPTIONS, json={"url": url}, headers=reader)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(SUBSCRIPTIONS, headers=reader).json()["subscriptions"] == []


def test_a_client_holds_at_most_the_configured_number_of_subscriptions(client: httpx.Client, gateway_url: str) -> None:
    reader = _reader(client, gateway_url)
    made = []
    try:
        for n in range(10):
            response = client.post(SUBSCRIPTIONS, json={"url": f"http://127.0.0.1:9/{n}"}, headers=reader)
            assert response.status_code == 201, response.text
            made.append(response.json()["id"])
        over = client.post(SUBSCRIPTIONS, json={"url": "http://127.0.0.1:9/over"}, headers=reader)
        assert over.status_code == 409 and over.json()["type"] == "/problems/conflict"
        assert client.delete(f"{SUBSCRIPTIONS}/{made.pop()}", headers=reader).status_code == 204
        again = client.post(SUBSCRIPTIONS, json={"url": "http://127.0.0.1:9/again"}, headers=reader)
        assert again.status_code == 201
        made.append(again.json()["id"])
    finally:
        for subscription_id in made:
            client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=reader)


class Answering(Receiver):
    """A receiver answering every post with ``status`` (and a redirect to ``location`` when given)."""

    def __init__(self, status: int, location: str | None = None) -> None:
        super().__init__()
        self.status, self.location = status, location

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        self.posts.append(({}, b""))
        headers = [(b"location", self.location.encode())] if self.location else []
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"secret internal answer"})


def _last_error(client: httpx.Client, headers: dict[str, str], subscription_id: str) -> str | None:
    deadline = time.monotonic() + 15
    while True:
        listed = client.get(SUBSCRIPTIONS, headers=headers).json()["subscriptions"]
        error: str | None = next(s for s in listed if s["id"] == subscription_id)["last_error"]
        if error is not None or time.monotonic() > deadline:
            return error
        time.sleep(0.05)


def test_delivery_errors_are_generic_classes_and_redirects_are_not_followed(
    client: httpx.Client, writer: dict[str, str]
) -> None:
    """What a port scanner would learn from last_error: nothing but the class of the failure."""
    target = Answering(204)
    with LiveServer(target) as aimed, LiveServer(Answering(401)) as unauthorised:  # noqa: SIM117
        with LiveServer(Answering(307, f"{aimed.url}/internal")) as redirecting:
            closed = socket.socket()
            closed.bind(("127.0.0.1", 0))
            closed_port = closed.getsockname()[1]  # bound, never listening: connection refused
            try:
                urls = {
                    "connection-failed": f"http://127.0.0.1:{closed_port}/",
                    "non-2xx": f"{unauthorised.url}/",
                    "redirect": f"{redirecting.url}/",
                }
                ids = {}
                for name, url in urls.items():
                    created = client.post(SUBSCRIPTIONS, json={"url": url}, headers=writer)
                    assert created.status_code == 201, created.text
                    ids[name] = created.json()["id"]
                record = _new_id(17)
                _wait_delivered(
                    client,
                    writer,
                    _submit(client, writer, [_op("create", record, _citizen(record))]).json()["receipt_id"],
                )
                errors = {name: _last_error(client, writer, ids[name]) for name in ids}
            finally:
                closed.close()
                for subscription_id in ids.values():
                    client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=writer)
    assert errors == {"connection-failed": "connection-failed", "non-2xx": "non-2xx", "redirect": "non-2xx"}
    assert target.posts == [], "the redirect was not followed"


def test_the_destination_is_checked_again_before_each_post(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    """A subscription whose host now resolves to a refused address (stored directly, as if DNS had changed
    since it was subscribed) gets nothing: ::1 is loopback outside the allow-list."""
    hidden = socket.socket(socket.AF_INET6)
    hidden.bind(("::1", 0))
    hidden.listen()
    hidden.setblocking(False)
    subscription_id = str(uuid.uuid4())

    async def plant(client_id: str) -> None:
        async with standalone_session(gateway_url) as session:
            session.add(
                WebhookSubscription(
                    id=subscription_id,
                    client_id=client_id,
                    database_id="population",
                    url=f"http://[::1]:{hidden.getsockname()[1]}/",
                    secret="s" * 43,
                    purpose=STATED["X-Purpose"],
                    actor=STATED["X-Actor-Id"],
                    position=0,
                )
            )
            await session.commit()

    credentials = _make_client(gateway_url, "population:read")
    headers = {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}
    asyncio.run(plant(credentials.client_id))
    try:
        record = _new_id(18)
        _wait_delivered(
            client, writer, _submit(client, writer, [_op("create", record, _citizen(record))]).json()["receipt_id"]
        )
        assert _last_error(client, headers, subscription_id) == "refused-destination"
        with pytest.raises(BlockingIOError):  # nobody connected
            hidden.accept()
    finally:
        hidden.close()
        client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=headers)


def test_feed_pages_and_webhook_posts_are_audited_with_the_records_they_carried(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    receiver = Receiver()
    credentials = _make_client(gateway_url, "population:read")
    reader = {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}
    with LiveServer(receiver) as hook:
        created = client.post(SUBSCRIPTIONS, json={"url": f"{hook.url}/x"}, headers=reader)
        assert created.status_code == 201, created.text
        try:
            record = _new_id(19)
            receipt = _submit(client, writer, [_op("create", record, _citizen(record))]).json()
            _wait_delivered(client, writer, receipt["receipt_id"])
            cursor, seen = "0", False
            while not seen:
                body = client.get(CHANGES, params={"after": cursor, "limit": 100}, headers=reader).json()
                seen = any(c["record_id"] == record for c in body["changes"])
                if not body["more"]:
                    break
                cursor = body["next_cursor"]
            assert seen
            auditor = _auditor(client, gateway_url)
            deadline = time.monotonic() + 15
            while True:
                events = client.get("/v1/audit", params={"subject": record}, headers=auditor).json()["items"]
                kinds = {e["operation"] for e in events if e["client_id"] == credentials.client_id}
                if {"changes", "webhook"} <= kinds or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            client.delete(f"{SUBSCRIPTIONS}/{created.json()['id']}", headers=reader)
    assert {"changes", "webhook"} <= kinds, events
    delivered = next(e for e in events if e["operation"] == "webhook")
    assert delivered["database"] == "population" and delivered["outcome"] == "allowed"
    assert delivered["purpose"] == STATED["X-Purpose"] and record in delivered["record_ids"]


def _stored_secret(gateway_url: str, subscription_id: str) -> str:
    async def run() -> str:
        async with standalone_session(gateway_url) as session:
            row = await session.get(WebhookSubscription, subscription_id)
            assert row is not None
            return row.secret

    return asyncio.run(run())


def test_webhook_secrets_are_stored_encrypted_and_the_data_key_rotates(
    client: httpx.Client, writer: dict[str, str], gateway_url: str, exchange_settings: Settings, tmp_path: Path
) -> None:
    """The secret is encrypted in the database; a plaintext row left by an earlier version is encrypted by the
    rotation; after it, the running gateway (which reloads the key file) still signs with the right secrets."""
    key_file = exchange_settings.data_key_file_path
    assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    receiver = Receiver()
    with LiveServer(receiver) as hook:
        created = client.post(SUBSCRIPTIONS, json={"url": f"{hook.url}/enc"}, headers=writer).json()
        secret = created["secret"]
        stored = _stored_secret(gateway_url, created["id"])
        assert stored.startswith("enc:v1:") and secret not in stored
        legacy_id, legacy_secret = str(uuid.uuid4()), "legacy-plaintext-secret-" + uuid.uuid4().hex

        async def plant() -> None:
            async with standalone_session(gateway_url) as session:
                session.add(
                    WebhookSubscription(
                        id=legacy_id,
                        client_id="legacy-client",
                        database_id="population",
                        url=f"{hook.url}/legacy",
                        secret=legacy_secret,
                        active=False,
                    )
                )
                await session.commit()

        asyncio.run(plant())
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
            env |= {
                "GATEWAY_DATA_DIR": str(tmp_path),
                "GATEWAY_DATABASE_URL": gateway_url,
                "GATEWAY_DATA_KEY_FILE": str(key_file),
                "GATEWAY_LOG_LEVEL": "WARNING",
            }
            rotated = subprocess.run(
                [sys.executable, "-m", "gateway", "keys", "rotate-data-key", "--drop-old"],
                check=False,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert rotated.returncode == 0, rotated.stderr
            keys = [line for line in key_file.read_text().splitlines() if line.strip()]
            assert len(keys) == 1 and keys[0] not in stored and key_file.stat().st_mode & 0o777 == 0o600
            legacy = _stored_secret(gateway_url, legacy_id)
            assert legacy.startswith("enc:v1:") and legacy_secret not in legacy
            assert _stored_secret(gateway_url, created["id"]) != stored
            record = _new_id(20)
            receipt_id = _submit(client, writer, [_op("create", record, _citizen(record))]).json()["receipt_id"]
            _wait_delivered(client, writer, receipt_id)
            deadline = time.monotonic() + 15
            while not receiver.posts and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.posts, "the gateway posts with the re-encrypted secret, decrypted by the new key"
            headers, body = receiver.posts[-1]
            expected = hmac.new(
                secret.encode(), headers["x-axis-timestamp"].encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            assert headers["x-axis-signature"] == f"sha256={expected}"
        finally:
            client.delete(f"{SUBSCRIPTIONS}/{created['id']}", headers=writer)

            async def remove() -> None:
                async with standalone_session(gateway_url) as session:
                    row = await session.get(WebhookSubscription, legacy_id)
                    if row is not None:
                        await session.delete(row)
                        await session.commit()

            asyncio.run(remove())
