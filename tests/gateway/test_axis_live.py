"""The integration axis through a real gateway: health checks against a real sector system that fails on demand,
the states and totals of ``GET /v1/axis``, the metrics, circuit breaking, maintenance, one checker at a time.

The sector system is the simulated population REST API served on 127.0.0.1; the gateway's own database is fresh
for this module (SQLite, or PostgreSQL when ``GATEWAY_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from support import (
    STATED,
    ClientCredentials,
    CommandResult,
    LiveServer,
    fetch_token,
    postgres_database,
    run_gateway_command,
)

from connectors.sql.urls import to_async_url
from gateway.axis._states import ConnectionState, Tracker
from gateway.axis.catalogue import load_catalogue
from gateway.axis.health import _store
from gateway.axis.maintenance import set_maintenance
from gateway.axis.models import AxisConnection
from gateway.axis.overview import AxisOverview, axis_overview, stale_bounds
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.exchange.dispatcher import backoff_seconds
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.http import SimulatorServer
from simulators.population import seed_population
from simulators.population_api import PopulationApi, load_rows, rest_connector_config

FAST_HEALTH = {
    "interval_seconds": 0.2,
    "jitter": 0,
    "timeout_seconds": 1,
    "failures_to_down": 3,
    "successes_to_connect": 2,
}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def axis_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway database of this module's own, migrated."""
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwaxis") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('axis-db') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def population_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path = tmp_path_factory.mktemp("axis-sector") / "population.db"
    asyncio.run(seed_population(f"sqlite:///{path}", count=300, seed=68))
    return load_rows(path)


@pytest.fixture(scope="module")
def sector(population_rows: list[dict[str, Any]]) -> Iterator[SimulatorServer]:
    """The population REST API on 127.0.0.1 (tests set it back to normal when they are done)."""
    with SimulatorServer(PopulationApi(population_rows)) as server:
        yield server


@pytest.fixture
def api(sector: SimulatorServer) -> Iterator[PopulationApi]:
    api = sector.api
    assert isinstance(api, PopulationApi)
    api.reset()
    yield api
    api.reset()


@pytest.fixture(scope="module")
def operator(axis_database: str) -> ClientCredentials:
    """A client with the axis and admin scopes and population reads."""

    async def run() -> ClientCredentials:
        async with standalone_session(axis_database) as session:
            client, secret = await create_client(
                session, name="Axis operator", scopes=["axis", "admin", "population:read"], client_id="axis-operator"
            )
            return ClientCredentials(client.client_id, secret)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def make_axis_settings(
    tmp_path_factory: pytest.TempPathFactory, axis_database: str, sector: SimulatorServer
) -> Callable[..., Settings]:
    data_dir = tmp_path_factory.mktemp("axis-data")

    def make(*, population: dict[str, Any] | None = None, **overrides: Any) -> Settings:
        instance = {"connector": "rest", "config": rest_connector_config(sector.url, timeout_seconds=1)}
        instance["config"]["retry"] = {"max_attempts": 1}
        instance["health"] = FAST_HEALTH
        instance.update(population or {})
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": axis_database,
            "connectors": {"population": instance},
            "log_format": "console",
            "log_level": "WARNING",
            "axis_lease_seconds": 2,
        }
        values.update(overrides)
        return Settings(**values)

    return make


class Gateway:
    def __init__(self, live: LiveServer, http: httpx.Client, app: Any, headers: dict[str, str]) -> None:
        self.live, self.http, self.app, self.headers = live, http, app, headers

    def axis(self) -> dict[str, Any]:
        response = self.http.get("/v1/axis", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def entry(self, database: str = "population") -> dict[str, Any]:
        return next(item for item in self.axis()["databases"] if item["id"] == database)

    def wait_state(self, state: str, database: str = "population", timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            entry = self.entry(database)
            if entry["state"] == state:
                return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"{database} stayed {entry['state']} ({entry['error']}), never {state}")
            time.sleep(0.05)

    def metrics_after_refresh(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The metrics, once the shared state they export (read at most once a second) is fresh."""
        time.sleep(1.05)
        return self.metrics()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = self.http.get("/metrics").text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


@contextmanager
def running(settings: Settings, credentials: ClientCredentials) -> Iterator[Gateway]:
    app = create_app(settings)
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        token = fetch_token(http, credentials)
        yield Gateway(live, http, app, {"Authorization": f"Bearer {token}", **STATED})


def sample(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


def test_the_axis_counts_the_connected_databases_of_the_catalogue(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, api: PopulationApi
) -> None:
    with running(make_axis_settings(), operator) as gateway:
        entry = gateway.wait_state("connected")
        assert entry["error"] is None
        assert entry["latency_ms"] is not None and entry["last_check"] is not None
        assert entry["name"] == "Cơ sở dữ liệu quốc gia về dân cư"
        axis = gateway.axis()
        assert axis["total"] == 16
        assert axis["connected"] == 1
        assert axis["target"] == 16
        assert axis["by_state"] == {
            "pending": 15,
            "connected": 1,
            "degraded": 0,
            "recovering": 0,
            "down": 0,
            "maintenance": 0,
            "unknown": 0,
        }
        land = next(item for item in axis["databases"] if item["id"] == "land")
        assert (land["state"], land["error"]) == ("pending", "no connector configured")
        metrics = gateway.metrics()
        assert sample(metrics, "gateway_axis_databases", state="connected") == 1
        assert sum(sample(metrics, "gateway_axis_databases", state=s) for s in axis["by_state"]) == 16
        assert sample(metrics, "gateway_axis_database_up", database="population") == 1
        assert sample(metrics, "gateway_axis_database_up", database="land") == 0
        assert sample(metrics, "gateway_axis_database_state", database="population", state="connected") == 1
        assert sample(metrics, "gateway_axis_database_state", database="population", state="down") == 0
        assert sample(metrics, "gateway_axis_database_state", database="land", state="pending") == 1
        assert sample(metrics, "gateway_axis_connected_target") == 16
        assert sample(metrics, "gateway_health_check_duration_seconds_count", database="population") >= 1
        last = sample(metrics, "gateway_health_check_last_success_timestamp_seconds", database="population")
        assert time.time() - 30 < last <= time.time() + 1
        assert api.count("status") >= 1


def test_the_jitter_of_checks_and_retries_leaves_the_global_random_state_alone(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, api: PopulationApi
) -> None:
    """An application or a test that seeds ``random`` keeps its sequence while the gateway runs: the jitter of
    the health checks and of the exchange's retries comes from generators of the gateway's own."""
    random.seed(2026)
    state = random.getstate()
    jittered = {"population": {"health": {**FAST_HEALTH, "jitter": 0.2}}}
    with running(make_axis_settings(**jittered), operator):
        deadline = time.monotonic() + 10
        while api.count("status") < 3:  # each check schedules the next one with its jitter
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert [backoff_seconds(attempts, 1.0, 60.0) for attempts in range(1, 6)]
    assert random.getstate() == state


def test_a_failing_sector_system_goes_down_and_comes_back(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, api: PopulationApi
) -> None:
    with running(make_axis_settings(), operator) as gateway:
        gateway.wait_state("connected")
        before = gateway.metrics()
        api.misbehave(mode="error", status=503)
        down = gateway.wait_state("down")
        assert "503" in down["error"]
        assert gateway.axis()["connected"] == 0
        metrics = gateway.metrics_after_refresh()
        assert sample(metrics, "gateway_axis_database_up", database="population") == 0
        assert sample(metrics, "gateway_axis_databases", state="down") == 1
        failures = ("gateway_health_check_failures_total", (("database", "population"), ("reason", "status_5xx")))
        # The reason's series appears with its first failure (docs/metrics.md): none before is a count of 0.
        assert metrics[failures] >= before.get(failures, 0.0) + 3
        api.behave()
        gateway.wait_state("connected")
        detail = gateway.http.get("/v1/axis/population", headers=gateway.headers, params={"history": 200}).json()
        states = [check["state"] for check in reversed(detail["checks"])]
        # Connected, degraded while failing (1 and 2 of 3), down, recovering, connected again.
        assert "degraded" in states and "down" in states
        down_at = states.index("down")
        assert states[down_at - 2 : down_at] == ["degraded", "degraded"]
        assert states[-1] == "connected"
        recovered = states.index("connected", down_at)
        assert states[recovered - 1] == "recovering"  # one good check was not enough
        assert [c["ok"] for c in reversed(detail["checks"])][recovered - 1] is True


def test_a_sector_system_rate_limiting_is_degraded_before_down_and_refused_credentials_are_down_at_once(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, api: PopulationApi
) -> None:
    """429 says "not now": a failure like a timeout, degraded for the first checks, down only after
    ``failures_to_down`` of them in a row. 401 says the credentials must change: down at once, ``check-refused``."""
    with running(make_axis_settings(), operator) as gateway:
        gateway.wait_state("connected")
        api.misbehave(mode="rate_limit", retry_after=1)
        down = gateway.wait_state("down")
        assert down["cause"] == "check-rate-limited", down
        detail = gateway.http.get("/v1/axis/population", headers=gateway.headers, params={"history": 50}).json()
        states = [check["state"] for check in reversed(detail["checks"])]
        down_at = states.index("down")
        assert states[down_at - 2 : down_at] == ["degraded", "degraded"], states
        failures = ("gateway_health_check_failures_total", (("database", "population"), ("reason", "rate_limited")))
        assert gateway.metrics()[failures] >= 3
        api.behave()
        gateway.wait_state("connected")

        api.misbehave(mode="error", status=401)
        down = gateway.wait_state("down")
        assert down["cause"] == "check-refused", down
        detail = gateway.http.get("/v1/axis/population", headers=gateway.headers, params={"history": 50}).json()
        latest = [check["state"] for check in detail["checks"]]
        assert latest[0] == "down" and latest[1] == "connected", latest  # at the first failed check
        api.behave()
        gateway.wait_state("connected")


def test_a_stopped_sector_system_is_down_until_it_is_back(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, population_rows: list[dict[str, Any]]
) -> None:
    system = SimulatorServer(PopulationApi(population_rows)).start()
    port = int(system.url.rsplit(":", 1)[1])
    config = rest_connector_config(system.url, timeout_seconds=1)
    settings = make_axis_settings(population={"config": config})
    try:
        with running(settings, operator) as gateway:
            gateway.wait_state("connected")
            system.stop()
            down = gateway.wait_state("down")
            assert down["error"]
            assert (
                sample(
                    gateway.metrics(),
                    "gateway_health_check_failures_total",
                    database="population",
                    reason="connect",
                )
                >= 3
            )
            system = SimulatorServer(PopulationApi(population_rows), port=port).start()
            gateway.wait_state("connected")
    finally:
        system.stop()


async def _overview(settings: Settings) -> AxisOverview:
    """The axis as a reader without connectors sees it (the command line): from the database alone."""
    async with standalone_session(settings.database_url) as session:
        return await axis_overview(session, load_catalogue(), None, 16, stale=stale_bounds(settings))


async def _transitions(url: str, database: str) -> list[tuple[datetime, str, str | None]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT at, state, cause FROM axis_transitions WHERE database_id = :db ORDER BY at, id")
            return [(row[0], row[1], row[2]) for row in await conn.execute(query, {"db": database})]
    finally:
        await engine.dispose()


def test_a_connection_nobody_checks_is_unknown_and_the_history_says_for_how_long(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, axis_database: str
) -> None:
    """Every process stopped: the last check said connected, but that is no evidence once the checks are overdue.
    The axis says ``unknown`` (not counted connected) and, when checks resume, the history records the gap."""
    settings = make_axis_settings()
    bound = stale_bounds(settings)["population"]
    with running(settings, operator) as gateway:
        gateway.wait_state("connected")
    stopped = time.monotonic()
    population = next(db for db in asyncio.run(_overview(settings)).databases if db.id == "population")
    assert population.state in {"connected", "degraded"}, population  # fresh: the last check's word holds
    time.sleep(max(0.0, bound + 0.5 - (time.monotonic() - stopped)))
    overview = asyncio.run(_overview(settings))
    population = next(db for db in overview.databases if db.id == "population")
    assert (population.state, population.cause) == ("unknown", "stale"), population
    assert population.error is not None and "no health check recorded" in population.error
    assert overview.connected == 0 and overview.by_state["unknown"] == 1
    # The monthly report, made while nothing checks, says the same: it used to count the gap as connected, up
    # to now, until checks resumed and wrote it.
    month = datetime.now(settings.report_zone).strftime("%Y-%m")
    made = _cli(settings, "report", "--month", month, "--format", "json")
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    (row,) = [db for db in report["databases"] if db["id"] == "population"]
    assert row["state_at_end"] == "unknown" and report["connected_at_end"] == 0
    assert row["seconds"].get("unknown", 0) > 0

    with running(settings, operator) as gateway:
        gateway.wait_state("connected")
        metrics = gateway.metrics_after_refresh()
        assert sample(metrics, "gateway_axis_database_state", database="population", state="unknown") == 0
    history = asyncio.run(_transitions(axis_database, "population"))
    gaps = [index for index, (_at, state, _cause) in enumerate(history) if state == "unknown"]
    assert gaps, history
    at, _state, cause = history[gaps[-1]]
    assert cause == "stale"
    before, after = history[gaps[-1] - 1], history[gaps[-1] + 1]
    assert before[1] in {"connected", "degraded"} and before[0] < at  # what the last check before it said
    assert after[1] in {"connected", "recovering", "degraded"} and at < after[0]  # the first check after the gap


def test_a_connector_that_no_longer_loads_after_a_stop_is_unknown_for_the_gap_then_down(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, axis_database: str
) -> None:
    """The gateway stopped, then started again with a population connector that cannot load: the time between the
    checks being overdue and the restart was not the last check's state (connected) but unknown."""
    settings = make_axis_settings()
    bound = stale_bounds(settings)["population"]
    with running(settings, operator) as gateway:
        gateway.wait_state("connected")
    time.sleep(bound + 0.5)
    with running(make_axis_settings(population={"connector": "no_such_connector"}), operator):
        deadline = time.monotonic() + 15
        while (history := asyncio.run(_transitions(axis_database, "population")))[-1][1] != "down":
            assert time.monotonic() < deadline, history
            time.sleep(0.1)
    last_checked, gap, fixed = history[-3:]
    assert last_checked[1] in {"connected", "degraded"}
    assert (gap[1], gap[2]) == ("unknown", "stale") and last_checked[0] < gap[0] < fixed[0]
    assert fixed[1] == "down" and fixed[2] is not None and "connector not loaded" in fixed[2]


def test_an_open_circuit_fails_fast_and_a_trial_call_closes_it(
    make_axis_settings: Callable[..., Settings],
    operator: ClientCredentials,
    api: PopulationApi,
    population_rows: list[dict[str, Any]],
) -> None:
    personal_id = population_rows[0]["so_dinh_danh"]
    circuit = {"consecutive_failures": 3, "cooldown_seconds": 1.0}
    health = {**FAST_HEALTH, "interval_seconds": 3600}  # only requests feed the breaker here
    settings = make_axis_settings(population={"circuit": circuit, "health": health})
    with running(settings, operator) as gateway:
        record = f"/v1/databases/population/records/{personal_id}"
        assert gateway.http.get(record, headers=gateway.headers).status_code == 200
        api.misbehave(mode="error", status=500)
        for row in population_rows[:3]:  # three records failing: the sector system's failure, not one record's
            failing = f"/v1/databases/population/records/{row['so_dinh_danh']}"
            assert gateway.http.get(failing, headers=gateway.headers).status_code == 502
        sent = api.count("requests")
        started = time.perf_counter()
        refused = gateway.http.get(record, headers=gateway.headers)
        assert time.perf_counter() - started < 0.5
        assert refused.status_code == 503
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["type"] == "/problems/circuit-open"
        assert refused.headers["Retry-After"] == "1"
        assert api.count("requests") == sent  # the sector system was not called
        assert sample(gateway.metrics(), "gateway_circuit_state", database="population") == 2
        api.behave()
        time.sleep(1.05)
        assert gateway.http.get(record, headers=gateway.headers).status_code == 200
        assert sample(gateway.metrics(), "gateway_circuit_state", database="population") == 0
        # A record that does not exist is an answer, not a failure.
        for _ in range(5):
            assert (
                gateway.http.get("/v1/databases/population/records/068199000000", headers=gateway.headers).status_code
                == 404
            )
        assert sample(gateway.metrics(), "gateway_circuit_state", database="population") == 0


def test_one_gateway_process_checks_at_a_time_and_another_takes_over(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, api: PopulationApi, axis_database: str
) -> None:
    settings = make_axis_settings()
    with running(settings, operator) as first, running(settings, operator) as second:
        first.wait_state("connected")
        time.sleep(1.0)
        runners = [first.app.state.gateway.health, second.app.state.gateway.health]
        assert sorted(runner.leader for runner in runners) == [False, True]
        leader, other = (first, second) if runners[0].leader else (second, first)
        checks_before = asyncio.run(_count_checks(axis_database))
        time.sleep(1.0)
        made = asyncio.run(_count_checks(axis_database)) - checks_before
        assert 2 <= made <= 8  # about 5 checks a second of one runner, not two runners' worth
        leader.live.__exit__(None, None, None)  # the leader stops, releasing its lease
        deadline = time.monotonic() + 5
        while not other.app.state.gateway.health.leader:
            assert time.monotonic() < deadline, "nobody took over the health checks"
            time.sleep(0.05)
        before = asyncio.run(_count_checks(axis_database))
        time.sleep(0.8)
        assert asyncio.run(_count_checks(axis_database)) > before


async def _count_checks(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text("SELECT max(id) FROM axis_checks"))).scalar_one() or 0)
    finally:
        await engine.dispose()


async def _history(url: str) -> tuple[list[str], int, list[str]]:
    """The states population entered, its checks counted per hour, the states land entered."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT state FROM axis_transitions WHERE database_id = :db ORDER BY at, id")
            population = [row[0] for row in await conn.execute(query, {"db": "population"})]
            land = [row[0] for row in await conn.execute(query, {"db": "land"})]
            counted = (
                await conn.execute(
                    sa.text("SELECT sum(checks) FROM axis_check_counts WHERE database_id = 'population'")
                )
            ).scalar_one()
            return population, int(counted or 0), land
    finally:
        await engine.dispose()


def test_maintenance_stops_the_checks_and_ending_it_reconnects(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, api: PopulationApi
) -> None:
    with running(make_axis_settings(), operator) as gateway:
        gateway.wait_state("connected")
        url = "/v1/admin/axis/population/maintenance"
        answer = gateway.http.put(url, headers=gateway.headers, json={"maintenance": True})
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "maintenance"
        assert answer.json()["maintenance"] is True
        time.sleep(0.3)
        checks = api.count("status")
        time.sleep(0.8)
        assert api.count("status") == checks
        assert gateway.entry()["state"] == "maintenance"
        assert sample(gateway.metrics_after_refresh(), "gateway_axis_databases", state="maintenance") == 1
        assert gateway.http.put(url, headers=gateway.headers, json={"maintenance": False}).status_code == 200
        gateway.wait_state("connected")
        history, counted, land = asyncio.run(_history(gateway.app.state.gateway.settings.database_url))
        assert history[-4:] == ["connected", "maintenance", "pending", "connected"]
        assert counted > 0 and land == ["pending"]
        missing = gateway.http.put(
            "/v1/admin/axis/nowhere/maintenance", headers=gateway.headers, json={"maintenance": True}
        )
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM
        bad = gateway.http.put(url, headers=gateway.headers, json={"maintenance": "sometimes", "extra": 1})
        assert bad.status_code == 422


def test_a_broken_connector_shows_down_with_the_reason_and_the_gateway_serves(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials
) -> None:
    settings = make_axis_settings(population={"config": {"base_url": "not a url"}})
    with running(settings, operator) as gateway:
        entry = gateway.entry()
        assert entry["state"] == "down"
        assert entry["error"].startswith("connector not loaded: ")
        assert entry["cause"] == "connector-not-loaded"
        assert gateway.http.get("/healthz").status_code == 200


def test_the_axis_needs_a_token_with_the_axis_scope(
    make_axis_settings: Callable[..., Settings], axis_database: str
) -> None:
    async def reader() -> ClientCredentials:
        async with standalone_session(axis_database) as session:
            client, secret = await create_client(
                session, name="Reader", scopes=["population:read"], client_id="axis-reader"
            )
            return ClientCredentials(client.client_id, secret)

    credentials = asyncio.run(reader())
    with running(make_axis_settings(), credentials) as gateway:
        assert gateway.http.get("/v1/axis").status_code == 401
        refused = gateway.http.get("/v1/axis", headers=gateway.headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
        assert gateway.http.get("/v1/axis/population", headers=gateway.headers).status_code == 403


def test_an_unknown_database_of_the_axis_is_404(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials
) -> None:
    with running(make_axis_settings(), operator) as gateway:
        missing = gateway.http.get("/v1/axis/atlantis", headers=gateway.headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM


def _cli(settings: Settings, *args: str) -> CommandResult:
    """``gateway axis ARGS``, in this process (``test_a_broken_catalogue_stops_...`` runs it as a subprocess)."""
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(settings.data_dir),
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_CONNECTORS": json.dumps({k: v.model_dump() for k, v in settings.connectors.items()}),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_AXIS_LEASE_SECONDS": str(settings.axis_lease_seconds),
    }
    return run_gateway_command(("axis", *args), env=env, cwd=Path.cwd())


def test_maintenance_of_a_connection_whose_connector_cannot_load_or_is_not_configured_shows_everywhere(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials
) -> None:
    """The operator's maintenance wins over the states that need no check (down: not loaded; pending: no
    connector) in the API and the metrics as in the CLI: AxisDatabaseDown kept paging for it."""
    settings = make_axis_settings(population={"connector": "no_such_connector"})
    with running(settings, operator) as gateway:
        gateway.wait_state("down")
        try:
            for database in ("population", "land"):
                assert _cli(settings, "maintenance", database, "--on").returncode == 0
            for database in ("population", "land"):
                assert gateway.entry(database)["state"] == "maintenance", gateway.entry(database)
            metrics = gateway.metrics_after_refresh()
            for database in ("population", "land"):
                assert sample(metrics, "gateway_axis_database_state", database=database, state="maintenance") == 1
            assert sample(metrics, "gateway_axis_databases", state="down") == 0
            listed = json.loads(_cli(settings, "--json").stdout)
            states = {db["id"]: db["state"] for db in listed["databases"]}
            assert states["population"] == states["land"] == "maintenance"
        finally:
            for database in ("population", "land"):
                _cli(settings, "maintenance", database, "--off")


def test_a_check_that_ran_as_maintenance_began_writes_no_state_into_it(tmp_path: Path) -> None:
    """The state a check derived is written only if the connection is still not under maintenance: a check already
    waiting on a hung sector system when the operator started maintenance used to record its state (degraded,
    down) and a transition into the maintenance period. (The race itself, in-process: no server makes it.)"""
    url = str(to_async_url(f"sqlite:///{tmp_path / 'gateway.db'}"))
    migrations.upgrade(url)
    began = datetime.now(UTC)

    async def run() -> tuple[bool, str, bool]:
        async with standalone_session(url) as session:
            session.add(AxisConnection(database_id="tax", state="connected", since=began, last_check=began))
            await session.commit()
            read_before_the_check = await session.get(AxisConnection, "tax")
        async with standalone_session(url) as operator_session:
            await set_maintenance(operator_session, "tax", True)
        failed = Tracker(state=ConnectionState.DEGRADED, since=began, failures=1, last_check=datetime.now(UTC))
        async with standalone_session(url) as session:
            written = await _store(session, read_before_the_check, "tax", failed)
            await session.commit()
            row = await session.get(AxisConnection, "tax")
            assert row is not None
            return written, row.state, row.maintenance

    assert asyncio.run(run()) == (False, "connected", True)


def test_the_axis_command_prints_the_table_and_manages_maintenance(
    make_axis_settings: Callable[..., Settings], operator: ClientCredentials, api: PopulationApi
) -> None:
    settings = make_axis_settings()
    with running(settings, operator) as gateway:
        gateway.wait_state("connected")
        table = _cli(settings)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].startswith(
            "1 of 16 national databases connected through the axis (target 16; 15 pending, 1 connected)"
        )
        population = next(line for line in lines if line.startswith("population "))
        assert "connected" in population and "National population database" in population
        assert any(line.startswith("land ") and "no connector configured" in line for line in lines)
        as_json = json.loads(_cli(settings, "--json").stdout)
        assert as_json["total"] == 16 and as_json["connected"] == 1
        shown = _cli(settings, "show", "population")
        assert shown.returncode == 0
        assert "state:      connected" in shown.stdout and "recent checks" in shown.stdout
        assert _cli(settings, "maintenance", "population", "--on").returncode == 0
        assert gateway.entry()["state"] == "maintenance"
        assert _cli(settings, "maintenance", "population", "--off").returncode == 0
        gateway.wait_state("connected")
        unknown = _cli(settings, "show", "atlantis")
        assert unknown.returncode == 1
        assert "no database 'atlantis' in the axis catalogue" in unknown.stderr


def test_a_broken_catalogue_stops_the_gateway_and_the_command_with_its_reason(
    make_axis_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    broken = tmp_path / "catalogue.toml"
    broken.write_text('[[databases]]\nid = "x"\n', encoding="utf-8")
    settings = make_axis_settings(axis_catalogue_path=broken)
    with pytest.raises(ValueError, match=r"the axis catalogue .* is not valid: databases.0.name_vi: Field required"):
        create_app(settings)
    failed = subprocess.run(
        [sys.executable, "-m", "gateway", "axis"],
        capture_output=True,
        text=True,
        env={**os.environ, "GATEWAY_DATABASE_URL": settings.database_url, "GATEWAY_AXIS_CATALOGUE_PATH": str(broken)},
        timeout=60,
        check=False,
    )
    assert failed.returncode == 2
    assert "name_vi: Field required" in failed.stderr


EVIDENCE_HEALTH = {
    **FAST_HEALTH,
    "interval_seconds": 0.3,
    "degraded_latency_seconds": 0.2,
    "window_seconds": 2.0,
    "min_calls": 3,
}


COOLDOWN = 4.0


@pytest.fixture
def deep_settings(
    make_axis_settings: Callable[..., Settings], sector: SimulatorServer, population_rows: list[dict[str, Any]]
) -> Settings:
    """Health checks that fetch a canary record, a short evidence window and a circuit with a short cool-down."""
    config = rest_connector_config(sector.url, timeout_seconds=1)
    config["retry"] = {"max_attempts": 1}
    config["canary"] = population_rows[1]["so_dinh_danh"]
    circuit = {"consecutive_failures": 3, "cooldown_seconds": COOLDOWN}
    return make_axis_settings(population={"config": config, "health": EVIDENCE_HEALTH, "circuit": circuit})


def _rounds(gateway: Gateway, state: str, rounds: int = 2) -> dict[str, Any]:
    """The entry once in ``state``: it must get there within ``rounds`` health rounds (plus scheduling slack)."""
    return gateway.wait_state(state, timeout=rounds * EVIDENCE_HEALTH["interval_seconds"] + 1.0)


@pytest.mark.parametrize(("mode", "cause"), [("violation", "contract-violation"), ("malformed", "check-protocol")])
def test_a_system_answering_broken_records_is_down_though_its_status_url_answers(
    deep_settings: Settings,
    operator: ClientCredentials,
    api: PopulationApi,
    population_rows: list[dict[str, Any]],
    mode: str,
    cause: str,
) -> None:
    record = f"/v1/databases/population/records/{population_rows[0]['so_dinh_danh']}"
    with running(deep_settings, operator) as gateway:
        gateway.wait_state("connected")
        # The canary is fetched by the checks (the state may be "connected" from an earlier gateway's last round
        # until this gateway's first round ends).
        deadline = time.monotonic() + 2 * EVIDENCE_HEALTH["interval_seconds"] + 1.0
        while api.count("citizen") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.count("citizen") >= 1
        api.misbehave(mode=mode)
        down = _rounds(gateway, "down")
        assert down["cause"] == cause
        assert gateway.axis()["connected"] == 0
        assert gateway.http.get(record, headers=gateway.headers).status_code == 502
        metrics = gateway.metrics_after_refresh()
        assert sample(metrics, "gateway_axis_database_state", database="population", state="down") == 1
        assert sample(metrics, "gateway_axis_database_up", database="population") == 0
        detail = gateway.http.get("/v1/axis/population", headers=gateway.headers).json()
        assert detail["checks"][0]["cause"] == cause and detail["checks"][0]["ok"] is False
        api.behave()
        gateway.wait_state("connected", timeout=3)
        states = [
            check["state"]
            for check in gateway.http.get(
                "/v1/axis/population", headers=gateway.headers, params={"history": 200}
            ).json()["checks"]
        ]
        assert "recovering" in states


def test_an_open_circuit_is_down_until_it_closes_and_the_axis_metrics_and_circuit_agree(
    deep_settings: Settings, operator: ClientCredentials, api: PopulationApi, population_rows: list[dict[str, Any]]
) -> None:
    record = f"/v1/databases/population/records/{population_rows[0]['so_dinh_danh']}"
    with running(deep_settings, operator) as gateway:
        gateway.wait_state("connected")
        # Failing until told otherwise: the checks' canary calls fail too, but only data calls feed the circuit
        # (``times=3`` would let a check take one of the three failures meant for the data calls).
        api.misbehave(mode="error", status=500)
        for row in population_rows[:3]:  # three records failing: the sector system's failure, not one record's
            failing = f"/v1/databases/population/records/{row['so_dinh_danh']}"
            assert gateway.http.get(failing, headers=gateway.headers).status_code == 502
        assert gateway.http.get(record, headers=gateway.headers).status_code == 503  # the circuit is open
        api.behave()  # the system is fine again: the checks answer, the open circuit still refuses calls
        down = _rounds(gateway, "down")
        deadline = time.monotonic() + 2 * EVIDENCE_HEALTH["interval_seconds"] + 1.0
        while down["cause"] != "circuit-open" and time.monotonic() < deadline:  # a failed check may have come first
            time.sleep(0.05)
            down = gateway.entry()
        assert down["state"] == "down" and down["cause"] == "circuit-open"
        metrics = gateway.metrics_after_refresh()
        # The checks answer again, but the circuit still refuses calls: the axis says so.
        assert gateway.entry()["state"] == "down"
        assert sample(metrics, "gateway_circuit_state", database="population") == 2
        assert sample(metrics, "gateway_axis_database_state", database="population", state="down") == 1
        # After the cool-down a check is the trial call: the circuit closes, the connection recovers.
        gateway.wait_state("connected", timeout=COOLDOWN + 3)
        assert sample(gateway.metrics(), "gateway_circuit_state", database="population") == 0
        assert gateway.http.get(record, headers=gateway.headers).status_code == 200
        checks = gateway.http.get("/v1/axis/population", headers=gateway.headers, params={"history": 200}).json()
        causes = [check["cause"] for check in reversed(checks["checks"])]
        last_open = len(causes) - 1 - causes[::-1].index("circuit-open")
        # Closed by the trial, the connection recovers (one good check) before it is connected.
        assert causes[last_open + 1 :][:2] == ["recovering", None]


def test_a_slow_spell_degrades_and_the_connection_is_back_within_the_window(
    deep_settings: Settings, operator: ClientCredentials, api: PopulationApi
) -> None:
    with running(deep_settings, operator) as gateway:
        gateway.wait_state("connected")
        api.misbehave(mode="slow", delay_ms=300)
        degraded = _rounds(gateway, "degraded")
        assert degraded["cause"] == "slow"
        assert sample(gateway.metrics_after_refresh(), "gateway_axis_database_up", database="population") == 1
        api.behave()
        started = time.monotonic()
        back = gateway.wait_state("connected", timeout=EVIDENCE_HEALTH["window_seconds"] + 2)
        assert back["cause"] is None and back["error"] is None
        assert time.monotonic() - started >= 1.0  # the slow answers are still in the window for a while


def test_the_circuit_and_calls_of_every_process_count_and_every_circuit_closes_with_the_axis(
    deep_settings: Settings, operator: ClientCredentials, api: PopulationApi, population_rows: list[dict[str, Any]]
) -> None:
    record = f"/v1/databases/population/records/{population_rows[0]['so_dinh_danh']}"
    with running(deep_settings, operator) as first, running(deep_settings, operator) as second:
        first.wait_state("connected")
        deadline = time.monotonic() + 5
        while not (first.app.state.gateway.health.leader or second.app.state.gateway.health.leader):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        other = second if first.app.state.gateway.health.leader else first
        # Only the process that does not check opens its circuit; the checks answer again at once, yet the axis
        # says down while that circuit is open.
        api.misbehave(mode="error", status=500)
        for row in population_rows[:3]:  # three records failing: the sector system's failure, not one record's
            failing = f"/v1/databases/population/records/{row['so_dinh_danh']}"
            assert other.http.get(failing, headers=other.headers).status_code == 502
        api.behave()
        assert sample(other.metrics(), "gateway_circuit_state", database="population") == 2
        down = _rounds(first, "down", rounds=3)
        assert down["cause"] == "circuit-open"
        assert second.entry()["state"] == "down"
        # The holder's good checks after the cool-down close the other process's circuit too.
        first.wait_state("connected", timeout=COOLDOWN + 4)
        assert sample(other.metrics(), "gateway_circuit_state", database="population") == 0
        assert other.http.get(record, headers=other.headers).status_code == 200
        # Records that break the contract in the other process's calls make the connection down.
        api.misbehave(mode="violation")
        for _ in range(EVIDENCE_HEALTH["min_calls"]):
            assert other.http.get(record, headers=other.headers).status_code == 502
        assert _rounds(first, "down", rounds=3)["cause"] == "contract-violation"
        api.behave()
        first.wait_state("connected", timeout=6)
