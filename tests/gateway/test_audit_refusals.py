"""Refusals are audited like any other exchange, whoever refuses them: the request limits before any route is
found (a body too large, malformed JSON), the rate limiter and the live client checks after the token was verified
(the event names the client whose token it was), the token endpoint whatever its form holds. One gateway of this
module's own (in process, on the suite's database: SQLite, or PostgreSQL under GATEWAY_TEST_DATABASE_URL), with a
population database that accepts submissions and a small body limit."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from audit_events import events_of, the_event
from support import STATED, ClientCredentials, InProcessGateway, fetch_token

from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client

MAX_BODY = 32_768
RECORDS = "/v1/databases/population/records"
SEARCH = "/v1/databases/population/search"
READ = f"{RECORDS}/068099000001"
PROBLEM = "application/problem+json"


def new_id() -> str:
    return f"refusal-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def gateway(make_settings: Callable[..., Settings], sector_url: str) -> Iterator[InProcessGateway]:
    settings = make_settings(
        connectors={"population": {"config": {"url": sector_url, "writes": {}}}},
        max_body_bytes=MAX_BODY,
        rate_limit_per_second=0,
        rate_limit_per_day=0,
    )
    with InProcessGateway(create_app(settings)) as running:
        yield running


@pytest.fixture(scope="module")
def client(gateway: InProcessGateway) -> Iterator[httpx.Client]:
    with gateway.client() as http:
        yield http


def new_client(url: str, *scopes: str, per_second: int | None = None) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            made, secret = await create_client(
                session,
                name="Refusal test",
                scopes=scopes,
                client_id=f"rf-{uuid.uuid4().hex[:10]}",
                rate_limit_per_second=per_second,
            )
            return ClientCredentials(made.client_id, secret)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def writer(client: httpx.Client, gateway_database_url: str) -> tuple[str, dict[str, str]]:
    credentials = new_client(gateway_database_url, "population:read", "population:search", "population:submit")
    return credentials.client_id, {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}


@pytest.fixture(scope="module")
def auditor(client: httpx.Client, gateway_database_url: str) -> dict[str, str]:
    credentials = new_client(gateway_database_url, "audit")
    return {"Authorization": f"Bearer {fetch_token(client, credentials)}"}


# -- answered before any route is found --------------------------------------------------------------------------

MALFORMED = b'{"full_name":'
TOO_LARGE = b'{"full_name": "' + b"x" * (MAX_BODY + 10) + b'"}'
JSON = {"Content-Type": "application/json"}

CASES = [
    # (method, path, operation, body, headers, status, problem type)
    ("POST", SEARCH, "search", MALFORMED, JSON, 400, "malformed-json"),
    ("POST", SEARCH, "search", b'{"full_name": "A", "full_name": "B"}', JSON, 400, "malformed-json"),
    ("POST", SEARCH, "search", TOO_LARGE, JSON, 413, "content-too-large"),
    ("POST", SEARCH, "search", b"full_name=A", {"Content-Type": "text/plain"}, 415, "unsupported-media-type"),
    ("POST", RECORDS, "submit", MALFORMED, {**JSON, "Idempotency-Key": "k-1"}, 400, "malformed-json"),
    ("POST", RECORDS, "submit", TOO_LARGE, {**JSON, "Idempotency-Key": "k-2"}, 413, "content-too-large"),
    ("POST", RECORDS, "submit", b'{"operations": 1}', {**JSON, "Idempotency-Key": "k-3"}, 422, "validation-error"),
    ("GET", READ, "read", TOO_LARGE, JSON, 413, "content-too-large"),
]


@pytest.mark.parametrize(
    ("method", "path", "operation", "body", "headers", "status", "slug"),
    CASES,
    ids=[f"{case[2]}-{case[5]}-{case[6]}" for case in CASES],
)
def test_a_refused_body_on_a_data_route_is_audited_once(
    client: httpx.Client,
    writer: tuple[str, dict[str, str]],
    gateway_database_url: str,
    method: str,
    path: str,
    operation: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    slug: str,
) -> None:
    for who, authorization in (("anonymous", {}), ("writer", writer[1])):
        request_id = new_id()
        response = client.request(
            method, path, content=body, headers={**authorization, **headers, "X-Request-Id": request_id}
        )
        expected = 401 if who == "anonymous" and status in (415, 422) else status  # a routed request: its token first
        assert response.status_code == expected, response.text
        assert response.headers["content-type"] == PROBLEM
        event = the_event(gateway_database_url, request_id)
        assert (event["database"], event["operation"]) == ("population", operation)
        assert (event["outcome"], event["status"]) == ("refused", expected)
        assert event["reason"].startswith("invalid-token" if expected == 401 else slug), event["reason"]
        assert event["response_sha256"] == hashlib.sha256(response.content).hexdigest()
        assert (event["purpose"], event["actor"]) == (
            (STATED["X-Purpose"], STATED["X-Actor-Id"]) if who == "writer" else (None, None)
        )


def test_a_method_a_data_route_does_not_take_is_audited(client: httpx.Client, gateway_database_url: str) -> None:
    request_id = new_id()
    response = client.delete(SEARCH, headers={"X-Request-Id": request_id})
    assert response.status_code == 405, response.text
    event = the_event(gateway_database_url, request_id)
    assert (event["database"], event["operation"], event["status"]) == ("population", "search", 405)


def test_unknown_databases_and_paths_stay_unaudited(client: httpx.Client, gateway_database_url: str) -> None:
    for path in ("/v1/databases/nowhere/search", "/v1/databases/population/nothing"):
        request_id = new_id()
        response = client.post(path, content=MALFORMED, headers={**JSON, "X-Request-Id": request_id})
        assert response.status_code == 400, response.text
        assert events_of(gateway_database_url, request_id) == []


# -- refused after the token was verified: the event names its client ------------------------------------------


def test_rate_limited_requests_are_audited_with_their_client(
    client: httpx.Client, gateway_database_url: str, auditor: dict[str, str]
) -> None:
    limited = new_client(gateway_database_url, "population:read", "population:search", per_second=2)
    headers = {"Authorization": f"Bearer {fetch_token(client, limited)}", **STATED}
    for _attempt in range(5):  # six requests within one second; the machine may be slow: try again
        started = time.monotonic()
        answers: list[tuple[str, httpx.Response]] = []
        for n in range(6):
            request_id = new_id()
            if n % 2:
                response = client.post(
                    SEARCH, json={"full_name": "Nguyễn Văn A"}, headers={**headers, "X-Request-Id": request_id}
                )
            else:
                response = client.get(READ, headers={**headers, "X-Request-Id": request_id})
            answers.append((request_id, response))
        if time.monotonic() - started < 1:
            break
        time.sleep(1.1)
    refused = [(request_id, response) for request_id, response in answers if response.status_code == 429]
    assert refused, [response.status_code for _id, response in answers]
    for request_id, response in refused:
        assert response.json()["type"] == "/problems/rate-limited"
        event = the_event(gateway_database_url, request_id)
        assert (event["client_id"], event["status"], event["reason"]) == (limited.client_id, 429, "rate-limited")
        assert event["database"] == "population"
    found = client.get("/v1/audit", params={"client": limited.client_id, "limit": "100"}, headers=auditor)
    assert found.status_code == 200, found.text
    listed = {item["request_id"] for item in found.json()["items"] if item["status"] == 429}
    assert listed == {request_id for request_id, _response in refused}


def test_a_suspended_clients_token_is_refused_and_audited_with_its_client(
    client: httpx.Client, gateway_database_url: str, auditor: dict[str, str]
) -> None:
    suspended = new_client(gateway_database_url, "population:read")
    headers = {"Authorization": f"Bearer {fetch_token(client, suspended)}", **STATED}
    admin = new_client(gateway_database_url, "admin")
    admin_headers = {"Authorization": f"Bearer {fetch_token(client, admin)}"}
    answer = client.post(f"/v1/admin/clients/{suspended.client_id}/suspend", headers=admin_headers)
    assert answer.status_code == 200, answer.text
    request_id = new_id()
    response = client.get(READ, headers={**headers, "X-Request-Id": request_id})
    assert response.status_code == 401, response.text
    assert response.json()["type"] == "/problems/invalid-token"
    event = the_event(gateway_database_url, request_id)
    assert (event["client_id"], event["reason"]) == (suspended.client_id, "invalid-token:client_inactive")
    found = client.get("/v1/audit", params={"client": suspended.client_id}, headers=auditor).json()["items"]
    assert request_id in {item["request_id"] for item in found}


def test_a_token_that_fails_verification_names_no_client(client: httpx.Client, gateway_database_url: str) -> None:
    request_id = new_id()
    response = client.get(READ, headers={"Authorization": "Bearer a.b.c", **STATED, "X-Request-Id": request_id})
    assert response.status_code == 401
    assert the_event(gateway_database_url, request_id)["client_id"] is None


# -- the token endpoint, whatever its form holds -----------------------------------------------------------------


def _form(client_id: str, secret: str, extra: int) -> bytes:
    fields = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
    return (fields + "".join(f"&j{n}=1" for n in range(extra))).encode()


@pytest.mark.parametrize("extra", [40, 1500])
def test_a_token_request_with_many_fields_is_answered_and_audited(
    client: httpx.Client, gateway_database_url: str, extra: int
) -> None:
    credentials = new_client(gateway_database_url, "population:read")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for secret, answered in (("WRONG", 401), (credentials.client_secret, 200)):
        body = _form(credentials.client_id, secret, extra)
        assert len(body) < MAX_BODY
        status = 400 if extra > 1000 else answered  # beyond the fields the form parser reads: a malformed request
        request_id = new_id()
        response = client.post("/oauth/token", content=body, headers={**form, "X-Request-Id": request_id})
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == ("application/json" if status == 200 else PROBLEM)
        event = the_event(gateway_database_url, request_id)
        assert (event["operation"], event["status"]) == ("token", status)
        assert event["client_id"] == credentials.client_id
        assert "WRONG" not in repr(event)


# -- a refused read names the record it asked for ----------------------------------------------------------------


def test_a_refused_read_names_the_record_it_asked_for(
    client: httpx.Client, gateway_database_url: str, auditor: dict[str, str]
) -> None:
    """Who tried to see a citizen's record and was refused (no purpose stated, no grant, a suspended client's token):
    the citizen's question ``GET /v1/audit?subject=`` finds the attempt, as it finds the reads allowed."""
    unscoped = new_client(gateway_database_url, "population:search")
    reader = new_client(gateway_database_url, "population:read")
    subject = f"0680{uuid.uuid4().int % 10**8:08d}"
    path = f"{RECORDS}/{subject}"
    attempts = [
        ({"Authorization": f"Bearer {fetch_token(client, unscoped)}", **STATED}, 403),
        ({"Authorization": f"Bearer {fetch_token(client, reader)}"}, 400),  # no X-Purpose, no X-Actor-Id
    ]
    request_ids = []
    for headers, status in attempts:
        request_id = new_id()
        response = client.get(path, headers={**headers, "X-Request-Id": request_id})
        assert response.status_code == status, response.text
        event = the_event(gateway_database_url, request_id)
        assert (event["outcome"], event["record_ids"]) == ("refused", [subject]), event
        request_ids.append(request_id)
    found = client.get("/v1/audit", params={"subject": subject}, headers=auditor).json()["items"]
    assert {item["request_id"] for item in found} >= set(request_ids)
    # What was asked is recorded only when it is an identifier (1-64 sane characters), never a whole path's worth.
    request_id = new_id()
    long = "9" * 200
    response = client.get(f"{RECORDS}/{long}", headers={**attempts[1][0], "X-Request-Id": request_id})
    assert response.status_code == 400
    assert the_event(gateway_database_url, request_id)["record_ids"] == []


@pytest.mark.parametrize("claimed", ["ab\n", "ab\r\nX-Injected: 1", "ab\x00"])
def test_a_client_id_that_is_no_identifier_is_not_recorded_as_claimed(
    client: httpx.Client, gateway_database_url: str, claimed: str
) -> None:
    """A token request claiming a client id with a line break or a NUL: refused, and recorded with no client (the
    trail would otherwise hold a line that a reader of its exports takes for two)."""
    request_id = new_id()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": claimed, "client_secret": "x"},
        headers={"X-Request-Id": request_id},
    )
    assert response.status_code in {400, 401}, response.text
    event = the_event(gateway_database_url, request_id)
    assert (event["operation"], event["client_id"]) == ("token", None)
