"""Submitting records through the gateway: intake, idempotency, delivery in order to the sector database, the
receipt, the change feed, retries and dead letters, the webhook subscriptions' checks. The gateway and the sector
database are real (SQLite, or PostgreSQL under GATEWAY_TEST_DATABASE_URL); the gateway runs in process. Deliveries to
webhook receivers listening on sockets are in ``test_exchange_webhooks.py``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import exchange_fixtures
import httpx
import pytest
import sqlalchemy as sa
from exchange_fixtures import (
    CHANGES,
    RECORDS,
    SUBSCRIPTIONS,
    citizen,
    last_error,
    make_exchange_client,
    new_id,
    operation,
    reader_headers,
    sector_row,
    submit,
    wait_delivered,
)
from jsonschema import Draft202012Validator
from support import STATED, CommandResult, fetch_token, run_gateway_command

from gateway.core.db import create_engine, standalone_session
from gateway.core.problems import ValidationFailed
from gateway.exchange import manage
from gateway.exchange.models import WebhookSubscription
from gateway.exchange.webhooks import RefusedDestination, parse_webhook_url, resolve_destination

# The module's fixtures, defined in exchange_fixtures.py (shared with the other module of the exchange's tests).
databases, gateway_url = exchange_fixtures.databases, exchange_fixtures.gateway_url
population_url, exchange_settings = exchange_fixtures.population_url, exchange_fixtures.exchange_settings
exchange_gateway, client, writer = (
    exchange_fixtures.exchange_gateway,
    exchange_fixtures.client,
    exchange_fixtures.writer,
)


def test_create_update_delete_are_delivered_in_order(
    client: httpx.Client, writer: dict[str, str], population_url: str
) -> None:
    born, moved = new_id(1), new_id(2)
    operations = [
        operation("create", born, citizen(born)),
        operation("create", moved, citizen(moved)),
        operation("update", moved, {"marital_status": "widowed", "full_name": "Nguyễn Thị Hoa"}),
        operation("delete", moved),
    ]
    response = submit(client, writer, operations)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert response.headers["location"] == f"/v1/receipts/{receipt['receipt_id']}"
    assert [e["index"] for e in receipt["accepted"]] == [0, 1, 2, 3] and receipt["rejected"] == []
    final = wait_delivered(client, writer, receipt["receipt_id"])
    assert [e["state"] for e in final["accepted"]] == ["delivered"] * 4, final["accepted"]
    row = sector_row(population_url, born)
    assert row is not None and row["ho_ten"] == "Nguyễn Thị Mai" and row["gioi_tinh"] == 2
    assert sector_row(population_url, moved) is None
    read = client.get(f"{RECORDS}/{born}", headers=writer)
    assert read.status_code == 200 and read.json()["household_id"] == "HK068000123"


def test_a_repeated_key_returns_the_first_receipt_and_changes_nothing(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    record = new_id(3)
    operations = [operation("create", record, citizen(record))]
    first = submit(client, writer, operations, key="repeat-1")
    again = submit(client, writer, operations, key="repeat-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = submit(client, writer, [operation("delete", record)], key="repeat-1")
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
    good = new_id(4)
    operations = [
        operation("create", good, citizen(good)),
        operation("create", new_id(5), citizen(new_id(5), gender="male")),  # digit 4 of the id says female
        operation("update", good, {"no_such_field": 1}),
        operation("frobnicate", good),
        operation("update", "12ab", {"marital_status": "married"}),
        operation("delete", good, {"full_name": "x"}),
        {"op": "update", "record_id": good, "fields": {"marital_status": "married"}},  # no metadata
    ]
    response = submit(client, writer, operations)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert [e["index"] for e in receipt["accepted"]] == [0]
    rejected = {e["index"]: e["problem"] for e in receipt["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6]
    assert all(p["type"] == "/problems/validation-error" and p["status"] == 422 for p in rejected.values())
    assert "no_such_field" in rejected[2]["detail"]
    assert receipt["rejected"][0]["record_id"] == new_id(5)


def test_a_submission_with_nothing_valid_stores_nothing(client: httpx.Client, writer: dict[str, str]) -> None:
    response = submit(client, writer, [operation("update", new_id(6), {"gender": "neither"})], key="nothing-valid")
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/submission-rejected" and body["rejected"][0]["index"] == 0
    again = submit(client, writer, [operation("delete", new_id(6))], key="nothing-valid")
    assert again.status_code == 202  # the key was not used up by the refused submission


def test_the_idempotency_key_and_the_submit_scope_are_required(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    response = client.post(RECORDS, json={"operations": [operation("delete", new_id(7))]}, headers=writer)
    assert response.status_code == 400 and response.json()["header"] == "Idempotency-Key"
    reader = make_exchange_client(gateway_url, "population:read")
    headers = {"Authorization": f"Bearer {fetch_token(client, reader)}", **STATED}
    refused = submit(client, headers, [operation("delete", new_id(7))])
    assert refused.status_code == 403
    assert (
        client.post(RECORDS, json={"operations": []}, headers={**writer, "Idempotency-Key": "empty"}).status_code == 422
    )


def test_the_change_feed_lists_applied_operations_in_order(client: httpx.Client, writer: dict[str, str]) -> None:
    start, more = "", True
    while more:
        page = client.get(CHANGES, headers=writer, params={"after": start, "limit": 100}).json()
        start, more = page["next_cursor"], page["more"]
    record = new_id(8)
    receipts = []
    for status in ("married", "divorced", "widowed"):
        fields = {"marital_status": status}
        operations = (
            [operation("create", record, citizen(record))] if not receipts else [operation("update", record, fields)]
        )
        receipts.append(submit(client, writer, operations).json()["receipt_id"])
    for receipt_id in receipts:
        wait_delivered(client, writer, receipt_id)
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
    record = new_id(9)
    wait_delivered(
        client, writer, submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"]
    )
    names = [f"Nguyễn Thị Lần {chr(0x41 + i)}" for i in range(12)]
    receipts = [
        submit(client, writer, [operation("update", record, {"full_name": name})]).json()["receipt_id"]
        for name in names
    ]
    for receipt_id in receipts:
        assert wait_delivered(client, writer, receipt_id)["accepted"][0]["state"] == "delivered"
    row = sector_row(population_url, record)
    assert row is not None and row["ho_ten"] == names[-1]


def test_a_refused_operation_is_dead_lettered_and_can_be_retried(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    missing = new_id(10)
    receipt = submit(client, writer, [operation("update", missing, {"marital_status": "married"})]).json()
    final = wait_delivered(client, writer, receipt["receipt_id"])
    entry = final["accepted"][0]
    assert entry["state"] == "dead" and entry["attempts"] == 1 and "no record" in entry["last_error"]

    async def retry() -> int:
        async with standalone_session(gateway_url) as session:
            dead = await manage.dead_letters(session, "population")
            assert entry["operation_id"] in [op.id for op in dead]
            return await manage.retry(session, ids=[entry["operation_id"]])

    # Create the record meanwhile, then retry: the update now applies.
    created = submit(client, writer, [operation("create", missing, citizen(missing))]).json()
    wait_delivered(client, writer, created["receipt_id"])
    assert asyncio.run(retry()) == 1
    again = wait_delivered(client, writer, receipt["receipt_id"])
    assert again["accepted"][0]["state"] == "delivered"
    assert client.get(f"{RECORDS}/{missing}", headers=writer).json()["marital_status"] == "married"


def test_a_locked_sector_database_is_retried_until_it_frees(
    client: httpx.Client, writer: dict[str, str], population_url: str
) -> None:
    record = new_id(11)
    with _locked(population_url):
        receipt = submit(client, writer, [operation("create", record, citizen(record))]).json()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            entry = client.get(f"/v1/receipts/{receipt['receipt_id']}", headers=writer).json()["accepted"][0]
            if entry["attempts"] >= 2:
                break
            time.sleep(0.05)
        assert entry["state"] in ("pending", "delivering") and entry["attempts"] >= 2, entry
        assert entry["last_error"]
    final = wait_delivered(client, writer, receipt["receipt_id"])
    assert final["accepted"][0]["state"] == "delivered"
    assert sector_row(population_url, record) is not None


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
    record = new_id(14)
    wait_delivered(
        client, writer, submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"]
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


def _cli(gateway_url: str, tmp_path: Path, *args: str) -> CommandResult:
    """``gateway exchange ARGS``, run in process (typer's runner)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_DATABASE_URL": gateway_url, "GATEWAY_LOG_LEVEL": "WARNING"}
    return run_gateway_command(("exchange", *args), env=env, cwd=tmp_path)


def _operator_events(gateway_url: str, action: str) -> list[dict[str, object]]:
    """The audit events of ``action`` (``exchange.retry``, ``exchange.replay``), oldest first."""

    async def run() -> list[dict[str, object]]:
        engine = create_engine(gateway_url)
        try:
            async with engine.connect() as conn:
                query = sa.text(
                    "SELECT request_id, client_id, actor, operation, status, action, change FROM audit_events "
                    "WHERE action = :action ORDER BY seq"
                )
                rows = (await conn.execute(query, {"action": action})).mappings().all()
        finally:
            await engine.dispose()
        return [
            {**row, "change": json.loads(row["change"]) if isinstance(row["change"], str) else row["change"]}
            for row in rows
        ]

    return asyncio.run(run())


def test_operators_list_retry_and_replay_from_the_command_line(
    client: httpx.Client, writer: dict[str, str], gateway_url: str, population_url: str, tmp_path: Path
) -> None:
    record = new_id(12)
    dead = submit(client, writer, [operation("delete", record)]).json()
    entry = wait_delivered(client, writer, dead["receipt_id"])["accepted"][0]
    assert entry["state"] == "dead"
    listed = _cli(gateway_url, tmp_path, "dead-letters", "--database", "population", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = next(row for row in rows if row["operation_id"] == entry["operation_id"])
    assert mine["record_id"] == record and mine["op"] == "delete" and "no record" in mine["last_error"]
    assert "fields" not in mine
    assert _cli(gateway_url, tmp_path, "retry").returncode == 2  # neither ids nor a database: refused
    created = submit(client, writer, [operation("create", record, citizen(record))]).json()
    wait_delivered(client, writer, created["receipt_id"])
    retried = _cli(gateway_url, tmp_path, "retry", str(entry["operation_id"]))
    assert retried.returncode == 0 and retried.stdout.startswith("1 operation"), retried.stderr
    # The operator's retry is in the audit trail: who, which operations, how many were queued.
    (retry_event,) = _operator_events(gateway_url, "exchange.retry")
    assert str(retry_event["request_id"]).startswith("cli-") and retry_event["client_id"] is None
    assert (retry_event["operation"], retry_event["status"]) == ("admin", 0) and retry_event["actor"]
    assert retry_event["change"] == {"database": None, "operation_ids": [entry["operation_id"]], "queued": 1}
    assert wait_delivered(client, writer, dead["receipt_id"])["accepted"][0]["state"] == "delivered"
    assert sector_row(population_url, record) is None

    # The sector database loses the record (restored from a backup): replaying the create brings it back.
    replayed = _cli(gateway_url, tmp_path, "replay", "population", "--receipt", created["receipt_id"])
    assert replayed.returncode == 0 and replayed.stdout.startswith("1 operation"), replayed.stderr
    (replay_event,) = _operator_events(gateway_url, "exchange.replay")
    assert replay_event["change"] == {
        "database": "population",
        "since": None,
        "receipt_id": created["receipt_id"],
        "queued": 1,
    }
    final = wait_delivered(client, writer, created["receipt_id"])["accepted"][0]
    assert final["state"] == "delivered" and final["outcome"] == "delivered"  # a new key: applied again
    assert sector_row(population_url, record) is not None


def _dead_letters_waiting(gateway_url: str) -> int:
    """The population database's dead letters, as the queue-depth metric counts them."""

    async def run() -> int:
        async with standalone_session(gateway_url) as session:
            depth, _oldest = await manage.exchange_backlog(session)
        return depth.get(("population", "dead"), 0)

    return asyncio.run(run())


def test_operators_dismiss_dead_letters_that_are_not_to_be_delivered(
    client: httpx.Client, writer: dict[str, str], gateway_url: str, tmp_path: Path
) -> None:
    record = new_id(16)
    dead = submit(client, writer, [operation("delete", record)]).json()
    entry = wait_delivered(client, writer, dead["receipt_id"])["accepted"][0]
    assert entry["state"] == "dead" and "no record" in entry["last_error"]
    waiting = _dead_letters_waiting(gateway_url)
    operation_id = str(entry["operation_id"])

    assert _cli(gateway_url, tmp_path, "dismiss").returncode == 2  # neither ids nor a database: refused
    unknown = _cli(gateway_url, tmp_path, "dismiss", "999999999", operation_id)
    assert unknown.returncode == 1 and "no operation 999999999" in unknown.stderr, unknown.stderr
    dismissed = _cli(gateway_url, tmp_path, "dismiss", operation_id)
    assert dismissed.returncode == 0 and dismissed.stdout.startswith("1 operation(s) dismissed"), dismissed.stderr

    # Closed for good: its receipt says so, with why it failed; its values are gone; it leaves the dead letters.
    shown = client.get(f"/v1/receipts/{dead['receipt_id']}", headers=writer).json()["accepted"][0]
    assert shown["state"] == "dismissed" and shown["last_error"] == entry["last_error"]
    assert shown["fields_erased_at"] is not None
    listed = _cli(gateway_url, tmp_path, "dead-letters", "--database", "population", "--json")
    assert operation_id not in [str(json.loads(line)["operation_id"]) for line in listed.stdout.splitlines()]
    assert _dead_letters_waiting(gateway_url) == waiting - 1
    # Neither retried nor dismissed again; the operator is told why.
    again = _cli(gateway_url, tmp_path, "retry", operation_id)
    assert again.stdout.startswith("0 operation") and "is dismissed, not dead-lettered: not retried" in again.stderr
    twice = _cli(gateway_url, tmp_path, "dismiss", operation_id)
    assert twice.stdout.startswith("0 operation") and "not dead-lettered: not dismissed" in twice.stderr
    assert wait_delivered(client, writer, dead["receipt_id"])["accepted"][0]["state"] == "dismissed"

    # In the audit trail: who dismissed which operations (the refused command recorded nothing).
    first, second = _operator_events(gateway_url, "exchange.dismiss")
    assert str(first["request_id"]).startswith("cli-") and first["client_id"] is None and first["actor"]
    assert first["change"] == {"database": None, "operation_ids": [entry["operation_id"]], "dismissed": 1}
    assert second["change"] == {"database": None, "operation_ids": [entry["operation_id"]], "dismissed": 0}


def test_a_webhook_url_must_be_http(client: httpx.Client, writer: dict[str, str]) -> None:
    for url in (
        "ftp://127.0.0.1/x",
        "not a url",
        "http://user:pw@127.0.0.1/x",
        "http://127.0.0.1:99999/",  # no such port: it would take a subscription slot and fail for ever
        "http://127.0.0.1:70000/",
        "http://127.0.0.1:0/",
    ):
        response = client.post("/v1/databases/population/subscriptions", json={"url": url}, headers=writer)
        assert response.status_code == 422, url


def test_a_database_failure_at_intake_answers_503_and_keeps_nothing(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    """The operations table is out of reach while a submission comes in: 503, no receipt kept, so the same
    request with the same key is accepted once the table is back."""
    record = new_id(15)
    operations = [operation("create", record, citizen(record))]

    async def rename(old: str, new: str) -> None:
        engine = create_engine(gateway_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))
        finally:
            await engine.dispose()

    asyncio.run(rename("exchange_operations", "exchange_operations_away"))
    try:
        refused = submit(client, writer, operations, key="intake-failure")
    finally:
        asyncio.run(rename("exchange_operations_away", "exchange_operations"))
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"] == "/problems/exchange-unavailable" and refused.headers["retry-after"]
    again = submit(client, writer, operations, key="intake-failure")
    assert again.status_code == 202 and "idempotent-replayed" not in again.headers
    assert wait_delivered(client, writer, again.json()["receipt_id"])["accepted"][0]["state"] == "delivered"


def test_submissions_and_receipts_are_audited_with_their_records(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    record = new_id(16)
    receipt = submit(client, writer, [operation("create", record, citizen(record))]).json()
    wait_delivered(client, writer, receipt["receipt_id"])
    auditor = make_exchange_client(gateway_url, "audit")
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
    reader = reader_headers(client, gateway_url)
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
        "http://xn--.com/",  # not an IDNA name: decoding it raised, a 500
    ):
        response = client.post(SUBSCRIPTIONS, json={"url": url}, headers=reader)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(SUBSCRIPTIONS, headers=reader).json()["subscriptions"] == []


def test_a_client_holds_at_most_the_configured_number_of_subscriptions(client: httpx.Client, gateway_url: str) -> None:
    reader = reader_headers(client, gateway_url)
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

    credentials = make_exchange_client(gateway_url, "population:read")
    headers = {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}
    asyncio.run(plant(credentials.client_id))
    try:
        record = new_id(18)
        wait_delivered(
            client, writer, submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"]
        )
        assert last_error(client, headers, subscription_id) == "refused-destination"
        with pytest.raises(BlockingIOError):  # nobody connected
            hidden.accept()
    finally:
        hidden.close()
        client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=headers)


def test_a_subscription_is_answered_as_the_document_states(client: httpx.Client, writer: dict[str, str]) -> None:
    document = client.get("/openapi.json").json()

    def problems(component: str, body: object) -> list[str]:
        schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(body)]

    created = client.post(SUBSCRIPTIONS, json={"url": "http://127.0.0.1:9/documented", "after": "0"}, headers=writer)
    assert created.status_code == 201, created.text
    assert problems("NewSubscriptionAnswer", created.json()) == []
    assert created.headers["location"].endswith(created.json()["id"])
    listed = client.get(SUBSCRIPTIONS, headers=writer)
    assert listed.json()["subscriptions"]
    assert problems("Subscriptions", listed.json()) == []
    assert client.delete(created.headers["location"], headers=writer).status_code == 204
