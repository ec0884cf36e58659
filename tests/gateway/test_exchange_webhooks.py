"""Webhook deliveries of submitted records: the gateway (in process, its fixtures in ``exchange_fixtures.py``)
posts every change, signed, in order, despite failures, to receivers served by uvicorn on 127.0.0.1; delivery
errors are generic classes and redirects are not followed; posts are audited; webhook secrets are stored encrypted
and survive the data key's rotation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import exchange_fixtures
import httpx
from exchange_fixtures import (
    CHANGES,
    SUBSCRIPTIONS,
    auditor_headers,
    citizen,
    last_error,
    make_exchange_client,
    new_id,
    operation,
    submit,
    wait_delivered,
)
from support import STATED, LiveServer, fetch_token, run_gateway_command

from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.exchange.models import WebhookSubscription
from gateway.identity.grants import GrantCreate, add_grant

# The module's fixtures, defined in exchange_fixtures.py (shared with the other module of the exchange's tests).
databases, gateway_url = exchange_fixtures.databases, exchange_fixtures.gateway_url
population_url, exchange_settings = exchange_fixtures.population_url, exchange_fixtures.exchange_settings
exchange_gateway, client, writer = (
    exchange_fixtures.exchange_gateway,
    exchange_fixtures.client,
    exchange_fixtures.writer,
)


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
        record = new_id(13)
        receipts = [submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"]]
        receipts += [
            submit(client, writer, [operation("update", record, {"marital_status": s})]).json()["receipt_id"]
            for s in ("divorced", "widowed", "married")
        ]
        for receipt_id in receipts:
            wait_delivered(client, writer, receipt_id)
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
                record = new_id(17)
                wait_delivered(
                    client,
                    writer,
                    submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"],
                )
                errors = {name: last_error(client, writer, ids[name]) for name in ids}
            finally:
                closed.close()
                for subscription_id in ids.values():
                    client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=writer)
    assert errors == {"connection-failed": "connection-failed", "non-2xx": "non-2xx", "redirect": "non-2xx"}
    assert target.posts == [], "the redirect was not followed"


def test_feed_pages_and_webhook_posts_are_audited_with_the_records_they_carried(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    receiver = Receiver()
    credentials = make_exchange_client(gateway_url, "population:read")
    reader = {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}
    with LiveServer(receiver) as hook:
        created = client.post(SUBSCRIPTIONS, json={"url": f"{hook.url}/x"}, headers=reader)
        assert created.status_code == 201, created.text
        try:
            record = new_id(19)
            receipt = submit(client, writer, [operation("create", record, citizen(record))]).json()
            wait_delivered(client, writer, receipt["receipt_id"])
            cursor, seen = "0", False
            while not seen:
                body = client.get(CHANGES, params={"after": cursor, "limit": 100}, headers=reader).json()
                seen = any(c["record_id"] == record for c in body["changes"])
                if not body["more"]:
                    break
                cursor = body["next_cursor"]
            assert seen
            auditor = auditor_headers(client, gateway_url)
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
            rotated = run_gateway_command(("keys", "rotate-data-key", "--drop-old"), env=env, cwd=tmp_path)
            assert rotated.returncode == 0, rotated.stderr
            keys = [line for line in key_file.read_text().splitlines() if line.strip()]
            assert len(keys) == 1 and keys[0] not in stored and key_file.stat().st_mode & 0o777 == 0o600
            legacy = _stored_secret(gateway_url, legacy_id)
            assert legacy.startswith("enc:v1:") and legacy_secret not in legacy
            assert _stored_secret(gateway_url, created["id"]) != stored
            record = new_id(20)
            receipt_id = submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"]
            wait_delivered(client, writer, receipt_id)
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


def _subscription(client: httpx.Client, headers: dict[str, str], subscription_id: str) -> dict[str, Any]:
    listed = client.get(SUBSCRIPTIONS, headers=headers).json()["subscriptions"]
    return next(s for s in listed if s["id"] == subscription_id)


def _wait_stopped(client: httpx.Client, headers: dict[str, str], subscription_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while (state := _subscription(client, headers, subscription_id))["active"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


def test_a_receiver_answering_410_gone_stops_its_subscription(client: httpx.Client, writer: dict[str, str]) -> None:
    """410 Gone is the receiver's word that it wants no more posts: the subscription stops (``active`` false,
    ``gone``) and is never posted to again, where any other failure is retried (the backoff here is 0.2 s at most)."""
    gone, failing = Answering(410), Answering(500)
    with LiveServer(gone) as gone_url, LiveServer(failing) as failing_url:
        ids = [
            client.post(SUBSCRIPTIONS, json={"url": f"{url}/hook"}, headers=writer).json()["id"]
            for url in (gone_url.url, failing_url.url)
        ]
        try:
            record = new_id(21)
            receipt = submit(client, writer, [operation("create", record, citizen(record))]).json()
            wait_delivered(client, writer, receipt["receipt_id"])
            stopped = _wait_stopped(client, writer, ids[0])
            time.sleep(1.0)  # five backoffs of the failing one, for the stopped one to be posted again if it were
            assert not stopped["active"] and stopped["last_error"] == "gone"
            assert len(gone.posts) == 1, "a stopped subscription is not posted to again"
            retried = _subscription(client, writer, ids[1])
            assert retried["active"] and retried["last_error"] == "non-2xx" and len(failing.posts) >= 3
        finally:
            for subscription_id in ids:
                client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=writer)


def test_a_cursor_beyond_the_end_of_the_feed_is_refused_not_waited_on(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    """A cursor past the feed's last position was never given (or the gateway's database was restored from an
    earlier backup): reading on from it would skip every change until the feed got there. The feed, a new
    subscription and a subscription left beyond the end each say so."""
    record = new_id(22)
    wait_delivered(
        client, writer, submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"]
    )
    cursor = "0"
    while True:
        page = client.get(CHANGES, params={"after": cursor, "limit": 100}, headers=writer).json()
        cursor = page["next_cursor"]
        if not page["more"]:
            break
    end = int(cursor)
    assert end > 0
    at_end = client.get(CHANGES, params={"after": str(end)}, headers=writer)
    assert at_end.status_code == 200 and at_end.json() == {"changes": [], "next_cursor": str(end), "more": False}
    beyond = client.get(CHANGES, params={"after": str(end + 1)}, headers=writer)
    assert beyond.status_code == 400 and beyond.headers["content-type"] == "application/problem+json"
    assert beyond.json()["type"].endswith("/problems/invalid-cursor")
    assert f"its last position is {end}" in beyond.json()["detail"]
    refused = client.post(SUBSCRIPTIONS, json={"url": "http://127.0.0.1:9/x", "after": str(end + 10)}, headers=writer)
    assert refused.status_code == 400 and refused.json()["type"].endswith("/problems/invalid-cursor")
    receiver = Receiver()
    with LiveServer(receiver) as hook:
        created = client.post(SUBSCRIPTIONS, json={"url": f"{hook.url}/restored", "after": str(end)}, headers=writer)
        assert created.status_code == 201, created.text
        subscription_id = created.json()["id"]

        async def restored_from_an_earlier_backup() -> None:
            async with standalone_session(gateway_url) as session:
                row = await session.get(WebhookSubscription, subscription_id)
                assert row is not None
                row.position = end + 1000
                await session.commit()

        try:
            asyncio.run(restored_from_an_earlier_backup())
            following = new_id(23)
            wait_delivered(
                client,
                writer,
                submit(client, writer, [operation("create", following, citizen(following))]).json()["receipt_id"],
            )
            stopped = _wait_stopped(client, writer, subscription_id)
            assert not stopped["active"] and stopped["last_error"] == "cursor-beyond-feed"
            assert receiver.posts == []
        finally:
            client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=writer)


def test_a_subscription_moves_past_changes_its_grant_hides(
    client: httpx.Client, writer: dict[str, str], gateway_url: str
) -> None:
    """A subscriber granted ``gender`` only is posted the create, not the updates of other fields (that a record
    changed, and when, is something of the fields changed), and its cursor moves past them all the same: it is
    neither posted an empty page nor left behind them."""
    credentials = make_exchange_client(gateway_url)

    async def grant() -> None:
        async with standalone_session(gateway_url) as session:
            await add_grant(
                session,
                GrantCreate(
                    client_id=credentials.client_id, database="population", operations=["read"], fields=["gender"]
                ),
            )

    asyncio.run(grant())
    narrow = {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}
    receiver = Receiver()
    with LiveServer(receiver) as hook:
        created = client.post(SUBSCRIPTIONS, json={"url": f"{hook.url}/hook"}, headers=narrow)
        assert created.status_code == 201, created.text
        subscription_id = created.json()["id"]
        try:
            record = new_id(31)
            receipts = [submit(client, writer, [operation("create", record, citizen(record))]).json()["receipt_id"]]
            receipts += [
                submit(client, writer, [operation("update", record, {"marital_status": s})]).json()["receipt_id"]
                for s in ("divorced", "widowed")
            ]
            for receipt_id in receipts:
                wait_delivered(client, writer, receipt_id)
            end = client.get(CHANGES, headers=writer, params={"limit": 100, "after": "0"}).json()
            while end["more"]:
                end = client.get(CHANGES, headers=writer, params={"limit": 100, "after": end["next_cursor"]}).json()
            deadline = time.monotonic() + 15
            while (state := _subscription(client, narrow, subscription_id))["cursor"] != end[
                "next_cursor"
            ] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert state["cursor"] == end["next_cursor"], state
            posted = [c for _, body in receiver.posts for c in json.loads(body)["changes"]]
            assert [(c["record_id"], c["op"]) for c in posted if c["record_id"] == record] == [(record, "create")]
            assert all(json.loads(body)["changes"] for _, body in receiver.posts), "no empty page is posted"
        finally:
            client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=narrow)
