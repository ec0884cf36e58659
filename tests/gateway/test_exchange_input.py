"""What a client submits to the exchange is refused at intake when the gateway could not keep or deliver it as
given: a ``changed_at`` the gateway's database cannot store (or outside 1850 to a day ahead) is a 422, a feed cursor
is ASCII digits or a 400, and a create stores and delivers only the fields the client gave, never a default of the
contract its grant may not cover. The gateway (in process, its fixtures in ``exchange_fixtures.py``) and the
databases are real (SQLite, or PostgreSQL under GATEWAY_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import exchange_fixtures
import httpx
import pytest
import sqlalchemy as sa
from exchange_fixtures import (
    CHANGES,
    EXAMPLE,
    SUBSCRIPTIONS,
    citizen,
    make_exchange_client,
    new_id,
    operation,
    sector_row,
    seeded_row,
    submit,
    wait_delivered,
)
from support import STATED, fetch_token

from contracts.population import Citizen
from gateway.core.db import standalone_session
from gateway.exchange.models import ExchangeOperation
from gateway.identity.grants import GrantCreate, add_grant

# The module's fixtures, defined in exchange_fixtures.py (shared with the other modules of the exchange's tests).
databases, gateway_url = exchange_fixtures.databases, exchange_fixtures.gateway_url
population_url, exchange_settings = exchange_fixtures.population_url, exchange_fixtures.exchange_settings
exchange_gateway, client, writer = (
    exchange_fixtures.exchange_gateway,
    exchange_fixtures.client,
    exchange_fixtures.writer,
)

UNSTORABLE = [
    "0001-01-01T00:00:00+14:00",  # 31 December of the year 0 in UTC
    "0001-01-01T00:00:00+00:01",
    "9999-12-31T23:00:00-14:00",  # the year 10000 in UTC
]


def _with_changed_at(body: dict[str, Any], changed_at: str) -> dict[str, Any]:
    return {**body, "metadata": {"changed_at": changed_at}}


@pytest.mark.parametrize("changed_at", [*UNSTORABLE, "1849-12-31T23:59:59+00:00", "2999-01-01T00:00:00+07:00"])
def test_a_change_time_that_cannot_be_stored_is_refused_with_422(
    client: httpx.Client, writer: dict[str, str], population_url: str, changed_at: str
) -> None:
    """The update of the review (a field-limited grant is not needed: any writer could send it) is refused at
    intake, nothing is stored (the key stays free), and the sector database is not touched."""
    seeded = seeded_row(population_url, 0)
    record = seeded["so_dinh_danh"]
    update = _with_changed_at(operation("update", record, {"marital_status": "divorced"}), changed_at)
    key = f"ov-{uuid.uuid4().hex[:8]}"
    refused = submit(client, writer, [update], key=key)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["type"] == "/problems/submission-rejected"
    (rejected,) = body["rejected"]
    (error,) = rejected["problem"]["errors"]
    assert error["loc"] == ["metadata", "changed_at"]
    assert error["type"] in ("datetime_out_of_range", "changed_at_out_of_range")
    assert sector_row(population_url, record) == seeded
    # Nothing was stored under the key: the same key now takes a valid submission.
    assert submit(client, writer, [operation("delete", new_id(900))], key=key).status_code == 202


@pytest.mark.parametrize("changed_at", [1700000000, 0, 1.7e9, True])
def test_a_change_time_given_as_a_number_is_refused(
    client: httpx.Client, writer: dict[str, str], population_url: str, changed_at: object
) -> None:
    """A number would be taken for seconds since 1970 in UTC: the docs ask for a date-time with its offset."""
    record = seeded_row(population_url, 1)["so_dinh_danh"]
    update = {**operation("update", record, {"marital_status": "divorced"}), "metadata": {"changed_at": changed_at}}
    refused = submit(client, writer, [update])
    assert refused.status_code == 422, refused.text
    (rejected,) = refused.json()["rejected"]
    (error,) = rejected["problem"]["errors"]
    assert (error["loc"], error["type"]) == (["metadata", "changed_at"], "datetime_type"), error


def test_an_unstorable_change_time_is_refused_alone_and_the_others_are_delivered(
    client: httpx.Client, writer: dict[str, str]
) -> None:
    record = new_id(1)
    operations = [
        operation("create", record, citizen(record)),
        *(_with_changed_at(operation("update", record, {"marital_status": "divorced"}), t) for t in UNSTORABLE),
    ]
    response = submit(client, writer, operations)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert [e["index"] for e in receipt["accepted"]] == [0]
    assert [e["index"] for e in receipt["rejected"]] == [1, 2, 3]
    final = wait_delivered(client, writer, receipt["receipt_id"])
    assert final["accepted"][0]["state"] == "delivered"


def test_the_vietnamese_answer_names_the_range(client: httpx.Client, writer: dict[str, str]) -> None:
    update = _with_changed_at(operation("update", new_id(2), {"marital_status": "divorced"}), UNSTORABLE[0])
    response = client.post(
        "/v1/databases/population/records",
        json={"operations": [update]},
        headers={**writer, "Idempotency-Key": uuid.uuid4().hex, "Accept-Language": "vi"},
    )
    assert response.status_code == 422
    (error,) = response.json()["rejected"][0]["problem"]["errors"]
    assert "từ năm 1 đến năm 9999" in error["msg"]


@pytest.mark.parametrize(
    "cursor",
    [
        "²",  # str.isdigit() says yes, int() says no
        "1²",
        "٣",  # an Arabic-Indic three: int() reads 3
        "１",  # a full-width one
        "+1",
        "-1",
        " 1",
        "1_000",
        "1" * 19,  # beyond the positions of the feed
        "abc",
    ],
)
def test_a_feed_cursor_is_ascii_digits(client: httpx.Client, writer: dict[str, str], cursor: str) -> None:
    read = client.get(CHANGES, headers=writer, params={"after": cursor})
    assert read.status_code == 400, read.text
    assert read.json()["type"] == "/problems/invalid-cursor"
    subscribed = client.post(SUBSCRIPTIONS, headers=writer, json={"url": "http://127.0.0.1:9/hook", "after": cursor})
    assert subscribed.status_code == 400, subscribed.text
    assert subscribed.json()["type"] == "/problems/invalid-cursor"


def test_a_feed_cursor_of_ascii_digits_reads_on(client: httpx.Client, writer: dict[str, str]) -> None:
    for cursor in ("0", "000"):
        assert client.get(CHANGES, headers=writer, params={"after": cursor}).status_code == 200
    # Eighteen digits are a cursor's form, but this one is beyond the end of the feed.
    beyond = client.get(CHANGES, headers=writer, params={"after": "9" * 18})
    assert beyond.status_code == 400 and "beyond the end of this change feed" in beyond.json()["detail"]


def _stored_fields(url: str, receipt_id: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with standalone_session(url) as session:
            row = (
                await session.exec(sa.select(ExchangeOperation).where(ExchangeOperation.receipt_id == receipt_id))
            ).one()  # type: ignore[call-overload,arg-type]
            return dict(row[0].fields)

    return asyncio.run(run())


def test_a_create_stores_and_delivers_only_the_fields_given(
    client: httpx.Client, gateway_url: str, population_url: str
) -> None:
    """A writer not granted ``nationality`` creates a citizen with the fields it is granted: the contract's
    default (``VN``) and the names derived from the address codes are not stored, delivered, nor listed in the
    change feed. The sector system, not the contract, decides what a column left out holds: the simulated table's
    own default for its nationality column."""
    credentials = make_exchange_client(gateway_url)
    granted = [name for name in Citizen.model_fields if name != "nationality"]

    async def grant() -> None:
        async with standalone_session(gateway_url) as session:
            spec = GrantCreate(
                client_id=credentials.client_id,
                database="population",
                operations=["read", "submit"],
                fields=granted,
            )
            await add_grant(session, spec)

    asyncio.run(grant())
    headers = {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}
    record = new_id(3)
    fields = citizen(record)
    fields.pop("nationality")
    address: dict[str, Any] = EXAMPLE["permanent_address"]
    fields["permanent_address"] = {k: v for k, v in address.items() if not k.endswith("_name")}
    response = submit(client, headers, [operation("create", record, fields)])
    assert response.status_code == 202, response.text
    receipt_id = response.json()["receipt_id"]
    stored = _stored_fields(gateway_url, receipt_id)
    assert "nationality" not in stored
    assert set(stored) == {name for name, value in fields.items() if value is not None}
    assert stored["permanent_address"] == fields["permanent_address"]
    assert stored["full_name"] == fields["full_name"]
    final = wait_delivered(client, headers, receipt_id)["accepted"][0]
    assert final["state"] == "delivered", final
    row = sector_row(population_url, record)
    assert row is not None and row["ho_ten"] == fields["full_name"]
    assert row["ma_quoc_tich"] == "VN"  # the sector table's server default: the gateway wrote no such column
    changes: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = client.get(CHANGES, headers=headers, params=params).json()
        changes += page["changes"]
        if not page["more"]:
            break
        params = {"limit": 100, "after": page["next_cursor"]}
    (change,) = [change for change in changes if change["record_id"] == record]
    assert "nationality" not in change.get("changed_fields", [])


def test_a_create_given_every_field_is_stored_and_delivered_whole(
    client: httpx.Client, writer: dict[str, str], gateway_url: str, population_url: str
) -> None:
    record = new_id(4)
    response = submit(client, writer, [operation("create", record, citizen(record, nationality="LA"))])
    assert response.status_code == 202, response.text
    receipt_id = response.json()["receipt_id"]
    assert _stored_fields(gateway_url, receipt_id)["nationality"] == "LA"
    assert wait_delivered(client, writer, receipt_id)["accepted"][0]["state"] == "delivered"
    row = sector_row(population_url, record)
    assert row is not None and row["ma_quoc_tich"] == "LA"


def test_an_update_that_would_make_the_record_break_the_contract_is_dead_lettered_and_the_record_stays_readable(
    client: httpx.Client, writer: dict[str, str], population_url: str
) -> None:
    """Each field of an update is valid alone; the record it would make is not: a personal id whose gender digit
    says female, and a gender of male. The update is never sent (the record stays as it was, and readable), and
    the dead letter names the rule broken, never a value of the record (which the writer may not read: a date of
    death before the date of birth does not tell the date of birth); another record's valid update in the same
    submission is delivered."""
    broken, mended, dead = new_id(7), new_id(8), new_id(9)
    for record in (broken, mended, dead):
        created = submit(client, writer, [operation("create", record, citizen(record))])
        assert wait_delivered(client, writer, created.json()["receipt_id"])["accepted"][0]["state"] == "delivered"
    response = submit(
        client,
        writer,
        [
            operation("update", broken, {"gender": "male"}),
            operation("update", mended, {"marital_status": "married"}),
            operation("update", dead, {"date_of_death": "1850-01-02"}),
        ],
    )
    assert response.status_code == 202, response.text
    accepted = wait_delivered(client, writer, response.json()["receipt_id"])["accepted"]
    by_record = {entry["record_id"]: entry for entry in accepted}
    assert by_record[broken]["state"] == "dead", by_record[broken]
    assert "would make the record break the contract" in by_record[broken]["last_error"]
    assert "gender: invalid value (gender_mismatch)" in by_record[broken]["last_error"]
    assert by_record[dead]["state"] == "dead", by_record[dead]
    assert "date_of_death: invalid value (death_before_birth)" in by_record[dead]["last_error"]
    stored = citizen(dead)
    for error in (by_record[broken]["last_error"], by_record[dead]["last_error"]):
        assert stored["date_of_birth"] not in error and dead not in error and broken not in error, error
    assert by_record[mended]["state"] == "delivered", by_record[mended]
    row = sector_row(population_url, broken)
    assert row is not None and row["gioi_tinh"] == 2  # female, as created: the update was never sent
    read = client.get(f"/v1/databases/population/records/{broken}", headers=writer)
    assert read.status_code == 200, read.text
    assert read.json()["gender"] == "female"


def test_an_officer_other_than_the_requests_actor_is_refused(
    client: httpx.Client, writer: dict[str, str], population_url: str
) -> None:
    """The audit trail names the request's X-Actor-Id: an operation telling the sector system another officer made
    the change is rejected; the same officer, or none (the header's is given), is accepted."""
    seeded = seeded_row(population_url, 2)
    record = seeded["so_dinh_danh"]
    change = operation("update", record, {"marital_status": "divorced"})
    other = {**change, "metadata": {**change.get("metadata", {}), "officer": "CB-068-9999"}}
    refused = submit(client, writer, [other])
    assert refused.status_code == 422, refused.text
    (rejected,) = refused.json()["rejected"]
    assert rejected["problem"]["detail"] == (
        "metadata.officer is not the request's X-Actor-Id: an operation is made by the officer the request names "
        "(leave it out, or give the same)."
    )
    assert sector_row(population_url, record) == seeded
    same = {**change, "metadata": {**change.get("metadata", {}), "officer": writer["X-Actor-Id"]}}
    assert submit(client, writer, [same]).status_code == 202
