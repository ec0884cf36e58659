"""Connections through the national axis, end to end: a live gateway serving the business registry (REST) and the
judicial records service (SOAP) through the simulated national platform (:mod:`simulators.ndxp_hub`). Records come
through; ``/v1/axis`` says each connection goes via the axis; a platform that refuses the gateway's token, loses the
request metadata or answers error envelopes is answered with the documented problem types and moves the axis state
through the health checks, and the connection recovers when the platform behaves.

The gateway's database is fresh for this module (SQLite, or PostgreSQL when ``GATEWAY_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from support import STATED, ClientCredentials, LiveServer, fetch_token, postgres_database, run_gateway_command

from connectors.sql.urls import to_async_url
from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.http import SimulatorServer
from simulators.ndxp_hub import NdxpHub, via_hub
from simulators.sectors import SectorContext, load_sector_system

ROUTES = {"business": ("BKHDT-DKDN", "rest"), "judicial_records": ("BTP-LLTP", "soap")}
# The passive evidence (error ratio of calls) stays out of the way too: the tests fail calls on purpose.
HEALTH = {"interval_seconds": 0.2, "jitter": 0, "timeout_seconds": 2, "failures_to_down": 3, "min_calls": 10_000}


@dataclass
class Axis:
    http: httpx.Client
    headers: dict[str, str]
    hub: NdxpHub
    canaries: dict[str, str]
    settings: Settings
    sectors: dict[str, SimulatorServer]

    def record(self, database: str, record_id: str | None = None) -> httpx.Response:
        key = record_id or self.canaries[database]
        return self.http.get(f"/v1/databases/{database}/records/{key}", headers={**self.headers, **STATED})

    def detail(self, database: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/axis/{database}", headers=self.headers, params={"history": 50})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_state(self, database: str, state: str, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            detail = self.detail(database)
            if detail["state"] == state:
                return detail
            assert time.monotonic() < deadline, f"{database} stayed {detail['state']} ({detail['error']}), not {state}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwaxisplatform") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('axis-platform-db') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def axis(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Axis]:
    data_dir: Path = tmp_path_factory.mktemp("axis-platform")
    with ExitStack() as stack:
        context = SectorContext(data_dir=data_dir / "sectors", citizens=60, seed=68, stack=stack)
        hub = NdxpHub()
        hub_server = stack.enter_context(SimulatorServer(hub))
        connectors: dict[str, Any] = {"population": {"enabled": False}}
        canaries: dict[str, str] = {}
        for database, (service, protocol) in ROUTES.items():
            system = load_sector_system(database)
            direct = asyncio.run(system.start(context))
            config = via_hub(hub, hub_server.url, service, direct, protocol=protocol)  # type: ignore[arg-type]
            canaries[database] = config["canary"]
            # The circuit breakers stay out of the way: the states here come from the health checks.
            connectors[database] = {
                "connector": system.connector,
                "config": config,
                "health": HEALTH,
                "circuit": {"enabled": False},
            }

        async def client() -> ClientCredentials:
            async with standalone_session(database_url) as session:
                made, secret = await create_client(
                    session, name="Axis reader", scopes=["axis", *(f"{db}:read" for db in ROUTES)]
                )
                return ClientCredentials(made.client_id, secret)

        credentials = asyncio.run(client())
        settings = Settings(
            data_dir=data_dir,
            database_url=database_url,
            connectors=connectors,
            log_format="console",
            log_level="WARNING",
            axis_lease_seconds=2,
        )
        with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
            token = fetch_token(http, credentials)
            yield Axis(http, {"Authorization": f"Bearer {token}"}, hub, canaries, settings, context.servers)


@pytest.fixture
def connected(axis: Axis) -> Iterator[Axis]:
    """Every connection connected, the hub behaving; the hub put back to normal afterwards."""
    axis.hub.misbehave(mode="none")
    for database in ROUTES:
        axis.wait_state(database, "connected")
    yield axis
    axis.hub.misbehave(mode="none")


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["type"] == f"/problems/{slug}", body
    return body


@pytest.mark.parametrize("database", list(ROUTES))
def test_records_come_through_the_platform_and_the_axis_shows_the_route(connected: Axis, database: str) -> None:
    response = connected.record(database)
    assert response.status_code == 200, response.text
    assert connected.hub.calls(ROUTES[database][0])[-1].code == "00"
    axis = connected.http.get("/v1/axis", headers=connected.headers).json()
    routes = {item["id"]: (item["route"], item["platform"]) for item in axis["databases"]}
    assert routes[database] == ("axis", "NDXP (simulated)")
    assert routes["population"] == (None, None)  # not configured here: no route
    assert connected.detail(database)["route"] == "axis"


def test_the_monthly_report_shows_the_route(connected: Axis) -> None:
    month = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    report = connected.http.get("/v1/axis/report", params={"month": month}, headers=connected.headers)
    assert report.status_code == 200, report.text
    routes = {db["id"]: (db["route"], db["platform"]) for db in report.json()["databases"]}
    assert routes["business"] == ("axis", "NDXP (simulated)") and routes["land"] == (None, None)
    page = connected.http.get(
        "/v1/axis/report", params={"month": month, "format": "html"}, headers=connected.headers
    ).text
    row = page[page.index('<tr data-database="business">') :].split("</tr>", 1)[0]
    assert 'data-field="route"' in row and "via the axis (NDXP (simulated))" in row
    land = page[page.index('<tr data-database="land">') :].split("</tr>", 1)[0]
    assert 'data-field="route"' not in land


def test_the_axis_command_shows_the_route(connected: Axis) -> None:
    settings = connected.settings
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(settings.data_dir),
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_CONNECTORS": json.dumps({k: v.model_dump() for k, v in settings.connectors.items()}),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    table = run_gateway_command(("axis",), env=env, cwd=Path.cwd())
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "ROUTE" in lines[2]
    for database in ROUTES:
        row = next(line for line in lines if line.startswith(f"{database} "))
        assert "via the axis (NDXP (simulated))" in row, row
    population = next(line for line in lines if line.startswith("population "))
    assert "via the axis" not in population
    shown = run_gateway_command(("axis", "show", "business"), env=env, cwd=Path.cwd())
    assert "route:      via the axis (NDXP (simulated))" in shown.stdout, shown.stdout + shown.stderr


@pytest.mark.parametrize("database", list(ROUTES))
def test_a_missing_record_through_the_platform_is_not_found(connected: Axis, database: str) -> None:
    missing = "0100233488" if database == "business" else "LLTP-68-1999-999999"
    _problem(connected.record(database, missing), 404, "record-not-found")


@pytest.mark.parametrize("mode", ["refuse_token", "drop_metadata"])
@pytest.mark.parametrize("database", list(ROUTES))
def test_a_refusing_platform_is_upstream_refused_and_takes_the_connection_down(
    connected: Axis, database: str, mode: str
) -> None:
    switched = datetime.now(UTC)
    connected.hub.revoke_tokens()  # the gateway's cached token is refused, and no new one is issued
    connected.hub.misbehave(mode=mode)
    body = _problem(connected.record(database), 502, "upstream-refused")
    expected = "refused the token request" if mode == "refuse_token" else "refused the call (result code 12"
    assert expected in body["detail"]
    down = connected.wait_state(database, "down")
    assert down["cause"] == "check-refused", down
    assert expected in down["error"]
    # One refused check is enough: the platform answered, and it said no.
    after = [c for c in reversed(down["checks"]) if datetime.fromisoformat(c["checked_at"]) > switched]
    first_failed = next(check for check in after if not check["ok"])
    assert first_failed["state"] == "down" and first_failed["cause"] == "check-refused", after
    connected.hub.misbehave(mode="none")
    back = connected.wait_state(database, "connected")
    assert back["cause"] is None
    assert connected.record(database).status_code == 200


@pytest.mark.parametrize(
    ("code", "status", "slug", "cause"),
    [
        ("99", 502, "upstream-error", "check-status-5xx"),
        ("97", 503, "upstream-unavailable", "check-connect"),
        ("98", 504, "upstream-timeout", "check-timeout"),
    ],
)
def test_error_envelopes_are_problems_and_move_the_axis(
    connected: Axis, code: str, status: int, slug: str, cause: str
) -> None:
    database = "business"
    switched = datetime.now(UTC)
    connected.hub.misbehave(mode="error_envelope", code=code)
    _problem(connected.record(database), status, slug)
    down = connected.wait_state(database, "down")
    assert down["cause"] == cause and f"result code {code}" in down["error"]
    # Degraded first, down after failures_to_down failed checks in a row.
    after = [c for c in reversed(down["checks"]) if datetime.fromisoformat(c["checked_at"]) > switched]
    failed = [check for check in after if not check["ok"]]
    assert [check["state"] for check in failed[:3]] == ["degraded", "degraded", "down"], after
    assert all(check["cause"] == cause for check in failed[:3])
    connected.hub.misbehave(mode="none")
    connected.wait_state(database, "connected")


def test_the_callers_purpose_and_officer_reach_the_platform(connected: Axis) -> None:
    response = connected.record("business")
    assert response.status_code == 200, response.text
    # The call this request made (the axis's health checks call the same service, without a caller).
    request_id = response.headers["X-Request-Id"]
    calls = [c for c in connected.hub.calls("BKHDT-DKDN") if c.metadata.get("MaYeuCau") == request_id]
    assert calls, [c.metadata for c in connected.hub.calls("BKHDT-DKDN")]
    metadata = calls[-1].metadata
    assert metadata["MaDVC"] == STATED["X-Purpose"]
    assert metadata["MaCanBo"] == STATED["X-Actor-Id"]
    assert metadata["MaYeuCau"] == response.headers["X-Request-Id"]


@pytest.mark.parametrize("database", list(ROUTES))
def test_the_callers_request_id_and_trace_reach_the_platform_and_the_sector_system(
    connected: Axis, database: str
) -> None:
    """One caller's request id and trace id arrive, over real sockets, at the platform and, through it, at the
    sector system behind it (each hop a new span of the same trace)."""
    request_id = f"axis-e2e-{uuid.uuid4().hex[:12]}"
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    key = connected.canaries[database]
    response = connected.http.get(
        f"/v1/databases/{database}/records/{key}",
        headers={
            **connected.headers,
            **STATED,
            "X-Request-Id": request_id,
            "traceparent": f"00-{trace_id}-{caller_span}-01",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-Id"] == request_id

    (at_hub,) = [
        call for call in connected.hub.calls(ROUTES[database][0]) if call.headers.get("x-request-id") == request_id
    ]
    at_sector = [
        request
        for request in connected.sectors[database].api.middleware.received.requests()
        if request.headers.get("x-request-id") == request_id
    ]
    assert at_sector, f"the request id never reached the {database} system"
    for headers in (at_hub.headers, at_sector[-1].headers):
        version, trace, span, _flags = headers["traceparent"].split("-")
        assert (version, trace) == ("00", trace_id)
        assert span != caller_span  # the gateway's own span, in the caller's trace
    assert at_hub.metadata["MaYeuCau"] == request_id
