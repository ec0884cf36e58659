"""Limits on every request, through the real HTTP gateway: body size (413), strict JSON (400), unknown fields
(422), page-size bounds (422), and the per-request deadline (504, the work cancelled)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from support import STATED, ClientCredentials, LiveServer, PlantedSearch, fetch_token, postgres_database

from gateway.core.settings import Settings
from gateway.http.app import create_app
from simulators.population import CITIZENS, seed_population

SEARCH = "/v1/databases/population/search"
RECORDS = "/v1/databases/population/records"
PROBLEM = "application/problem+json"
MAX_BODY = 2048
PAGE_MAX = 5
JSON = {"Content-Type": "application/json"}
DEADLINE = 1.5


@pytest.fixture(scope="module")
def limited(make_settings: Callable[..., Settings]) -> Iterator[str]:
    """A gateway accepting bodies of up to 2 KiB and pages of up to 5 records (rate limits off)."""
    settings = make_settings(
        max_body_bytes=MAX_BODY,
        page_size_default=PAGE_MAX,
        page_size_max=PAGE_MAX,
        rate_limit_per_second=0,
        rate_limit_per_day=0,
    )
    with LiveServer(create_app(settings)) as live:
        yield live.url


@pytest.fixture(scope="module")
def limited_api(limited: str, reader: ClientCredentials) -> Iterator[httpx.Client]:
    """An HTTP client of that gateway with a reader's token and the purpose and actor headers."""
    with httpx.Client(base_url=limited, timeout=30) as client:
        client.headers.update({"Authorization": f"Bearer {fetch_token(client, reader)}", **STATED})
        yield client


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"]
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    return body


def padded(query: dict[str, Any], size: int) -> bytes:
    """``query`` as JSON, padded with whitespace to exactly ``size`` bytes."""
    body = httpx.Request("POST", "/", json=query).content
    return body + b" " * (size - len(body))


# -- body size -------------------------------------------------------------------------------------------------


def test_a_body_of_the_limit_is_read_and_one_byte_more_is_413(
    limited_api: httpx.Client, planted: PlantedSearch
) -> None:
    query = {"full_name": planted.full_name, "date_of_birth": str(planted.year)}
    accepted = limited_api.post(SEARCH, content=padded(query, MAX_BODY), headers=JSON)
    assert accepted.status_code == 200, accepted.text
    assert len(accepted.json()["items"]) == PAGE_MAX
    refused = limited_api.post(SEARCH, content=padded(query, MAX_BODY + 1), headers=JSON)
    body = problem(refused, 413, "content-too-large")
    assert body["max_bytes"] == MAX_BODY
    assert planted.full_name not in refused.text


def test_a_streamed_body_past_the_limit_is_413(limited_api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"full_name": "'
        for _ in range(64):  # 64 KiB, without a Content-Length
            yield b"a" * 1024
        yield b'"}'

    response = limited_api.post(SEARCH, content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    problem(response, 413, "content-too-large")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/oauth/token", "application/x-www-form-urlencoded"), ("/v1/admin/clients", "application/json")],
)
def test_the_limit_holds_on_every_route_before_authentication(limited: str, path: str, content_type: str) -> None:
    response = httpx.post(f"{limited}{path}", content=b"x" * (MAX_BODY + 1), headers={"Content-Type": content_type})
    problem(response, 413, "content-too-large")


# -- strict JSON -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/x+json"])
def test_a_duplicate_key_is_400_naming_it(limited_api: httpx.Client, content_type: str) -> None:
    body = b'{"old_id_number": "250123456", "full_name": "Nguy\xc3\xaan An", "old_id_number": "250999999"}'
    response = limited_api.post(SEARCH, content=body, headers={"Content-Type": content_type})
    if content_type.startswith("text/"):
        # not JSON by its media type: never parsed as JSON, so not a duplicate key but a body of another type
        problem(response, 415, "unsupported-media-type")
        return
    answer = problem(response, 400, "malformed-json")
    assert answer["key"] == "old_id_number"
    assert "old_id_number" in answer["detail"]
    assert "250123456" not in response.text and "250999999" not in response.text


def test_a_duplicate_key_deep_inside_is_400(limited_api: httpx.Client) -> None:
    body = b'{"old_id_number": "250123456", "extra": [{"a": {"b": 1, "b": 2}}]}'
    assert problem(limited_api.post(SEARCH, content=body, headers=JSON), 400, "malformed-json")["key"] == "b"


def test_a_duplicate_key_that_is_not_a_name_is_not_echoed(limited_api: httpx.Client) -> None:
    body = b'{"068185000123": 1, "068185000123": 2}'
    response = limited_api.post(SEARCH, content=body, headers=JSON)
    answer = problem(response, 400, "malformed-json")
    assert "key" not in answer
    assert "068185000123" not in response.text


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"],
)
def test_non_finite_numbers_are_400(limited_api: httpx.Client, value: bytes) -> None:
    body = b'{"old_id_number": "250123456", "page_size": ' + value + b"}"
    answer = problem(limited_api.post(SEARCH, content=body, headers=JSON), 400, "malformed-json")
    assert "NaN" in answer["detail"]


def test_a_lone_surrogate_is_400(limited_api: httpx.Client) -> None:
    body = b'{"full_name": "Nguy\\ud800n An", "date_of_birth": "1990"}'
    problem(limited_api.post(SEARCH, content=body, headers=JSON), 400, "malformed-json")


def test_strict_json_holds_on_admin_routes(limited: str, make_client: Callable[..., ClientCredentials]) -> None:
    with httpx.Client(base_url=limited, timeout=30) as admin:
        admin.headers["Authorization"] = f"Bearer {fetch_token(admin, make_client('admin'))}"
        response = admin.post("/v1/admin/clients", content=b'{"name": "A", "name": "B"}', headers=JSON)
        assert problem(response, 400, "malformed-json")["key"] == "name"
        assert admin.get("/v1/admin/clients").status_code == 200


@pytest.mark.parametrize("second", ["text/plain", "application/json"])
def test_two_content_types_are_400_before_any_parsing(
    limited: str, limited_api: httpx.Client, make_client: Callable[..., ClientCredentials], second: str
) -> None:
    """Starlette parses the body by the first Content-Type; a proxy, or the strict JSON check, may follow the last.
    A body whose duplicate keys one parser sees and the other does not is refused, whichever comes second."""
    two = [("Content-Type", "application/json"), ("Content-Type", second)]
    body = b'{"old_id_number": "250123456", "old_id_number": "250999999"}'
    problem(limited_api.post(SEARCH, content=body, headers=two), 400, "bad-request")
    with httpx.Client(base_url=limited, timeout=30) as admin:
        admin.headers["Authorization"] = f"Bearer {fetch_token(admin, make_client('admin'))}"
        created = admin.post("/v1/admin/clients", content=b'{"name": "A", "name": "B"}', headers=two)
        assert "Content-Type" in problem(created, 400, "bad-request")["detail"]


def test_valid_json_passes_unchanged(limited_api: httpx.Client, planted: PlantedSearch) -> None:
    query = {"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": 2}
    response = limited_api.post(SEARCH, json=query)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 2


# -- unknown fields and page sizes -----------------------------------------------------------------------------


def test_an_unknown_field_is_422(limited_api: httpx.Client) -> None:
    response = limited_api.post(SEARCH, json={"old_id_number": "250123456", "nickname": "Tí"})
    answer = problem(response, 422, "validation-error")
    assert [(e["loc"], e["type"]) for e in answer["errors"]] == [(["body", "nickname"], "extra_forbidden")]
    assert "Tí" not in response.text


@pytest.mark.parametrize(("page_size", "status"), [(0, 422), (1, 200), (PAGE_MAX, 200), (PAGE_MAX + 1, 422)])
def test_page_size_bounds_follow_the_settings(
    limited_api: httpx.Client, planted: PlantedSearch, page_size: int, status: int
) -> None:
    query = {"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": page_size}
    response = limited_api.post(SEARCH, json=query)
    assert response.status_code == status, response.text
    if status == 200:
        assert len(response.json()["items"]) == page_size
    else:
        assert problem(response, 422, "validation-error")["errors"][0]["loc"] == ["body", "page_size"]


# -- deadline --------------------------------------------------------------------------------------------------


async def _seed(url: str) -> str:
    await seed_population(url, count=20, seed=68)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(sa.select(sa.func.min(CITIZENS.c.so_dinh_danh)))).scalar_one())
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def slow_sector(make_settings: Callable[..., Settings], reader: ClientCredentials) -> Iterator[tuple[str, str, str]]:
    """A gateway with a 1.5 s deadline over a PostgreSQL sector database whose connector would wait 30 s: its
    URL, the sector database's DSN, and a personal id in it."""
    with postgres_database(prefix="gwdeadline") as url:
        personal_id = asyncio.run(_seed(url))
        settings = make_settings(
            connectors={"population": {"config": {"url": url, "timeout_seconds": 30}}},
            request_deadline_seconds=DEADLINE,
            rate_limit_per_second=0,
            rate_limit_per_day=0,
        )
        with LiveServer(create_app(settings)) as live:
            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            yield live.url, dsn, personal_id


async def _until(watcher: asyncpg.Connection, waiting: int) -> bool:
    """Whether, within 5 s, exactly ``waiting`` statements of the sector database wait for a lock."""
    for _ in range(500):
        count = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if count == waiting:
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.mark.anyio
async def test_a_request_past_the_deadline_is_504_and_its_query_is_cancelled(
    slow_sector: tuple[str, str, str], token: str
) -> None:
    url, dsn, personal_id = slow_sector
    record = f"{RECORDS}/{personal_id}"
    # (a token of the suite's gateway: same signing key; the token endpoint is under the deadline too)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}", **STATED}, timeout=30
    ) as http:
        # Warm up (the connector's first connection); on a loaded machine the first try may itself pass the
        # deadline, which is the behaviour under test, so it is tried again.
        for _ in range(5):
            if (warm := await http.get(record)).status_code != 504:
                break
        assert warm.status_code == 200, warm.text
        holder = await asyncpg.connect(dsn, timeout=5)
        watcher = await asyncpg.connect(dsn, timeout=5)
        try:
            async with holder.transaction():
                await holder.execute(f"LOCK TABLE {CITIZENS.name} IN ACCESS EXCLUSIVE MODE")
                started = time.perf_counter()
                pending = asyncio.create_task(http.get(record))
                assert await _until(watcher, 1), "the gateway's query never waited for the lock"
                response = await pending
                elapsed = time.perf_counter() - started
                # the lock is still held, yet nothing waits for it any more: the query was cancelled
                assert await _until(watcher, 0), "the gateway's query still runs after the deadline"
                searched = await http.post(SEARCH, json={"old_id_number": "250123456"})
        finally:
            await watcher.close()
            await holder.close()
        body = problem(response, 504, "deadline-exceeded")
        assert DEADLINE <= elapsed < DEADLINE + 3
        rest = str({k: v for k, v in body.items() if k != "instance"})
        for leak in ("SELECT", "cong_dan", personal_id, "LOCK", "canceling"):
            assert leak not in rest
        problem(searched, 504, "deadline-exceeded")
        # the gateway and its connection pool are fine once the lock is gone
        for _ in range(3):
            again = await http.get(record)
            assert again.status_code == 200, again.text
