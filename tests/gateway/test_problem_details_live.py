"""Hostile requests written byte for byte on a socket to a gateway served by uvicorn: what its HTTP parser refuses
and what reaches the gateway, whose answers are problem details and never a failure (5xx) or a leak.

Requests that an HTTP client library would refuse to send (control characters in headers, raw ``..`` segments,
invalid UTF-8) are written byte for byte on a socket (``problem_checks.raw_request``). The same errors asked through
an HTTP client are checked in process, in ``test_problem_details.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from problem_checks import HEX_ID, NESTED_ARRAYS, NESTED_OBJECTS, REQUESTS, check_problem, raw_request
from support import STATED, ClientCredentials, LiveServer, fetch_token

from gateway.core.settings import Settings
from gateway.http.app import create_app


@pytest.fixture(scope="module")
def catalogue(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """The ``/problems`` catalogue by ``type`` URI."""
    response = http.get("/problems")
    assert response.status_code == 200
    return {entry["type"]: entry for entry in response.json()}


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
