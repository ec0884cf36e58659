"""The audit trail as callers meet it: every exchange, allowed or refused, is committed before its answer leaves
(with client, actor, purpose, database, operation, record ids, outcome, status, latency and the SHA-256 of the
body, never the data); ``GET /v1/audit`` searches it by client, database, purpose, time and data subject."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from audit_events import events_of, run_sql, the_event
from prometheus_client.parser import text_string_to_metric_families
from support import STATED, ClientCredentials, InProcessGateway, PlantedSearch, fetch_token

from gateway.audit.events import event_hash
from gateway.audit.query import AuditFilters
from gateway.audit.storage import SUBJECTS
from gateway.audit.verify import data_keys_of, verify_trail
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.grants import GrantCreate, add_grant
from simulators.population import CITIZENS

RECORDS = "/v1/databases/population/records"
SEARCH = "/v1/databases/population/search"


def new_id() -> str:
    return f"audit-test-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def personal_ids(sector_url: str) -> list[str]:
    rows = run_sql(sector_url, sa.select(CITIZENS.c.so_dinh_danh).order_by(CITIZENS.c.so_dinh_danh).limit(40))
    return [row["so_dinh_danh"] for row in rows]


@pytest.fixture(scope="module")
def auditor(make_client: Callable[..., ClientCredentials]) -> ClientCredentials:
    return make_client("audit")


@pytest.fixture(scope="module")
def audit_headers(api: httpx.Client, auditor: ClientCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(api, auditor)}"}


# --- what an exchange writes -------------------------------------------------------------------------------------


def test_an_allowed_read_is_committed_before_the_answer_leaves(
    api: httpx.Client,
    bearer: dict[str, str],
    reader: ClientCredentials,
    gateway_database_url: str,
    personal_ids: list[str],
) -> None:
    request_id = new_id()
    before = datetime.now(UTC)
    response = api.get(f"{RECORDS}/{personal_ids[0]}", headers={**bearer, "X-Request-Id": request_id})
    assert response.status_code == 200
    # Read at once, by another connection: the event was committed before the answer was sent.
    event = the_event(gateway_database_url, request_id)
    assert event["client_id"] == reader.client_id
    assert event["purpose"] == STATED["X-Purpose"]
    assert event["actor"] == STATED["X-Actor-Id"]
    assert (event["database"], event["operation"]) == ("population", "read")
    assert event["record_ids"] == [personal_ids[0]]
    assert (event["outcome"], event["status"], event["reason"]) == ("allowed", 200, None)
    assert event["response_sha256"] == hashlib.sha256(response.content).hexdigest()
    assert before - timedelta(seconds=1) <= event["occurred_at"] <= datetime.now(UTC)
    assert 0 < event["latency_ms"] < 30_000
    subjects = run_sql(gateway_database_url, sa.select(SUBJECTS).where(SUBJECTS.c.seq == event["seq"]))
    assert subjects == [{"subject_id": personal_ids[0], "seq": event["seq"]}]


def test_an_event_holds_identifiers_never_the_personal_data(
    api: httpx.Client, bearer: dict[str, str], gateway_database_url: str, personal_ids: list[str]
) -> None:
    request_id = new_id()
    body = api.get(f"{RECORDS}/{personal_ids[1]}", headers={**bearer, "X-Request-Id": request_id}).json()
    event = the_event(gateway_database_url, request_id)
    stored = repr(sorted(event.items()))
    for value in (body["full_name"], body["date_of_birth"], body["permanent_address"]["line"]):
        assert str(value) not in stored


def test_a_search_records_every_record_returned(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch, gateway_database_url: str
) -> None:
    request_id = new_id()
    response = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": 10},
        headers={**bearer, "X-Request-Id": request_id},
    )
    assert response.status_code == 200
    returned = [item["personal_id"] for item in response.json()["items"]]
    assert len(returned) == 10
    event = the_event(gateway_database_url, request_id)
    assert (event["operation"], event["outcome"]) == ("search", "allowed")
    assert event["record_ids"] == returned
    subjects = run_sql(gateway_database_url, sa.select(SUBJECTS.c.subject_id).where(SUBJECTS.c.seq == event["seq"]))
    assert sorted(row["subject_id"] for row in subjects) == sorted(returned)


def test_refused_data_requests_are_audited_with_their_reason(
    api: httpx.Client,
    bearer: dict[str, str],
    reader: ClientCredentials,
    make_client: Callable[..., ClientCredentials],
    gateway_database_url: str,
    personal_ids: list[str],
) -> None:
    search_only = make_client("population:search")
    search_only_token = fetch_token(api, search_only)
    # A refused read names the record it asked for: the citizen's question finds the attempt.
    asked = [personal_ids[2]]
    cases: list[tuple[dict[str, str], str, int, str, str | None, list[str]]] = [
        # The precise reason of a refused token is audited (and counted), never answered.
        ({}, personal_ids[2], 401, "invalid-token:missing", None, asked),
        ({"Authorization": "Bearer not.a.token"}, personal_ids[2], 401, "invalid-token:malformed", None, asked),
        (
            {"Authorization": f"Bearer {search_only_token}", **STATED},
            personal_ids[2],
            403,
            "insufficient-scope",
            search_only.client_id,
            asked,
        ),
        ({"Authorization": bearer["Authorization"]}, personal_ids[2], 400, "bad-header", reader.client_id, asked),
        (bearer, "123", 422, "validation-error", reader.client_id, ["123"]),
        (bearer, "068099000000", 404, "record-not-found", reader.client_id, ["068099000000"]),
    ]
    for headers, record_id, status, reason, client_id, record_ids in cases:
        request_id = new_id()
        response = api.get(f"{RECORDS}/{record_id}", headers={**headers, "X-Request-Id": request_id})
        assert response.status_code == status, (reason, response.text)
        event = the_event(gateway_database_url, request_id)
        assert (event["outcome"], event["status"], event["reason"]) == ("refused", status, reason)
        assert (event["database"], event["operation"]) == ("population", "read")
        assert event["client_id"] == client_id
        assert event["record_ids"] == record_ids
        assert event["response_sha256"] == hashlib.sha256(response.content).hexdigest()


def test_a_refused_request_keeps_the_purpose_and_actor_it_stated(
    api: httpx.Client, gateway_database_url: str, personal_ids: list[str]
) -> None:
    request_id = new_id()
    headers = {**STATED, "X-Request-Id": request_id}
    assert api.get(f"{RECORDS}/{personal_ids[3]}", headers=headers).status_code == 401
    event = the_event(gateway_database_url, request_id)
    assert (event["purpose"], event["actor"]) == (STATED["X-Purpose"], STATED["X-Actor-Id"])
    request_id = new_id()
    hostile = {"X-Purpose": "x" * 200, "X-Actor-Id": "a b;c", "X-Request-Id": request_id}
    assert api.get(f"{RECORDS}/{personal_ids[3]}", headers=hostile).status_code == 401
    event = the_event(gateway_database_url, request_id)
    assert (event["purpose"], event["actor"]) == (None, None)


def test_the_token_endpoint_is_audited_with_the_client_claimed(
    api: httpx.Client, reader: ClientCredentials, gateway_database_url: str
) -> None:
    form = {"grant_type": "client_credentials"}
    request_id = new_id()
    auth = (reader.client_id, reader.client_secret)
    ok = api.post("/oauth/token", data=form, auth=auth, headers={"X-Request-Id": request_id})
    assert ok.status_code == 200
    event = the_event(gateway_database_url, request_id)
    assert (event["operation"], event["database"], event["client_id"]) == ("token", None, reader.client_id)
    assert (event["outcome"], event["status"], event["record_ids"]) == ("allowed", 200, [])
    assert event["response_sha256"] == hashlib.sha256(ok.content).hexdigest()

    request_id = new_id()
    wrong = {**form, "client_id": reader.client_id, "client_secret": "wrong-secret"}
    refused = api.post("/oauth/token", data=wrong, headers={"X-Request-Id": request_id})
    assert refused.status_code == 401
    event = the_event(gateway_database_url, request_id)
    assert (event["client_id"], event["outcome"], event["status"]) == (reader.client_id, "refused", 401)
    assert event["reason"] == "oauth-error:invalid_client"
    assert "wrong-secret" not in repr(event)


def test_admin_routes_are_audited(
    api: httpx.Client, token: str, reader: ClientCredentials, gateway_database_url: str
) -> None:
    request_id = new_id()
    response = api.get("/v1/admin/clients", headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id})
    assert response.status_code == 403
    event = the_event(gateway_database_url, request_id)
    assert (event["operation"], event["client_id"], event["outcome"]) == ("admin", reader.client_id, "refused")


@pytest.mark.parametrize(
    "path", ["/healthz", "/metrics", "/openapi.json", "/problems", "/v1/contracts", "/v1/databases/nowhere/records/1"]
)
def test_operational_and_unknown_routes_are_not_audited(
    api: httpx.Client, gateway_database_url: str, path: str
) -> None:
    request_id = new_id()
    api.get(path, headers={"X-Request-Id": request_id})
    assert events_of(gateway_database_url, request_id) == []


def test_the_audit_metric_counts_committed_events_by_outcome(
    api: httpx.Client, bearer: dict[str, str], personal_ids: list[str]
) -> None:
    def counts() -> dict[str, float]:
        families = text_string_to_metric_families(api.get("/metrics").text)
        return {
            sample.labels["outcome"]: sample.value
            for family in families
            if family.name == "gateway_audit_events"
            for sample in family.samples
            if sample.name == "gateway_audit_events_total"
        }

    before = counts()
    assert set(before) == {"allowed", "refused", "failed"}
    assert api.get(f"{RECORDS}/{personal_ids[4]}", headers=bearer).status_code == 200
    assert api.get(f"{RECORDS}/{personal_ids[4]}").status_code == 401
    after = counts()
    assert after["allowed"] == before["allowed"] + 1
    assert after["refused"] == before["refused"] + 1
    assert after["failed"] == before["failed"]


# --- GET /v1/audit ---------------------------------------------------------------------------------------------------


def test_the_audit_api_needs_the_audit_scope(
    api: httpx.Client, bearer: dict[str, str], reader: ClientCredentials, gateway_database_url: str
) -> None:
    assert api.get("/v1/audit").status_code == 401
    request_id = new_id()
    response = api.get("/v1/audit", headers={**bearer, "X-Request-Id": request_id})
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/insufficient-scope"
    event = the_event(gateway_database_url, request_id)
    assert (event["operation"], event["client_id"], event["reason"]) == (
        "audit",
        reader.client_id,
        "insufficient-scope",
    )


def test_who_looked_at_this_citizen(
    api: httpx.Client,
    bearer: dict[str, str],
    reader: ClientCredentials,
    audit_headers: dict[str, str],
    auditor: ClientCredentials,
    gateway_database_url: str,
    personal_ids: list[str],
) -> None:
    citizen = personal_ids[5]
    other = personal_ids[6]
    looks = []
    # Other tests on the suite's database may have read this citizen before: the query starts with this test.
    since = datetime.now(UTC).isoformat()
    for _ in range(3):
        request_id = new_id()
        assert api.get(f"{RECORDS}/{citizen}", headers={**bearer, "X-Request-Id": request_id}).status_code == 200
        looks.append(request_id)
    assert api.get(f"{RECORDS}/{other}", headers=bearer).status_code == 200
    query_id = new_id()
    response = api.get(
        "/v1/audit",
        params={"subject": citizen, "since": since},
        headers={**audit_headers, "X-Request-Id": query_id},
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["request_id"] for item in items] == list(reversed(looks))  # newest first
    for item in items:
        assert item["client_id"] == reader.client_id
        assert (item["purpose"], item["actor"]) == (STATED["X-Purpose"], STATED["X-Actor-Id"])
        assert citizen in item["record_ids"]
        assert datetime.fromisoformat(item["occurred_at"]).tzinfo is not None
    # The question itself is audited, with the citizen looked up: it shows in the next answer.
    event = the_event(gateway_database_url, query_id)
    assert (event["operation"], event["client_id"], event["record_ids"]) == ("audit", auditor.client_id, [citizen])
    again = api.get("/v1/audit", params={"subject": citizen}, headers=audit_headers).json()["items"]
    assert again[0]["request_id"] == query_id


def test_filters_combine(
    api: httpx.Client,
    bearer: dict[str, str],
    reader: ClientCredentials,
    audit_headers: dict[str, str],
    personal_ids: list[str],
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    assert api.get(f"{RECORDS}/{personal_ids[7]}", headers=bearer).status_code == 200
    assert api.get(f"{RECORDS}/068099000001", headers=bearer).status_code == 404
    params: dict[str, str] = {"client": reader.client_id, "database": "population", "since": since.isoformat()}
    everything = api.get("/v1/audit", params={**params, "limit": "500"}, headers=audit_headers).json()["items"]
    assert {item["outcome"] for item in everything} == {"allowed", "refused"}
    assert all(item["client_id"] == reader.client_id for item in everything)
    refused = api.get("/v1/audit", params={**params, "outcome": "refused"}, headers=audit_headers).json()["items"]
    assert refused
    assert all(item["outcome"] == "refused" for item in refused)
    assert {item["seq"] for item in refused} < {item["seq"] for item in everything}
    purpose = api.get(
        "/v1/audit", params={**params, "purpose": STATED["X-Purpose"], "operation": "read"}, headers=audit_headers
    ).json()["items"]
    assert purpose
    assert all(item["purpose"] == STATED["X-Purpose"] and item["operation"] == "read" for item in purpose)
    future = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()  # naive: taken as UTC
    assert api.get("/v1/audit", params={"since": future}, headers=audit_headers).json()["items"] == []
    until_then = api.get("/v1/audit", params={**params, "until": since.isoformat()}, headers=audit_headers).json()
    assert all(datetime.fromisoformat(item["occurred_at"]) < since for item in until_then["items"])


def test_pages_follow_the_chain_without_gaps_or_repeats(
    api: httpx.Client, bearer: dict[str, str], audit_headers: dict[str, str], personal_ids: list[str]
) -> None:
    for personal_id in personal_ids[10:17]:
        assert api.get(f"{RECORDS}/{personal_id}", headers=bearer).status_code == 200
    for order in ("desc", "asc"):
        params = {"database": "population", "operation": "read", "limit": "3", "order": order}
        full = api.get("/v1/audit", params={**params, "limit": "500"}, headers=audit_headers).json()
        seqs: list[int] = []
        cursor = None
        while True:
            page = api.get(
                "/v1/audit", params={**params, **({"cursor": cursor} if cursor else {})}, headers=audit_headers
            )
            assert page.status_code == 200, page.text
            body = page.json()
            assert len(body["items"]) <= 3
            seqs.extend(item["seq"] for item in body["items"])
            cursor = body["next_cursor"]
            if cursor is None or len(seqs) >= 30:
                break
        assert len(seqs) == len(set(seqs))
        assert seqs == sorted(seqs, reverse=order == "desc")
        everything = [item["seq"] for item in full["items"]]
        assert seqs == everything[: len(seqs)]
        if cursor is None and full["next_cursor"] is None:
            assert seqs == everything


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor!"},
        {"cursor": "eyJhZnRlciI6IDF9"},
        {"limit": "0"},
        {"limit": "100000"},
        {"outcome": "maybe"},
        {"since": "yesterday"},
        {"until": "0001-01-01T00:00:00+01:00"},  # the year 0 in UTC
        {"since": "9999-12-31T23:59:59-14:00"},  # the year 10000 in UTC
        {"subject": "' OR 1=1 --"},
        {"no_such_filter": "1"},
    ],
)
def test_bad_queries_are_problems(api: httpx.Client, audit_headers: dict[str, str], params: dict[str, str]) -> None:
    response = api.get("/v1/audit", params=params, headers=audit_headers)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    expected = "/problems/invalid-cursor" if "cursor" in params else "/problems/validation-error"
    assert response.json()["type"] == expected


def test_an_allowed_read_names_the_fields_its_grant_let_it_carry(
    api: httpx.Client,
    bearer: dict[str, str],
    audit_headers: dict[str, str],
    gateway_database_url: str,
    personal_ids: list[str],
) -> None:
    """What personal data an agency saw, not only of whom: the fields of a narrow grant, or `*` for a grant on every
    field; a refusal names none. Hashed with the event, verified by `gateway audit verify`."""

    async def narrow_reader() -> ClientCredentials:
        client_id = f"fields-{uuid.uuid4().hex[:10]}"
        async with standalone_session(gateway_database_url) as session:
            _client, secret = await create_client(session, name="Fields test", client_id=client_id)
            await add_grant(
                session,
                GrantCreate(
                    client_id=client_id,
                    database="population",
                    operations=["read"],
                    fields=["full_name", "date_of_birth"],
                ),
            )
        return ClientCredentials(client_id, secret)

    narrow = asyncio.run(narrow_reader())
    narrow_headers = {"Authorization": f"Bearer {fetch_token(api, narrow)}", **STATED}
    seen = {}
    for name, headers in (
        ("narrow", narrow_headers),
        ("every", bearer),
        ("refused", {"Authorization": narrow_headers["Authorization"]}),
    ):
        request_id = new_id()
        response = api.get(f"{RECORDS}/{personal_ids[1]}", headers={**headers, "X-Request-Id": request_id})
        assert response.status_code == (200 if name != "refused" else 400), response.text
        seen[name] = the_event(gateway_database_url, request_id)
    assert seen["narrow"]["fields"] == ["date_of_birth", "full_name"]
    assert set(api.get(f"{RECORDS}/{personal_ids[1]}", headers=narrow_headers).json()) <= {
        "so_dinh_danh",
        "personal_id",
        "full_name",
        "date_of_birth",
    }
    assert seen["every"]["fields"] == ["*"]
    assert seen["refused"]["fields"] is None
    found = api.get("/v1/audit", params={"client": narrow.client_id}, headers=audit_headers).json()["items"]
    assert {item["request_id"]: item["fields"] for item in found}[seen["narrow"]["request_id"]] == [
        "date_of_birth",
        "full_name",
    ]
    # The names are covered by the event's hash: changed or dropped, the event no longer verifies.
    narrowed = seen["narrow"]
    assert event_hash(narrowed) == narrowed["hash"]
    assert event_hash({**narrowed, "fields": ["date_of_birth", "full_name", "permanent_address"]}) != narrowed["hash"]
    assert event_hash({**narrowed, "fields": None}) != narrowed["hash"]


def test_a_time_filter_is_one_the_trail_can_be_compared_with(api: httpx.Client, audit_headers: dict[str, str]) -> None:
    """A bound whose time in UTC lies outside the years 1 to 9999 is a 422 naming it (it was a 500: the database
    could not be given it); the first and last times there are, in UTC or without offset, are bounds like any."""
    for name, value in (("until", "0001-01-01T00:00:00+01:00"), ("since", "9999-12-31T23:59:59-14:00")):
        response = api.get("/v1/audit", params={name: value}, headers=audit_headers)
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert error["loc"] == ["query", name] and error["type"] == "datetime_out_of_range"
    for params in ({"since": "0001-01-01T00:00:00"}, {"until": "9999-12-31T23:59:59+00:00", "limit": "1"}):
        response = api.get("/v1/audit", params=params, headers=audit_headers)
        assert response.status_code == 200, response.text
    assert api.get("/v1/audit", params={"until": "0001-01-01T00:00:00Z"}, headers=audit_headers).json()["items"] == []


def test_a_cursor_is_bound_to_its_filters(api: httpx.Client, audit_headers: dict[str, str]) -> None:
    page = api.get("/v1/audit", params={"operation": "read", "limit": "1"}, headers=audit_headers).json()
    assert page["next_cursor"]
    elsewhere = api.get(
        "/v1/audit", params={"operation": "search", "limit": "1", "cursor": page["next_cursor"]}, headers=audit_headers
    )
    assert elsewhere.status_code == 400
    assert elsewhere.json()["type"] == "/problems/invalid-cursor"


@pytest.mark.parametrize("after", [2**63, 2**64 - 1])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_a_cursor_beyond_any_seq_is_a_problem(
    api: httpx.Client, audit_headers: dict[str, str], after: int, order: str
) -> None:
    """A cursor is not secret (its filters' fingerprint can be computed): one naming a seq no database column holds
    is refused as malformed (it was a 500: the database could not be given it)."""
    fingerprint = AuditFilters(order=order).fingerprint()  # type: ignore[arg-type]
    raw = b'{"after":%d,"for":"%s"}' % (after, fingerprint.encode())
    cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    response = api.get("/v1/audit", params={"order": order, "cursor": cursor}, headers=audit_headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/invalid-cursor"


# --- no answer leaves unaudited ------------------------------------------------------------------------------------


@pytest.fixture
def own_gateway(
    make_settings: Callable[..., Settings], tmp_path: Path, sector_url: str
) -> Iterator[tuple[InProcessGateway, str, Settings, ClientCredentials]]:
    """A gateway on a database of its own (SQLite), with a reader client."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrations.upgrade(url)

    async def create() -> ClientCredentials:
        from gateway.core.db import standalone_session
        from gateway.identity.clients import create_client

        async with standalone_session(url) as session:
            client, secret = await create_client(session, name="Reader", scopes=["population:read"], client_id="r1")
            return ClientCredentials(client.client_id, secret)

    credentials = asyncio.run(create())
    settings = make_settings(database_url=url, data_dir=tmp_path, audit_write_timeout_seconds=2)
    with InProcessGateway(create_app(settings)) as gateway:
        yield gateway, url, settings, credentials


def test_when_the_trail_cannot_be_written_the_answer_is_withheld(
    own_gateway: tuple[InProcessGateway, str, Settings, ClientCredentials], personal_ids: list[str]
) -> None:
    gateway, url, settings, credentials = own_gateway
    with gateway.client() as client:
        headers = {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}
        assert client.get(f"{RECORDS}/{personal_ids[0]}", headers=headers).status_code == 200
        run_sql(url, sa.text("ALTER TABLE audit_events RENAME TO audit_events_away"))
        try:
            withheld = client.get(f"{RECORDS}/{personal_ids[1]}", headers=headers)
            refused = client.get(f"{RECORDS}/{personal_ids[1]}")
        finally:
            run_sql(url, sa.text("ALTER TABLE audit_events_away RENAME TO audit_events"))
        for response in (withheld, refused):
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["retry-after"]
            assert response.json()["type"] == "/problems/audit-unavailable"
            assert set(response.json()) == {"type", "title", "status", "detail", "instance"}  # no data
            assert "audit_events" not in response.text
        failures = [
            sample.value
            for family in text_string_to_metric_families(client.get("/metrics").text)
            for sample in family.samples
            if sample.name == "gateway_audit_write_failures_total"
        ]
        assert failures
        assert failures[0] >= 2
        # Once the trail can be written again, answers flow again and the chain is whole.
        assert client.get(f"{RECORDS}/{personal_ids[1]}", headers=headers).status_code == 200

    async def verify() -> Any:
        engine = create_engine(url)
        try:
            return await verify_trail(engine, data_keys=data_keys_of(settings))
        finally:
            await engine.dispose()

    report = asyncio.run(verify())
    assert report.ok, report.summary()
    assert report.events == 3  # the token, the first read, the last read; the withheld ones are not there
