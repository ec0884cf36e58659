"""Every error is RFC 9457 problem details and every request carries a sane request id, asked of the gateway in
process. Hostile requests written byte for byte on a socket, which an HTTP client library would refuse to send, are
in ``test_problem_details_live.py``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from problem_checks import HEX_ID, NESTED_ARRAYS, NESTED_OBJECTS, RECORDS, REQUESTS, SEARCH, check_problem
from support import STATED, ClientCredentials, InProcessGateway, PlantedSearch, fetch_token, free_port

from gateway.core.problems import PROBLEM_TYPES
from gateway.core.settings import Settings
from gateway.http.app import create_app


@pytest.fixture(scope="module")
def catalogue(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """The ``/problems`` catalogue by ``type`` URI."""
    response = api.get("/problems")
    assert response.status_code == 200
    return {entry["type"]: entry for entry in response.json()}


# --- unknown routes and methods -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1", "/v1/databases", "/v1/databases/unknown/records/1", "/v2/contracts"])
def test_unknown_route_is_a_404_problem(api: httpx.Client, catalogue: dict[str, Any], path: str) -> None:
    response = api.get(path)
    body = check_problem(response, catalogue, status=404)
    assert body["type"] == "/problems/not-found"
    assert body["instance"] == path


def test_a_wrong_database_or_an_operation_it_does_not_offer_says_so(
    make_settings: Callable[..., Settings], sector_url: str, catalogue: dict[str, Any]
) -> None:
    """Under /v1/databases/{id}/: a database not served is named, with those that are (as the OpenAPI document
    does); one served whose connector does not offer what another database answers at this path is a 405
    operation-not-supported with Allow. Both used to be a bare 404."""
    settings = make_settings(
        connectors={
            "population": {"config": {"url": sector_url, "writes": {}}},
            "civil_status": {"connector": "population", "config": {"url": sector_url}},
        }
    )
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as client:
        wrong = client.get("/v1/databases/populaton/records/068185000123")
        body = check_problem(wrong, catalogue, status=404)
        assert body["detail"] == "No database populaton is served here (served: civil_status, population)."
        read_only = client.post("/v1/databases/civil_status/records", json={"operations": []})
        body = check_problem(read_only, catalogue, status=405)
        assert body["type"] == "/problems/operation-not-supported"
        assert body["detail"] == "The connector of civil_status does not offer this operation (POST .../records)."
        assert "allow" in read_only.headers
        assert check_problem(client.get("/v1/databases/population/nothing"), catalogue, status=404)["type"] == (
            "/problems/not-found"
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/healthz"),
        ("POST", "/v1/contracts"),
        ("PUT", "/v1/contracts/population.citizen"),
        ("GET", "/oauth/token"),
        ("POST", "/.well-known/jwks.json"),
        ("GET", SEARCH),
        ("PATCH", f"{RECORDS}/068099000000"),
    ],
)
def test_wrong_method_is_a_405_problem(api: httpx.Client, catalogue: dict[str, Any], method: str, path: str) -> None:
    response = api.request(method, path)
    body = check_problem(response, catalogue, status=405)
    assert body["type"] == "/problems/method-not-allowed"
    assert response.headers["allow"]
    assert method not in response.headers["allow"]


# --- request ids --------------------------------------------------------------------------------------------------

# Fixed values: the ids of a parametrized test must be the same in every process that collects it (xdist workers).
SANE_UUID = "5f0c6a8e-2d1b-4c3a-9e7f-1a2b3c4d5e6f"


@pytest.mark.parametrize("request_id", [SANE_UUID, "abc-123", "a.b:c_d", SANE_UUID.replace("-", ""), "A" * 128])
@pytest.mark.parametrize(("method", "path", "auth", "status"), REQUESTS)
def test_a_sane_request_id_is_echoed(
    api: httpx.Client, bearer: dict[str, str], request_id: str, method: str, path: str, auth: bool, status: int
) -> None:
    headers = {"X-Request-Id": request_id, **(bearer if auth else {})}
    response = api.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"] == request_id


def test_every_request_gets_its_own_id(api: httpx.Client) -> None:
    ids = {api.get("/healthz").headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(HEX_ID.match(i) for i in ids)


# --- the catalogue ------------------------------------------------------------------------------------------------


def test_the_catalogue_reads_as_text_in_both_languages(api: httpx.Client) -> None:
    """What a client reads at /problems (and in Swagger) has no reStructuredText markup left in it."""
    for language in ("en", "vi"):
        entries = api.get("/problems", headers={"Accept-Language": language}).json()
        assert entries and all("``" not in entry["description"] for entry in entries), language


def test_the_catalogue_lists_every_problem_type(api: httpx.Client, catalogue: dict[str, dict[str, Any]]) -> None:
    assert set(catalogue) == {cls.type_uri() for cls in PROBLEM_TYPES.values()}
    for type_uri, entry in catalogue.items():
        assert type_uri.startswith("/problems/")
        assert entry["title"]
        assert entry["description"]
        assert entry["status"] in entry["statuses"]
        assert all(400 <= s <= 599 for s in entry["statuses"])
        response = api.get(type_uri)
        assert response.status_code == 200, type_uri
        assert response.json() == entry


def test_an_unknown_problem_type_is_a_404_problem(api: httpx.Client, catalogue: dict[str, Any]) -> None:
    body = check_problem(api.get("/problems/no-such-problem"), catalogue, status=404)
    assert body["type"] == "/problems/not-found"


def test_every_problem_type_named_in_the_tests_resolves(
    api: httpx.Client, catalogue: dict[str, dict[str, Any]]
) -> None:
    """Each ``/problems/<slug>`` that any test of the suite expects is documented by the gateway."""
    tests_root = Path(__file__).resolve().parents[1]
    named = set()
    for path in tests_root.rglob("test_*.py"):
        named |= set(re.findall(r"/problems/[a-z0-9-]+", path.read_text(encoding="utf-8")))
    named.discard("/problems/no-such-problem")  # the deliberately unknown one above
    assert len(named) >= 10, named
    for type_uri in sorted(named):
        response = api.get(type_uri)
        assert response.status_code == 200, type_uri
        assert response.json()["type"] == type_uri
        assert response.json() == catalogue[type_uri]


@pytest.fixture(scope="module")
def problem_requests(planted: PlantedSearch) -> list[tuple[str, str, dict[str, Any], str, int]]:
    """Requests that answer each kind of problem the shared test server can produce:
    (method, path, httpx keyword arguments, expected type slug, expected status)."""
    return [
        ("GET", "/nowhere", {}, "not-found", 404),
        ("DELETE", "/v1/contracts", {}, "method-not-allowed", 405),
        ("GET", f"{RECORDS}/068099000000", {"token": True}, "record-not-found", 404),
        ("GET", f"{RECORDS}/123", {"token": True}, "validation-error", 422),
        ("GET", f"{RECORDS}/{planted.personal_ids[0]}", {}, "invalid-token", 401),
        ("GET", f"{RECORDS}/{planted.personal_ids[0]}", {"bearer": "Bearer not.a.jwt"}, "invalid-token", 401),
        ("GET", f"{RECORDS}/{planted.personal_ids[0]}", {"token": "search"}, "insufficient-scope", 403),
        ("POST", SEARCH, {"token": True, "content": b"{", "json_type": True}, "malformed-json", 400),
        ("POST", SEARCH, {"token": True, "json": {"old_id_number": "250123456", "cursor": "!"}}, "invalid-cursor", 400),
        ("POST", SEARCH, {"token": True, "json": {}}, "validation-error", 422),
        ("POST", "/oauth/token", {"data": {"grant_type": "client_credentials"}}, "oauth-error", 401),
        ("POST", "/oauth/token", {"basic": True, "data": {"grant_type": "password"}}, "oauth-error", 400),
        ("POST", "/oauth/token", {"basic": True, "data": {"grant_type": "client_credentials", "scope": "x:y"}},
         "oauth-error", 400),
        ("GET", "/v1/contracts/no.such", {}, "unknown-contract", 404),
        ("GET", "/v1/contracts/population.citizen?version=9", {}, "unknown-contract", 404),
        ("GET", "/problems/no-such-problem", {}, "not-found", 404),
        ("POST", "/oauth/token", {"content": b"--x\r\n", "type": "multipart/form-data"}, "http-error", 400),
    ]  # fmt: skip


def test_each_problem_answered_in_practice_matches_its_catalogue_entry(
    api: httpx.Client,
    catalogue: dict[str, dict[str, Any]],
    problem_requests: list[tuple[str, str, dict[str, Any], str, int]],
    make_client: Callable[..., ClientCredentials],
    reader: ClientCredentials,
    bearer: dict[str, str],
) -> None:
    searcher = {"Authorization": f"Bearer {fetch_token(api, make_client('population:search'))}", **STATED}
    seen = set()
    for method, path, spec, slug, status in problem_requests:
        kwargs: dict[str, Any] = {"headers": {}}
        if spec.get("token") is True:
            kwargs["headers"].update(bearer)
        elif spec.get("token") == "search":
            kwargs["headers"].update(searcher)
        if "bearer" in spec:
            kwargs["headers"]["Authorization"] = spec["bearer"]
        if spec.get("basic"):
            kwargs["auth"] = (reader.client_id, reader.client_secret)
        if spec.get("json_type"):
            kwargs["headers"]["Content-Type"] = "application/json"
        if "type" in spec:
            kwargs["headers"]["Content-Type"] = spec["type"]
        for key in ("json", "data", "content"):
            if key in spec:
                kwargs[key] = spec[key]
        response = api.request(method, path, **kwargs)
        body = check_problem(response, catalogue, status=status)
        assert body["type"] == f"/problems/{slug}", (method, path, body)
        assert body["instance"] == path.partition("?")[0]
        seen.add(slug)
    assert len(seen) >= 11


# --- problems that need a gateway in a particular state -----------------------------------------------------------


def test_an_unreachable_sector_database_is_a_503_problem_and_the_gateway_stays_ready(
    make_settings: Callable[..., Settings],
    bearer: dict[str, str],
    catalogue: dict[str, dict[str, Any]],
    planted: PlantedSearch,
) -> None:
    nowhere = f"postgresql://nobody@127.0.0.1:{free_port()}/population"
    settings = make_settings(connectors={"population": {"config": {"url": nowhere}}})
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as client:
        response = client.get(f"{RECORDS}/{planted.personal_ids[0]}", headers={**bearer, "X-Request-Id": "dead-1"})
        body = check_problem(response, catalogue, status=503)
        assert body["type"] == "/problems/upstream-unavailable"
        assert response.headers["retry-after"] == "5"
        assert response.headers["x-request-id"] == "dead-1"
        assert nowhere not in response.text
        search = client.post(SEARCH, json={"old_id_number": "250123456"}, headers=bearer)
        assert check_problem(search, catalogue, status=503)["type"] == "/problems/upstream-unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 200
        population = ready.json()["checks"]["connectors"]["population"]
        assert population["loaded"] is True
        assert population["reachable"] is False


def test_a_gateway_without_databases_is_not_ready(
    make_settings: Callable[..., Settings], catalogue: dict[str, dict[str, Any]]
) -> None:
    settings = make_settings(connectors={"population": {"enabled": False}})
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as client:
        response = client.get("/readyz")
        body = check_problem(response, catalogue, status=503)
        assert body["type"] == "/problems/not-ready"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["connectors"] == {}
        assert client.get("/healthz").status_code == 200
        missing = client.get(f"{RECORDS}/068099000000")
        assert check_problem(missing, catalogue, status=404)["type"] == "/problems/not-found"


@pytest.fixture
def broken_gateway(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[tuple[InProcessGateway, Path]]:
    """A gateway whose own SQLite database is sabotaged after it started (its ``clients`` table dropped)."""
    from gateway.core import migrations

    db_file = tmp_path / "gateway.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    migrations.upgrade(url)
    settings = make_settings(database_url=url, data_dir=tmp_path)
    with InProcessGateway(create_app(settings)) as gateway:
        with sqlite3.connect(db_file) as conn:
            conn.execute("DROP TABLE clients")
        yield gateway, db_file


def test_an_internal_error_is_a_bare_500_problem(
    broken_gateway: tuple[InProcessGateway, Path], catalogue: dict[str, dict[str, Any]]
) -> None:
    """A real failure (the table is gone): a 500 with the request id and no trace, SQL or driver detail."""
    gateway, _ = broken_gateway
    with gateway.client() as client:
        response = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("someone", "secret"),
            headers={"X-Request-Id": "boom-1"},
        )
        body = check_problem(response, catalogue, status=500)
        assert body == {
            "type": "/problems/internal-error",
            "title": "Internal error",
            "status": 500,
            "instance": "/oauth/token",
        }
        assert response.headers["x-request-id"] == "boom-1"
        generated = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("someone-else", "x"))
        assert generated.status_code == 500
        assert HEX_ID.match(generated.headers["x-request-id"])
        assert client.get("/healthz").status_code == 200  # the process survives


@pytest.mark.parametrize(
    "body",
    [
        NESTED_ARRAYS,
        NESTED_OBJECTS,
        b'{"full_name": "\xff\xfe", "date_of_birth": "1990"}',
        b'{"page_size": ' + b"9" * 5000 + b"}",
    ],
    ids=["nested-arrays", "nested-objects", "invalid-utf8", "huge-number"],
)
def test_json_the_parser_cannot_read_is_malformed_json(
    api: httpx.Client, bearer: dict[str, str], catalogue: dict[str, dict[str, Any]], body: bytes
) -> None:
    """Not only syntax errors: bodies that Python's JSON parser gives up on are a 400 malformed-json too."""
    response = api.post(SEARCH, content=body, headers={**bearer, "Content-Type": "application/json"})
    assert check_problem(response, catalogue, status=400)["type"] == "/problems/malformed-json"


@pytest.mark.parametrize(
    ("headers", "body", "shown"),
    [
        ({}, b"full_name=Nguyen", "application/x-www-form-urlencoded"),  # curl -d without a Content-Type
        ({"Content-Type": "text/plain"}, '{"full_name": "Nguyễn Văn An"}'.encode(), "text/plain"),
        ({"Content-Type": ""}, '{"full_name": "Nguyễn Văn An"}'.encode(), "none"),
    ],
    ids=["form", "json-as-text", "no-type"],
)
def test_a_body_not_sent_as_json_is_a_415_problem(
    api: httpx.Client,
    bearer: dict[str, str],
    catalogue: dict[str, dict[str, Any]],
    headers: dict[str, str],
    body: bytes,
    shown: str,
) -> None:
    """Not 422 "Input should be a valid dictionary", which sends a client looking in its JSON: the body's media type
    is the problem, and the answer names it; in Vietnamese too."""
    sent = {**bearer, **headers}
    if not headers:
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    response = api.post(SEARCH, content=body, headers=sent)
    problem = check_problem(response, catalogue, status=415)
    assert problem["type"] == "/problems/unsupported-media-type"
    assert f"(it was sent as {shown})" in problem["detail"]
    vietnamese = api.post(SEARCH, content=body, headers={**sent, "Accept-Language": "vi"}).json()
    assert vietnamese["detail"].startswith("Nội dung yêu cầu phải là JSON") and shown in vietnamese["detail"]
    # No body at all is a missing body, as before: 422.
    missing = api.post(SEARCH, headers={**bearer, "Content-Type": "application/json"})
    assert check_problem(missing, catalogue, status=422)["type"] == "/problems/validation-error"
