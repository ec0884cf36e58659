"""A writer granted a few fields of one database, without X-Actor-Id, cannot make the sector system believe an officer
made its changes: the audit trail names no officer for such a request, so ``metadata.officer`` is rejected. Against
a real gateway (uvicorn on 127.0.0.1) and the SQL population connector, on SQLite or PostgreSQL
(GATEWAY_TEST_DATABASE_URL)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from exchange_fixtures import (
    live_exchange_gateway,
    make_exchange_client,
    operation,
    sector_row,
    seeded_row,
    wait_delivered,
)
from support import STATED, fetch_token

RECORDS = "/v1/databases/population/records"
GRANTS = "/v1/admin/grants"


databases, settings, http, admin = live_exchange_gateway("exsc", citizens=30, seed=41, exchange_poll_seconds=0.05)


@pytest.fixture(scope="module")
def grantee(http: httpx.Client, admin: dict[str, str], databases: tuple[str, str]) -> Callable[..., dict[str, str]]:
    def make(operations: list[str], fields: list[str] | None, **grant: Any) -> dict[str, str]:
        credentials = make_exchange_client(databases[0])
        body = {"client_id": credentials.client_id, "database": "population", "operations": operations}
        response = http.post(GRANTS, json={**body, "fields": fields, **grant}, headers=admin)
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {fetch_token(http, credentials)}"}

    return make


def _submit(http: httpx.Client, headers: dict[str, str], *operations: dict[str, Any]) -> httpx.Response:
    return http.post(
        RECORDS, json={"operations": list(operations)}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )


def test_a_writer_naming_no_actor_cannot_tell_the_sector_system_an_officer(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], databases: tuple[str, str]
) -> None:
    """A grant that does not require X-Actor-Id: a request without it is audited with no officer, so an operation
    naming one in ``metadata.officer`` is rejected (the sector system would record a change by an officer the
    gateway never saw); without ``metadata.officer``, the update is accepted and delivered naming none."""
    headers = {**grantee(["submit"], ["marital_status"], require_actor=False), "X-Purpose": STATED["X-Purpose"]}
    before = seeded_row(databases[1], 0)
    record = before["so_dinh_danh"]
    claimed = operation("update", record, {"marital_status": "widowed"})
    claimed["metadata"]["officer"] = "CB-068-9999"
    refused = _submit(http, headers, claimed)
    assert refused.status_code == 422, refused.text
    (rejected,) = refused.json()["rejected"]
    assert rejected["problem"]["status"] == 422 and "metadata.officer" in rejected["problem"]["detail"]
    assert sector_row(databases[1], record) == before
    plain = _submit(http, headers, operation("update", record, {"marital_status": "widowed"}))
    assert plain.status_code == 202, plain.text
    receipt = wait_delivered(http, headers, plain.json()["receipt_id"])
    assert [entry["state"] for entry in receipt["accepted"]] == ["delivered"]
    assert sector_row(databases[1], record)["tinh_trang_hon_nhan"] == 4  # type: ignore[index]


def _audited(http: httpx.Client, auditor: dict[str, str], record: str, count: int) -> list[dict[str, Any]]:
    """The submissions audited about ``record``, once ``count`` of them are written (the trail is written in the
    background)."""
    deadline = time.monotonic() + 10
    while True:
        events = http.get("/v1/audit", params={"subject": record, "operation": "submit"}, headers=auditor)
        assert events.status_code == 200, events.text
        items: list[dict[str, Any]] = events.json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


def test_a_submission_is_audited_with_every_record_it_names_and_the_fields_it_wrote(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], databases: tuple[str, str]
) -> None:
    """A writer granted two fields: a submission refused as a whole (an ungranted field) is still found by the
    record's question; one partly refused names the refused record too; and the trail records the fields written,
    not every field the grant covers."""
    headers = {**grantee(["submit"], ["marital_status", "household_id"]), **STATED}
    auditor = {"Authorization": f"Bearer {fetch_token(http, make_exchange_client(databases[0], 'audit'))}"}
    one, other = seeded_row(databases[1], 5)["so_dinh_danh"], seeded_row(databases[1], 6)["so_dinh_danh"]
    refused = _submit(http, headers, operation("update", one, {"full_name": "Lê Thị Hoa"}))
    assert refused.status_code == 422, refused.text
    (event,) = _audited(http, auditor, one, 1)
    assert (event["status"], event["fields"]) == (422, None), event
    mixed = _submit(
        http,
        headers,
        operation("update", one, {"marital_status": "married"}),
        operation("update", other, {"gender": "female"}),
    )
    assert mixed.status_code == 202, mixed.text
    assert [entry["record_id"] for entry in mixed.json()["rejected"]] == [other]
    (event,) = _audited(http, auditor, other, 1)
    assert event["status"] == 202
    assert sorted(event["record_ids"]) == sorted([one, other])
    assert event["fields"] == ["marital_status"]


def test_a_submission_with_a_key_the_gateway_does_not_know_is_refused_not_half_understood(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], databases: tuple[str, str]
) -> None:
    """``"atomic": true`` beside the operations: the gateway applies operations one by one, so a sender that asks for
    anything else is told so (422, naming the key), and nothing is stored."""
    headers = {**grantee(["submit"], ["marital_status"]), **STATED}
    before = seeded_row(databases[1], 7)
    body = {"operations": [operation("update", before["so_dinh_danh"], {"marital_status": "married"})], "atomic": True}
    refused = http.post(RECORDS, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "atomic" in refused.text
    time.sleep(0.3)  # a delivery, had anything been stored, is polled every 0.05 s
    assert sector_row(databases[1], before["so_dinh_danh"]) == before
