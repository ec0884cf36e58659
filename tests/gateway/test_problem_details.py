"""Every error is RFC 9457 problem details, every request carries a sane request id, and hostile input never
makes the gateway fail (5xx) or leak its internals.

Requests that an HTTP client library would refuse to send (control characters in headers, raw ``..`` segments,
invalid UTF-8) are written byte for byte on a socket.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import STATED, ClientCredentials, LiveServer, PlantedSearch, fetch_token, free_port

from gateway.core.problems import PROBLEM_TYPES
from gateway.core.settings import Settings
from gateway.http.app import create_app

RECORDS = "/v1/databases/population/records"
SEARCH = "/v1/databases/population/search"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")
# What must never reach a caller: stack traces, source paths, SQL, driver names.
LEAKS = ("Traceback", 'File "', '.py", line', "sqlalchemy", "sqlite", "asyncpg", "SELECT ", "no such table")
PROBLEM_MEMBERS = {"type", "title", "status", "instance"}


@pytest.fixture(scope="module")
def catalogue(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """The ``/problems`` catalogue by ``type`` URI."""
    response = http.get("/problems")
    assert response.status_code == 200
    return {entry["type"]: entry for entry in response.json()}


def check_problem(
    response: httpx.Response | RawResponse, catalogue: dict[str, dict[str, Any]], *, status: int | None = None
) -> dict[str, Any]:
    """Assert that ``response`` is a well-formed problem of a catalogued type, and return its body."""
    if status is not None:
        assert response.status_code == status, response.text
    assert response.status_code >= 400
    assert response.headers["content-type"] == "application/problem+json"
    text = response.text
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked in {text[:500]}"
    body = json.loads(text)
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == response.status_code
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["instance"].startswith("/")
    assert body["type"] in catalogue, f"{body['type']} is not in /problems"
    entry = catalogue[body["type"]]
    assert body["title"] == entry["title"]
    assert response.status_code in entry["statuses"], (body, entry)
    assert response.headers.get("x-request-id")
    return dict(body)


# --- raw HTTP -----------------------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    """A response read from a socket: enough of httpx.Response's shape for the checks here."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def from_app(self) -> bool:
        """Whether the gateway application answered (uvicorn's own parser errors have no request id)."""
        return "x-request-id" in self.headers


def raw_request(
    base_url: str, method: str, target: bytes | str, headers: list[tuple[bytes, bytes]] = (), body: bytes = b""
) -> RawResponse:
    """Send exactly these bytes (plus Host, Connection and Content-Length) and read the whole answer."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    target_bytes = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + target_bytes + b" HTTP/1.1", b"Host: " + host.encode(), b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        # The server may answer and close before it has read a large body.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, content = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        content = _unchunk(content)
    return RawResponse(int(status_line.split()[1]), parsed, content)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


# --- unknown routes and methods -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1", "/v1/databases", "/v1/databases/unknown/records/1", "/v2/contracts"])
def test_unknown_route_is_a_404_problem(http: httpx.Client, catalogue: dict[str, Any], path: str) -> None:
    response = http.get(path)
    body = check_problem(response, catalogue, status=404)
    assert body["type"] == "/problems/not-found"
    assert body["instance"] == path


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
def test_wrong_method_is_a_405_problem(http: httpx.Client, catalogue: dict[str, Any], method: str, path: str) -> None:
    response = http.request(method, path)
    body = check_problem(response, catalogue, status=405)
    assert body["type"] == "/problems/method-not-allowed"
    assert response.headers["allow"]
    assert method not in response.headers["allow"]


# --- request ids --------------------------------------------------------------------------------------------------

# (method, path, needs a token, expected status): a success and several kinds of error.
REQUESTS = [
    ("GET", "/healthz", False, 200),
    ("GET", "/v1/contracts", False, 200),
    ("GET", "/no/such/route", False, 404),
    ("DELETE", "/healthz", False, 405),
    ("GET", f"{RECORDS}/068099000000", False, 401),
    ("GET", f"{RECORDS}/068099000000", True, 404),
    ("GET", f"{RECORDS}/not-an-id", True, 422),
    ("POST", "/oauth/token", False, 401),
]


# Fixed values: the ids of a parametrized test must be the same in every process that collects it (xdist workers).
SANE_UUID = "5f0c6a8e-2d1b-4c3a-9e7f-1a2b3c4d5e6f"


@pytest.mark.parametrize("request_id", [SANE_UUID, "abc-123", "a.b:c_d", SANE_UUID.replace("-", ""), "A" * 128])
@pytest.mark.parametrize(("method", "path", "auth", "status"), REQUESTS)
def test_a_sane_request_id_is_echoed(
    http: httpx.Client, bearer: dict[str, str], request_id: str, method: str, path: str, auth: bool, status: int
) -> None:
    headers = {"X-Request-Id": request_id, **(bearer if auth else {})}
    response = http.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        b"",
        b"x" * 200,
        b"A" * 129,
        b"abc 123",
        b"abc\tdef",
        "Việt-Nam".encode(),
        b"\xff\xfe",
        b"-leading-dash",
        b".hidden",
        b"a/b",
        b"<script>alert(1)</script>",
        b"id%0d%0aSet-Cookie:x=1",
    ],
    ids=lambda v: repr(v[:20]),
)
@pytest.mark.parametrize(("method", "path", "auth", "status"), REQUESTS)
def test_an_insane_request_id_is_replaced(
    server: LiveServer,
    bearer: dict[str, str],
    request_id: bytes,
    method: str,
    path: str,
    auth: bool,
    status: int,
) -> None:
    headers = [(b"X-Request-Id", request_id)]
    if auth:
        headers.extend((name.encode(), value.encode()) for name, value in bearer.items())
    response = raw_request(server.url, method, path, headers)
    assert response.status_code == status, response.text
    assert HEX_ID.match(response.headers["x-request-id"]), response.headers


@pytest.mark.parametrize("control", [b"\x00", b"\x01", b"\x1b", b"\x7f", b"\r", b"\x0b"], ids=repr)
def test_a_request_id_with_control_characters_is_never_echoed(server: LiveServer, control: bytes) -> None:
    """Most control characters are refused by the HTTP parser itself (a 400 from uvicorn, before the gateway);
    whatever gets through is replaced."""
    response = raw_request(server.url, "GET", "/healthz", [(b"X-Request-Id", b"abc" + control + b"def")])
    if response.from_app:
        assert response.status_code == 200
        assert HEX_ID.match(response.headers["x-request-id"])
    else:
        assert response.status_code == 400


def test_every_request_gets_its_own_id(http: httpx.Client) -> None:
    ids = {http.get("/healthz").headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(HEX_ID.match(i) for i in ids)


# --- the catalogue ------------------------------------------------------------------------------------------------


def test_the_catalogue_lists_every_problem_type(http: httpx.Client, catalogue: dict[str, dict[str, Any]]) -> None:
    assert set(catalogue) == {cls.type_uri() for cls in PROBLEM_TYPES.values()}
    for type_uri, entry in catalogue.items():
        assert type_uri.startswith("/problems/")
        assert entry["title"]
        assert entry["description"]
        assert entry["status"] in entry["statuses"]
        assert all(400 <= s <= 599 for s in entry["statuses"])
        response = http.get(type_uri)
        assert response.status_code == 200, type_uri
        assert response.json() == entry


def test_an_unknown_problem_type_is_a_404_problem(http: httpx.Client, catalogue: dict[str, Any]) -> None:
    body = check_problem(http.get("/problems/no-such-problem"), catalogue, status=404)
    assert body["type"] == "/problems/not-found"


def test_every_problem_type_named_in_the_tests_resolves(
    http: httpx.Client, catalogue: dict[str, dict[str, Any]]
) -> None:
    """Each ``/problems/<slug>`` that any test of the suite expects is documented by the gateway."""
    tests_root = Path(__file__).resolve().parents[1]
    named = set()
    for path in tests_root.rglob("test_*.py"):
        named |= set(re.findall(r"/problems/[a-z0-9-]+", path.read_text(encoding="utf-8")))
    named.discard("/problems/no-such-problem")  # the deliberately unknown one above
    assert len(named) >= 10, named
    for type_uri in sorted(named):
        response = http.get(type_uri)
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
    http: httpx.Client,
    catalogue: dict[str, dict[str, Any]],
    problem_requests: list[tuple[str, str, dict[str, Any], str, int]],
    make_client: Callable[..., ClientCredentials],
    reader: ClientCredentials,
    bearer: dict[str, str],
) -> None:
    searcher = {"Authorization": f"Bearer {fetch_token(http, make_client('population:search'))}", **STATED}
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
        response = http.request(method, path, **kwargs)
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
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as client:
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
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        response = client.get("/readyz")
        body = check_problem(response, catalogue, status=503)
        assert body["type"] == "/problems/not-ready"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["connectors"] == {}
        assert client.get("/healthz").status_code == 200
        missing = client.get(f"{RECORDS}/068099000000")
        assert check_problem(missing, catalogue, status=404)["type"] == "/problems/not-found"


@pytest.fixture
def broken_gateway(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A gateway whose own SQLite database is sabotaged after it started (its ``clients`` table dropped)."""
    from gateway.core import migrations

    db_file = tmp_path / "gateway.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    migrations.upgrade(url)
    settings = make_settings(database_url=url, data_dir=tmp_path)
    with LiveServer(create_app(settings)) as live:
        with sqlite3.connect(db_file) as conn:
            conn.execute("DROP TABLE clients")
        yield live.url, db_file


def test_an_internal_error_is_a_bare_500_problem(
    broken_gateway: tuple[str, Path], catalogue: dict[str, dict[str, Any]]
) -> None:
    """A real failure (the table is gone): a 500 with the request id and no trace, SQL or driver detail."""
    url, _ = broken_gateway
    with httpx.Client(base_url=url, timeout=30) as client:
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


# --- hostile input ------------------------------------------------------------------------------------------------

# Every route of the gateway, with values for its path parameters. ``test_the_fuzzed_routes_are_every_route`` keeps
# this list complete.
ROUTES = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/oauth/token"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/v1/contracts"),
    ("GET", "/v1/contracts/{name}"),
    ("GET", "/v1/services"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/axis"),
    ("GET", "/v1/axis/report"),
    ("GET", "/v1/axis/{database_id}"),
    ("GET", "/v1/quality/history"),
    ("PUT", "/v1/admin/axis/{database_id}/maintenance"),
    ("POST", "/v1/admin/clients"),
    ("GET", "/v1/admin/clients"),
    ("GET", "/v1/admin/clients/{client_id}"),
    ("PATCH", "/v1/admin/clients/{client_id}"),
    ("POST", "/v1/admin/clients/{client_id}/suspend"),
    ("POST", "/v1/admin/clients/{client_id}/activate"),
    ("POST", "/v1/admin/clients/{client_id}/secret"),
    ("POST", "/v1/admin/clients/{client_id}/keys"),
    ("GET", "/v1/admin/clients/{client_id}/keys"),
    ("DELETE", "/v1/admin/clients/{client_id}/keys/{kid}"),
    ("POST", "/v1/admin/grants"),
    ("GET", "/v1/admin/grants"),
    ("GET", "/v1/admin/grants/{grant_id}"),
    ("DELETE", "/v1/admin/grants/{grant_id}"),
    ("GET", "/v1/admin/signing-keys"),
    ("POST", "/v1/admin/signing-keys/rotate"),
    ("GET", "/problems"),
    ("GET", "/problems/{slug}"),
    ("GET", "/v1/databases/population/records/{personal_id}"),
    ("POST", "/v1/databases/population/search"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/v1/receipts/{receipt_id}"),
]
# Offered for a database whose connector accepts submissions (fuzzed on a second gateway, below).
EXCHANGE_ROUTES = [
    ("POST", "/v1/databases/population/records"),
    ("GET", "/v1/databases/population/changes"),
    ("POST", "/v1/databases/population/subscriptions"),
    ("GET", "/v1/databases/population/subscriptions"),
    ("DELETE", "/v1/databases/population/subscriptions/{subscription_id}"),
]
PARAMS = {
    "database_id": "population",
    "name": "population.citizen",
    "slug": "not-found",
    "personal_id": "068099000000",
    "client_id": "nobody",
    "grant_id": "1",
    "kid": "no-such-kid",
    "receipt_id": "6a0c9f4e-6d1b-4f44-9a43-2f5d0e4b7c11",
    "subscription_id": "1d9e4a77-3f2c-4b8e-8f0e-5c6b7a8d9e01",
}

ONE_MB_JSON = json.dumps({"full_name": "Nguyễn " * 150_000, "date_of_birth": "1990", "padding": "x" * 100_000}).encode()
NESTED_ARRAYS = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
JSON = (b"Content-Type", b"application/json")


def _with_param(template: str, value: str) -> str:
    return re.sub(r"\{[a-z_]+\}", value, template)


def _concrete(template: str) -> str:
    return re.sub(r"\{([a-z_]+)\}", lambda m: PARAMS[m.group(1)], template)


FORM = (b"Content-Type", b"application/x-www-form-urlencoded")
MULTIPART = (b"Content-Type", b"multipart/form-data; boundary=x")


@dataclass(frozen=True)
class Hostile:
    """One kind of hostile request, applied to a route template."""

    target: Callable[[str], str] = _concrete
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    other_method: bool = False


def _suffix(suffix: str) -> Callable[[str], str]:
    return lambda template: _concrete(template) + suffix


def _param(value: str) -> Callable[[str], str]:
    """The route with every path parameter set to ``value`` (or ``value`` appended when it has none)."""
    return lambda template: _with_param(template, value) if "{" in template else f"{template}/{value}"


VARIANTS: dict[str, Hostile] = {
    "long-path": Hostile(_suffix("/" + "a" * 8000)),
    "long-parameter": Hostile(_param("9" * 8000)),
    "path-over-parser-limit": Hostile(_suffix("a" * 100_000)),
    "nul-suffix": Hostile(_suffix("%00")),
    "nul-parameter": Hostile(_param("%00")),
    "raw-nul-byte": Hostile(_suffix("\x00")),
    "traversal": Hostile(_suffix("/../../../../etc/passwd")),
    "traversal-encoded": Hostile(_param("..%2F..%2F..%2Fetc%2Fpasswd")),
    "traversal-dot-encoded": Hostile(_param("%2e%2e/%2e%2e/%2e%2e/etc/passwd")),
    "invalid-utf8-path": Hostile(_param("%ff%fe%c3%28")),
    "huge-query": Hostile(_suffix("?" + "&".join(f"k{i}=v{i}" for i in range(5000)))),
    "huge-query-value": Hostile(_suffix("?version=" + "9" * 60_000)),
    "junk-query": Hostile(_suffix("?%00=%ff&version=%ff&version=-1&a[]=1&a[b]=2&=&&")),
    "json-1mb": Hostile(headers=(JSON,), body=ONE_MB_JSON),
    "json-nested-arrays": Hostile(headers=(JSON,), body=NESTED_ARRAYS),
    "json-nested-objects": Hostile(headers=(JSON,), body=NESTED_OBJECTS),
    "json-invalid-utf8": Hostile(headers=(JSON,), body=b'{"full_name": "\xff\xfe", "date_of_birth": "1990"}'),
    "json-huge-number": Hostile(headers=(JSON,), body=b'{"page_size": ' + b"9" * 10_000 + b"}"),
    "json-but-form-body": Hostile(headers=(JSON,), body=b"grant_type=client_credentials&scope=x"),
    "text-plain": Hostile(headers=((b"Content-Type", b"text/plain"),), body=b'{"a": 1}'),
    "xml": Hostile(headers=((b"Content-Type", b"application/xml"),), body=b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"),
    "form-with-json-body": Hostile(headers=(FORM,), body=b'{"grant_type": 1}'),
    "form-1mb": Hostile(headers=(FORM,), body=b"grant_type=" + b"a" * 1_048_576),
    "multipart-without-boundary": Hostile(headers=((b"Content-Type", b"multipart/form-data"),), body=b"--x\r\n"),
    "multipart-truncated": Hostile(
        headers=(MULTIPART,), body=b'--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient'
    ),
    "garbage-content-type": Hostile(headers=((b"Content-Type", b";;;=\xff; charset=klingon"),), body=b"\xff\xfe"),
    "huge-header": Hostile(headers=((b"X-Junk", b"x" * 60_000),)),
    "garbage-bearer": Hostile(headers=((b"Authorization", b"Bearer \xff\xfe.\x80.a"),)),
    "huge-bearer": Hostile(headers=((b"Authorization", b"Bearer " + b"a." * 20_000),)),
    "garbage-basic": Hostile(headers=((b"Authorization", b"Basic !!!not-base64!!!"),)),
    "non-ascii-basic": Hostile(headers=((b"Authorization", b"Basic \xff\xfe"),), body=b"grant_type=client_credentials"),
    "other-method": Hostile(other_method=True),
}


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
    http: httpx.Client, bearer: dict[str, str], catalogue: dict[str, dict[str, Any]], body: bytes
) -> None:
    """Not only syntax errors: bodies that Python's JSON parser gives up on are a 400 malformed-json too."""
    response = http.post(SEARCH, content=body, headers={**bearer, "Content-Type": "application/json"})
    assert check_problem(response, catalogue, status=400)["type"] == "/problems/malformed-json"


def _documented(url: str) -> set[tuple[str, str]]:
    paths = httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def test_the_fuzzed_routes_are_every_route(server: LiveServer, exchange_server: LiveServer) -> None:
    documented = _documented(server.url)
    assert documented <= set(ROUTES), documented - set(ROUTES)
    documented = _documented(exchange_server.url)
    assert documented <= set(ROUTES + EXCHANGE_ROUTES), documented - set(ROUTES + EXCHANGE_ROUTES)


@pytest.fixture(scope="module")
def exchange_server(make_settings: Callable[..., Settings], sector_url: str) -> Iterator[LiveServer]:
    """A gateway whose population connector accepts submissions (on the suite's sector database: the hostile
    submissions below are all refused, so nothing is written to it)."""
    settings = make_settings(connectors={"population": {"config": {"url": sector_url, "writes": {}}}})
    with LiveServer(create_app(settings)) as live:
        yield live


@pytest.fixture(scope="module")
def exchange_bearer(exchange_server: LiveServer, make_client: Callable[..., ClientCredentials]) -> dict[str, str]:
    credentials = make_client("population:read", "population:search", "population:submit")
    with httpx.Client(base_url=exchange_server.url, timeout=30) as http:
        return {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
def test_hostile_input_never_fails_the_gateway(
    server: LiveServer,
    bearer: dict[str, str],
    catalogue: dict[str, dict[str, Any]],
    method: str,
    template: str,
    variant: str,
) -> None:
    _survives(server.url, bearer, catalogue, method, template, variant)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(("method", "template"), EXCHANGE_ROUTES, ids=[f"{m} {t}" for m, t in EXCHANGE_ROUTES])
def test_hostile_input_never_fails_the_exchange(
    exchange_server: LiveServer,
    exchange_bearer: dict[str, str],
    catalogue: dict[str, dict[str, Any]],
    method: str,
    template: str,
    variant: str,
) -> None:
    _survives(exchange_server.url, exchange_bearer, catalogue, method, template, variant)


def _survives(
    url: str, bearer: dict[str, str], catalogue: dict[str, dict[str, Any]], method: str, template: str, variant: str
) -> None:
    hostile = VARIANTS[variant]
    verb = ("POST" if method == "GET" else "GET") if hostile.other_method else method
    headers = list(hostile.headers)
    if not any(name == b"Authorization" for name, _ in headers):
        headers.extend((name.encode(), value.encode()) for name, value in bearer.items())
    response = raw_request(url, verb, hostile.target(template), headers, hostile.body)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if not response.from_app:
        # Refused by uvicorn's HTTP parser before the gateway saw it (e.g. a request line over ~64 KB).
        assert response.status_code == 400
        assert variant in {"path-over-parser-limit", "raw-nul-byte"}, (variant, response.text)
    elif response.status_code >= 400:
        check_problem(response, catalogue)
    else:
        for leak in ("Traceback", 'File "'):
            assert leak not in response.text


@pytest.mark.parametrize("credentials", [b"\xff\xfe", "Việt:Nam".encode(), b"\xe9t\xe9"], ids=repr)
def test_non_ascii_basic_credentials_are_refused_not_a_500(server: LiveServer, credentials: bytes) -> None:
    """Was a 500 (base64 of a non-ASCII str raises ValueError, not binascii.Error); reproducer:
    ``curl -s -H $'Authorization: Basic \\xff' -d grant_type=client_credentials http://127.0.0.1:8000/oauth/token``."""
    response = raw_request(
        server.url,
        "POST",
        "/oauth/token",
        [(b"Authorization", b"Basic " + credentials), (b"Content-Type", b"application/x-www-form-urlencoded")],
        b"grant_type=client_credentials",
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
