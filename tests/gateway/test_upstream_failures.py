"""When the sector system fails, through the real HTTP gateway: the right problem, no leak, counted in metrics.

Each scenario runs its own gateway (uvicorn on 127.0.0.1) whose population connector points at a sector database
that is unreachable, returns a row the contract rejects, is locked, or is misconfigured. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from support import (
    STATED,
    ClientCredentials,
    LiveServer,
    fetch_token,
    free_port,
    install_distribution,
    postgres_database,
)

from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.http.routes.health import PROBE_REUSE_SECONDS, READY_TIMEOUT_SECONDS
from simulators.population import CITIZENS, seed_population
from simulators.population_api.connector_config import rest_connector_config

RECORDS = "/v1/databases/population/records"
SEARCH = "/v1/databases/population/search"
PROBLEM = "application/problem+json"
LEAKS = ("SELECT", "select ", "cong_dan", "so_dinh_danh", "Errno", "Connect call failed", "unable to open", "sqlite3")


@dataclass
class Gateway:
    http: httpx.Client
    headers: dict[str, str]
    url: str


@pytest.fixture(scope="module")
def reader(make_client: Callable[..., ClientCredentials]) -> ClientCredentials:
    return make_client("population:read", "population:search")


@contextmanager
def _gateway(settings: Settings, credentials: ClientCredentials) -> Iterator[Gateway]:
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        token = fetch_token(http, credentials)
        yield Gateway(http, {"Authorization": f"Bearer {token}", **STATED}, live.url)


def _population_gateway(
    make_settings: Callable[..., Settings], credentials: ClientCredentials, config: dict[str, Any]
) -> Iterator[Gateway]:
    with _gateway(make_settings(connectors={"population": {"config": config}}), credentials) as gateway:
        yield gateway


def upstream_errors(http: httpx.Client, reason: str) -> float:
    """The value of gateway_upstream_errors_total{database="population",reason=...} on /metrics."""
    response = http.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        if family.name == "gateway_upstream_errors":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels == {"database": "population", "reason": reason}:
                    return sample.value
    return 0.0


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    return body


def _assert_no_leak(response: httpx.Response, *secrets: str) -> None:
    """Neither driver messages, SQL, paths nor personal data in the body.

    The ``instance`` member is the request path, which for a read holds the personal id the caller sent;
    everything else must not.
    """
    body = response.json()
    assert body.get("instance") == response.request.url.path
    rest = json.dumps({k: v for k, v in body.items() if k != "instance"}, ensure_ascii=False)
    for text in (*LEAKS, *secrets):
        assert text not in rest, text


# -- the sector database cannot be reached ---------------------------------------------------------------------


@dataclass
class Unreachable:
    gateway: Gateway
    hidden: tuple[str, ...]  # what must never be shown: URL parts, file path


@pytest.fixture(scope="module", params=["closed-port PostgreSQL", "missing SQLite file"])
def unreachable(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    reader: ClientCredentials,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Unreachable]:
    if request.param == "closed-port PostgreSQL":
        port = free_port()
        url = f"postgresql://reader:Pa55-w0rd@127.0.0.1:{port}/population"
        hidden: tuple[str, ...] = (url, "Pa55-w0rd", "127.0.0.1", f":{port}", "reader:")
    else:
        path = tmp_path_factory.mktemp("no-sector") / "missing" / "population.db"
        url = f"sqlite:///{path}"
        hidden = (str(path), "population.db", "missing/")
    for gateway in _population_gateway(make_settings, reader, {"url": url, "connect_timeout_seconds": 2}):
        yield Unreachable(gateway, hidden)
    if request.param == "missing SQLite file":
        assert not path.exists() and not path.parent.exists(), "the gateway created the sector database"


def test_read_from_an_unreachable_database_is_503(unreachable: Unreachable) -> None:
    gateway = unreachable.gateway
    before = upstream_errors(gateway.http, "connect")
    response = gateway.http.get(f"{RECORDS}/068185000123", headers=gateway.headers)
    body = _problem(response, 503, "upstream-unavailable")
    assert int(response.headers["retry-after"]) > 0
    assert body["instance"] == f"{RECORDS}/068185000123"
    _assert_no_leak(response, *unreachable.hidden, "068185000123")
    assert upstream_errors(gateway.http, "connect") == before + 1


def test_search_in_an_unreachable_database_is_503(unreachable: Unreachable) -> None:
    gateway = unreachable.gateway
    before = upstream_errors(gateway.http, "connect")
    query = {"full_name": "Nguyễn Thị Mai", "date_of_birth": "1985-03-12", "old_id_number": "250123456"}
    response = gateway.http.post(SEARCH, json=query, headers=gateway.headers)
    _problem(response, 503, "upstream-unavailable")
    assert int(response.headers["retry-after"]) > 0
    for value in query.values():
        assert value not in response.text
    _assert_no_leak(response, *unreachable.hidden)
    assert upstream_errors(gateway.http, "connect") == before + 1


def test_readiness_reports_the_unreachable_database(unreachable: Unreachable) -> None:
    response = unreachable.gateway.http.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    population = body["checks"]["connectors"]["population"]
    assert population["loaded"] is True
    assert population["reachable"] is False
    assert population["message"]
    for text in (*LEAKS, *unreachable.hidden):
        assert text not in response.text


# -- the sector database returns a row the contract rejects ----------------------------------------------------


@dataclass
class Violating:
    gateway: Gateway
    row: dict[str, Any]  # the bad row, as stored


async def _seed_with_a_violating_row(url: str) -> dict[str, Any]:
    await seed_population(url, count=40, seed=68)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            row = dict(
                (
                    await conn.execute(
                        sa.select(CITIZENS).where(CITIZENS.c.so_cmnd.is_not(None)).order_by(CITIZENS.c.so_dinh_danh)
                    )
                )
                .mappings()
                .first()
                or {}
            )
            # a valid gender code that contradicts the personal id: the contract's message quotes the id
            row["gioi_tinh"] = 3 - row["gioi_tinh"]
            await conn.execute(
                sa.update(CITIZENS)
                .where(CITIZENS.c.so_dinh_danh == row["so_dinh_danh"])
                .values(gioi_tinh=row["gioi_tinh"])
            )
    finally:
        await engine.dispose()
    return row


@pytest.fixture(scope="module")
def violating(
    make_settings: Callable[..., Settings], reader: ClientCredentials, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Violating]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('bad-sector') / 'population.db'}"
    row = asyncio.run(_seed_with_a_violating_row(url))
    for gateway in _population_gateway(make_settings, reader, {"url": url}):
        yield Violating(gateway, row)


def _personal_data(row: dict[str, Any]) -> tuple[str, ...]:
    return (row["so_dinh_danh"], row["so_cmnd"], row["ho_ten"], row["thuong_tru_chi_tiet"], row["ma_ho"])


def test_read_of_a_violating_row_is_502(violating: Violating) -> None:
    gateway, row = violating.gateway, violating.row
    before = upstream_errors(gateway.http, "contract_violation")
    response = gateway.http.get(f"{RECORDS}/{row['so_dinh_danh']}", headers=gateway.headers)
    _problem(response, 502, "contract-violation")
    assert "retry-after" not in response.headers
    _assert_no_leak(response, *_personal_data(row))
    assert upstream_errors(gateway.http, "contract_violation") == before + 1


def test_search_finding_a_violating_row_serves_the_page_without_it(violating: Violating) -> None:
    """One bad record does not fail its page: it is left out, counted in ``skipped`` and in the contract
    violations metric, and nothing of it reaches the caller."""
    gateway, row = violating.gateway, violating.row
    before = upstream_errors(gateway.http, "contract_violation")
    response = gateway.http.post(SEARCH, json={"old_id_number": row["so_cmnd"]}, headers=gateway.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None, "skipped": 1}
    for value in _personal_data(row):
        assert value not in response.text
    assert upstream_errors(gateway.http, "contract_violation") == before + 1


def test_valid_rows_of_the_same_database_are_served(violating: Violating) -> None:
    gateway, row = violating.gateway, violating.row
    response = gateway.http.post(SEARCH, json={"old_id_number": "999999999"}, headers=gateway.headers)
    assert response.status_code == 200, response.text
    other = gateway.http.get("/readyz").json()["checks"]["connectors"]["population"]
    assert other["reachable"] is True
    assert row["so_dinh_danh"]  # the fixture found a row to break


# -- the sector database does not answer in time ---------------------------------------------------------------


@dataclass
class Locked:
    gateway: Gateway
    dsn: str  # plain asyncpg DSN of the sector database
    personal_id: str


async def _seed_small(url: str) -> str:
    await seed_population(url, count=20, seed=68)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(sa.select(sa.func.min(CITIZENS.c.so_dinh_danh)))).scalar_one())
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def lockable(make_settings: Callable[..., Settings], reader: ClientCredentials) -> Iterator[Locked]:
    with postgres_database(prefix="gwupstream") as url:
        personal_id = asyncio.run(_seed_small(url))
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        for gateway in _population_gateway(make_settings, reader, {"url": url, "timeout_seconds": 0.5}):
            yield Locked(gateway, dsn, personal_id)


@pytest.mark.anyio
async def test_a_locked_table_is_504_and_the_gateway_recovers(lockable: Locked) -> None:
    gateway = lockable.gateway
    record = f"{RECORDS}/{lockable.personal_id}"
    async with httpx.AsyncClient(base_url=gateway.url, headers=gateway.headers, timeout=30) as http:
        assert (await http.get(record)).status_code == 200
        before = upstream_errors(gateway.http, "timeout")
        holder = await asyncpg.connect(lockable.dsn, timeout=5)
        try:
            async with holder.transaction():
                await holder.execute(f"LOCK TABLE {CITIZENS.name} IN ACCESS EXCLUSIVE MODE")
                started = time.perf_counter()
                response = await http.get(record)
                elapsed = time.perf_counter() - started
                searched = await http.post(SEARCH, json={"old_id_number": "250123456"})
                ready = await http.get("/readyz")
        finally:
            await holder.close()
        _problem(response, 504, "upstream-timeout")
        assert int(response.headers["retry-after"]) > 0
        assert elapsed < 2.0
        _assert_no_leak(response, lockable.personal_id, "LOCK", "canceling statement")
        _problem(searched, 504, "upstream-timeout")
        assert ready.status_code == 200 and ready.json()["checks"]["connectors"]["population"]["reachable"] is False
        assert upstream_errors(gateway.http, "timeout") == before + 2
        # the lock is gone: the same gateway answers again (its connection pool was not poisoned)
        for _ in range(3):
            again = await http.get(record)
            assert again.status_code == 200, again.text
            assert again.json()["personal_id"] == lockable.personal_id


# -- the connector's configuration is invalid ------------------------------------------------------------------


BAD_URL = "postgresql://reader:Pa55-w0rd@sector-db:port/population"
MISCONFIGURATIONS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    # name: (connector config, what the readiness message must say)
    "bad table name": ({"url": "sqlite:///x.db", "table": "bad name"}, ("table", "not a plain SQL identifier")),
    "unparsable URL": ({"url": BAD_URL}, ("url", "not a valid SQLAlchemy database URL")),
}


@dataclass
class Misconfigured:
    gateway: Gateway
    expected: tuple[str, ...]


@pytest.fixture(scope="module", params=sorted(MISCONFIGURATIONS))
def misconfigured(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], reader: ClientCredentials
) -> Iterator[Misconfigured]:
    config, expected = MISCONFIGURATIONS[request.param]
    for gateway in _population_gateway(make_settings, reader, config):
        yield Misconfigured(gateway, expected)


def test_invalid_config_still_starts_but_is_not_ready(misconfigured: Misconfigured) -> None:
    http = misconfigured.gateway.http
    assert http.get("/healthz").status_code == 200
    response = http.get("/readyz")
    body = _problem(response, 503, "not-ready")
    population = body["checks"]["connectors"]["population"]
    assert population["loaded"] is False
    for text in misconfigured.expected:
        assert text in population["message"]
    for secret in ("x.db", "Pa55-w0rd", BAD_URL):
        assert secret not in response.text


@pytest.mark.parametrize(("method", "path"), [("GET", f"{RECORDS}/068185000123"), ("POST", SEARCH)])
def test_routes_of_a_database_that_did_not_load_are_404(misconfigured: Misconfigured, method: str, path: str) -> None:
    gateway = misconfigured.gateway
    response = gateway.http.request(method, path, headers=gateway.headers, json={"old_id_number": "250123456"})
    _problem(response, 404, "not-found")


# -- the connector itself fails: an exception that is not a ConnectorError ------------------------------------

BUGGY_MODULE = "buggy_population_connector_for_tests"
BUGGY_SOURCE = '''
"""A third-party connector with a bug: it lets a sector system's malformed answer escape as a KeyError."""

from connectors.base import Capability, Connector, ConnectorConfig, HealthReport, HealthState
from contracts.population import Citizen


class BuggyConfig(ConnectorConfig):
    pass


class BuggyConnector(Connector[BuggyConfig]):
    slug = "buggy_population"
    title = "Population (a connector with a bug)"
    contract = Citizen
    config_model = BuggyConfig
    capabilities = frozenset({Capability.READ})

    async def health(self) -> HealthReport:
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Citizen:
        answer = {"ho_ten": "Nguyen Van Bug " + record_id}
        return Citizen.model_validate({"full_name": answer["ngay_sinh " + record_id]})
'''


@pytest.fixture(scope="module")
def buggy_connector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An installed distribution (a ``.dist-info`` folder on ``sys.path``) registering the buggy connector."""
    root = tmp_path_factory.mktemp("buggy-plugin")
    entry_points = f"[gateway.connectors]\nbuggy_population = {BUGGY_MODULE}:BuggyConnector\n"
    install_distribution(root, "buggy-population-connector", entry_points, modules={BUGGY_MODULE: BUGGY_SOURCE})
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        yield "buggy_population"
    sys.modules.pop(BUGGY_MODULE, None)


def test_a_connectors_unexpected_exception_is_a_502_counted_against_the_sector_system(
    make_settings: Callable[..., Settings], reader: ClientCredentials, buggy_connector: str
) -> None:
    instance = {"connector": buggy_connector, "config": {}, "circuit": {"consecutive_failures": 3}}
    with _gateway(make_settings(connectors={"population": instance}), reader) as gateway:
        for key in ("068185000121", "068185000122", "068185000123"):  # every record fails: not one record's fault
            response = gateway.http.get(f"{RECORDS}/{key}", headers=gateway.headers)
            body = _problem(response, 502, "upstream-error")
            # Neither the exception nor its message (which holds the record's key and a value) is shown.
            assert "KeyError" not in response.text and "ngay_sinh" not in response.text and "Bug" not in response.text
            assert body["detail"] == "The connector of population failed unexpectedly; the gateway's logs say where."
        assert upstream_errors(gateway.http, "connector_error") == 3
        # Counted as the sector system failing: the circuit opens after the configured consecutive failures.
        response = gateway.http.get(f"{RECORDS}/068185000124", headers=gateway.headers)
        _problem(response, 503, "circuit-open")
        assert int(response.headers["Retry-After"]) >= 1


# -- a sector system that does not answer at all -------------------------------------------------------------------


async def _never_answers(_request: Request) -> PlainTextResponse:
    await asyncio.sleep(8)  # longer than the readiness probe's budget and Kubernetes' timeout (deploy/kubernetes)
    return PlainTextResponse("late")


def test_readiness_answers_in_time_while_a_sector_system_hangs(
    make_settings: Callable[..., Settings], reader: ClientCredentials
) -> None:
    hanging = Starlette(routes=[Route("/{path:path}", _never_answers)])
    with LiveServer(hanging, timeout_graceful_shutdown=1) as sector:
        config = rest_connector_config(sector.url, timeout_seconds=10)
        config["retry"] = {"max_attempts": 1}
        settings = make_settings(connectors={"population": {"connector": "rest", "config": config}})
        with _gateway(settings, reader) as gateway:
            for _ in range(2):
                started = time.monotonic()
                response = gateway.http.get("/readyz")
                elapsed = time.monotonic() - started
                # Ready (the gateway's own stores answer; a sector system's state is reported, not fatal), in time.
                assert response.status_code == 200, response.text
                assert elapsed < READY_TIMEOUT_SECONDS + 1.5, elapsed
                checks = response.json()["checks"]
                assert checks["database"] == "ok"
                assert checks["connectors"]["population"] == {
                    "loaded": True,
                    "reachable": False,
                    "message": f"no answer within {READY_TIMEOUT_SECONDS:g} s",
                }


def test_readiness_requests_share_each_sector_systems_probe(
    make_settings: Callable[..., Settings], reader: ClientCredentials
) -> None:
    """/readyz is unauthenticated: fifty requests at once make one probe of the sector system, not fifty (anyone
    could multiply the calls to sector systems, and to the national platform's quotas, by their request rate).
    The probes are told from the axis's health checks by the request id they forward."""
    calls: list[str] = []

    async def counting(request: Request) -> PlainTextResponse:
        calls.append(request.headers.get("x-request-id", ""))
        await asyncio.sleep(0.3)
        return PlainTextResponse("ok")

    sector = Starlette(routes=[Route("/{path:path}", counting)])
    with LiveServer(sector) as upstream:
        config = rest_connector_config(upstream.url, timeout_seconds=5)
        config["retry"] = {"max_attempts": 1}
        settings = make_settings(connectors={"population": {"connector": "rest", "config": config}})
        with _gateway(settings, reader) as gateway:

            async def burst(prefix: str, count: int) -> list[int]:
                async with httpx.AsyncClient(base_url=gateway.http.base_url, timeout=30) as client:
                    answers = await asyncio.gather(
                        *(client.get("/readyz", headers={"X-Request-Id": f"{prefix}{n:04d}"}) for n in range(count))
                    )
                return [answer.status_code for answer in answers]

            assert asyncio.run(burst("burst", 50)) == [200] * 50
            probes = [call for call in calls if call.startswith("burst")]
            assert len(probes) == 1, probes
            time.sleep(PROBE_REUSE_SECONDS + 0.1)
            assert asyncio.run(burst("later", 1)) == [200]
            assert len([call for call in calls if call.startswith("later")]) == 1, "a later request probes again"


# -- the gateway's own database takes no writes -------------------------------------------------------------------


@contextmanager
def _writes_blocked(database_url: str) -> Iterator[None]:
    """Another process holds the gateway database's write lock: SQLite's ``BEGIN EXCLUSIVE`` on the file, or a
    PostgreSQL ``LOCK TABLE`` on the audit chain's head (what every audited answer must write)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database or "", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return

    async def hold(release: asyncio.Event, held: asyncio.Event) -> None:
        conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE audit_head IN EXCLUSIVE MODE")
                held.set()
                await release.wait()
        finally:
            await conn.close()

    loop = asyncio.new_event_loop()
    release, held = asyncio.Event(), asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(hold(release, held),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not held.is_set():
        assert time.monotonic() < deadline, "could not lock the audit head"
        time.sleep(0.02)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(release.set)
        thread.join(timeout=10)
        loop.close()


def test_the_gateway_is_not_ready_while_its_database_takes_no_writes(
    make_settings: Callable[..., Settings], reader: ClientCredentials, gateway_database_url: str
) -> None:
    with _gateway(make_settings(), reader) as gateway:
        assert gateway.http.get("/readyz").status_code == 200
        with _writes_blocked(gateway_database_url):
            started = time.monotonic()
            response = gateway.http.get("/readyz")
            assert time.monotonic() - started < READY_TIMEOUT_SECONDS + 1.5
            body = _problem(response, 503, "not-ready")
            assert body["checks"]["database"].startswith("unreachable"), body
            # What it says is so: a data request cannot be audited, so it is not answered.
            read = gateway.http.get(f"{RECORDS}/068185000123", headers=gateway.headers)
            assert read.status_code == 503, read.text
        assert gateway.http.get("/readyz").status_code == 200
