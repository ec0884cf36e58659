"""``HEAD`` is served wherever ``GET`` is, as the same read without the body; a path asked with or without its
trailing slash is redirected to the one served, by a relative ``Location`` that no ``Host`` header can change.

``HEAD`` is asked of a gateway served by uvicorn, byte for byte on a socket (``problem_checks.raw_request``): the
server, not the application, leaves the body out, and nothing may follow the headers.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from audit_events import events_of
from problem_checks import RECORDS, SEARCH, check_problem, raw_request
from support import STATED, LiveServer, PlantedSearch


def _auth(token: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"Authorization", f"Bearer {token}".encode())]
    return headers + [(name.encode(), value.encode()) for name, value in STATED.items()]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/v1/contracts", "/problems", "/docs"])
def test_head_answers_as_get_without_the_body(server: LiveServer, path: str) -> None:
    get = raw_request(server.url, "GET", path)
    head = raw_request(server.url, "HEAD", path)
    assert get.status_code == 200
    assert head.status_code == 200, head
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if "content-length" in get.headers and path not in ("/metrics", "/readyz"):  # counts and times change
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_of_a_record_is_the_read_checked_limited_and_audited(
    server: LiveServer, token: str, planted: PlantedSearch, gateway_database_url: str
) -> None:
    key = planted.personal_ids[0]
    get = raw_request(server.url, "GET", f"{RECORDS}/{key}", _auth(token))
    assert get.status_code == 200, get
    request_id = uuid.uuid4().hex
    head = raw_request(server.url, "HEAD", f"{RECORDS}/{key}", [*_auth(token), (b"X-Request-Id", request_id.encode())])
    assert head.status_code == 200, head
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["x-request-id"] == request_id
    assert set(head.headers) == set(get.headers)  # the same headers: cache, rate limit, type...
    # It tells whether the record exists: a read, in the audit trail like any other.
    deadline = time.monotonic() + 10
    while not (events := events_of(gateway_database_url, request_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(events) == 1, events
    assert events[0]["outcome"] == "allowed"
    assert (events[0]["operation"], events[0]["record_ids"], events[0]["database"]) == ("read", [key], "population")
    # Unknown records and missing credentials answer as GET does, without a body.
    assert raw_request(server.url, "HEAD", f"{RECORDS}/068099000000", _auth(token)).status_code == 404
    anonymous = raw_request(server.url, "HEAD", f"{RECORDS}/{key}")
    assert anonymous.status_code == 401
    assert anonymous.content == b""
    assert anonymous.headers["content-type"] == "application/problem+json"


def test_a_method_not_allowed_names_head_beside_get(api: httpx.Client) -> None:
    response = api.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert api.request("HEAD", "/oauth/token").status_code == 405


@pytest.mark.parametrize(
    ("asked", "location"),
    [
        ("/healthz/", "/healthz"),
        ("/v1/contracts/", "/v1/contracts"),
        ("/v1/contracts/?format=json", "/v1/contracts?format=json"),
        (f"{RECORDS}/068099000000/", f"{RECORDS}/068099000000"),
        (f"{SEARCH}/", SEARCH),
    ],
)
def test_a_trailing_slash_is_redirected_by_a_relative_location(http: httpx.Client, asked: str, location: str) -> None:
    response = http.get(asked, headers={"Host": "attacker.example", "X-Forwarded-Host": "attacker.example"})
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert "attacker" not in response.text


def test_a_redirect_never_leads_to_another_host(server: LiveServer, catalogue: dict[str, Any]) -> None:
    """``//host/`` and ``/\\host/`` read as another host's URL in a browser's or a client's hands."""
    for target in ("//attacker.example/", "/\\attacker.example/", "//healthz/"):
        answer = raw_request(server.url, "GET", target)
        assert answer.status_code == 404, (target, answer.headers.get("location"))
    assert raw_request(server.url, "GET", "/nothing-here/").status_code == 404


def test_a_redirect_follows_to_the_answer(http: httpx.Client) -> None:
    response = http.get("/healthz/", follow_redirects=True)
    assert response.status_code == 200
    assert str(response.url).endswith("/healthz")


@pytest.fixture(scope="module")
def catalogue(http: httpx.Client) -> dict[str, dict[str, Any]]:
    response = http.get("/problems")
    return {entry["type"]: entry for entry in response.json()}


def test_an_unknown_path_with_a_slash_stays_a_404_problem(http: httpx.Client, catalogue: dict[str, Any]) -> None:
    check_problem(http.get("/v2/nothing/"), catalogue, status=404)


# --- one value a parameter --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/v1/audit?client=a&client=b", "client"),
        ("/v1/audit?subject=068185000123&limit=5&subject=001099000001", "subject"),
        ("/v1/contracts/population.citizen?version=1&version=2", "version"),
        ("/v1/audit?x%20y=1&x+y=2", None),
    ],
)
def test_a_repeated_query_parameter_is_a_400_naming_it(
    api: httpx.Client, catalogue_in_process: dict[str, Any], path: str, named: str | None
) -> None:
    """Which of two values counts is a parser's choice (FastAPI the last, a proxy or a log perhaps the first): an
    audit search for one subject must not answer for another."""
    response = api.get(path, headers={"Accept-Language": "en"})
    body = check_problem(response, catalogue_in_process, status=400)
    assert body["type"] == "/problems/bad-request"
    if named is None:
        assert body["detail"] == "A query parameter is repeated: send each once."
    else:
        assert body["detail"] == f"The query parameter {named} is repeated: send it once."
    vietnamese = api.get(path, headers={"Accept-Language": "vi"}).json()
    assert "lặp lại" in vietnamese["detail"]


def test_parameters_given_once_are_answered(api: httpx.Client) -> None:
    assert api.get("/v1/contracts/population.citizen?version=1").status_code == 200


@pytest.fixture(scope="module")
def catalogue_in_process(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {entry["type"]: entry for entry in api.get("/problems").json()}
