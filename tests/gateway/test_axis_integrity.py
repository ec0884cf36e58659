"""What the axis says must be true: the health checks of two gateway processes whose clocks differ by seconds,
against a real sector system on 127.0.0.1, and the same story in the live view and the monthly report.

The gateway's own database is fresh for each test (SQLite, or PostgreSQL when ``GATEWAY_TEST_DATABASE_URL`` is
set); the sector system is the simulated population REST API.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import postgres_database

from connectors.errors import UpstreamError
from connectors.sql.urls import to_async_url
from gateway.axis import health
from gateway.axis.catalogue import load_catalogue
from gateway.axis.health import HealthRunner, _answered_at
from gateway.axis.models import AxisConnection
from gateway.axis.overview import axis_overview, database_detail, ops_snapshot, stale_bounds
from gateway.axis.report import build_month_report
from gateway.cli.axis import detail_text
from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker, utcnow
from gateway.core.settings import Settings
from gateway.records.context import system_context
from gateway.records.registry import ConnectorRegistry
from gateway.records.service import read_record
from simulators.http import SimulatorServer
from simulators.population import seed_population
from simulators.population_api import PopulationApi, load_rows, rest_connector_config

HEALTH = {"interval_seconds": 60, "jitter": 0, "timeout_seconds": 2, "failures_to_down": 3, "successes_to_connect": 2}


@pytest.fixture(scope="module")
def sector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulatorServer, str]]:
    path = tmp_path_factory.mktemp("integrity-sector") / "population.db"
    asyncio.run(seed_population(f"sqlite:///{path}", count=50, seed=68))
    rows = load_rows(path)
    with SimulatorServer(PopulationApi(rows)) as server:
        yield server, rows[1]["so_dinh_danh"]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwaxint") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = str(to_async_url(f"sqlite:///{tmp_path / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url


@pytest.fixture
def api(sector: tuple[SimulatorServer, str]) -> Iterator[PopulationApi]:
    population = sector[0].api
    assert isinstance(population, PopulationApi)
    population.reset()
    yield population
    population.reset()


def _settings(database_url: str, sector: tuple[SimulatorServer, str], tmp_path: Path) -> Settings:
    server, canary = sector
    config = rest_connector_config(server.url, timeout_seconds=2)
    config["retry"] = {"max_attempts": 1}
    config["canary"] = canary
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        connectors={"population": {"connector": "rest", "config": config, "health": HEALTH}},
        log_format="console",
        log_level="WARNING",
    )


@contextmanager
def _clock(offset: timedelta) -> Iterator[None]:
    """The health checker's clock ``offset`` from the true one (a replica whose clock is off)."""
    original: Callable[[], datetime] = health.utcnow
    health.utcnow = lambda: original() + offset  # type: ignore[assignment]
    try:
        yield
    finally:
        health.utcnow = original  # type: ignore[assignment]


async def _round(runner: HealthRunner) -> None:
    runner._due.clear()
    await runner.run_due_checks()


def test_a_replica_whose_clock_is_behind_never_writes_the_history_out_of_order(
    database_url: str, sector: tuple[SimulatorServer, str], api: PopulationApi, tmp_path: Path
) -> None:
    """Replica A (clock 20 s ahead) sees the sector system break the contract: down. It stops; replica B (true
    clock) takes the checks over at once and sees it answer again: recovering, then connected. The live view says
    connected; the month's report must say so too, and the history must keep the order in which things happened."""
    settings = _settings(database_url, sector, tmp_path)
    catalogue = load_catalogue()

    async def scenario() -> tuple[Any, list[Any]]:
        engine = create_engine(database_url)
        sessionmaker = create_sessionmaker(engine)
        registries = [ConnectorRegistry.from_settings(settings) for _ in range(2)]
        try:
            for registry in registries:
                await registry.start()
            first, second = (
                HealthRunner(settings=settings, sessionmaker=sessionmaker, registry=registry, catalogue=catalogue)
                for registry in registries
            )
            api.misbehave(mode="violation")
            with _clock(timedelta(seconds=20)):
                await _round(first)
            api.behave()
            await _round(second)
            await _round(second)
            now = utcnow()
            async with sessionmaker() as session:
                overview = await axis_overview(session, catalogue, registries[1], 16, stale=stale_bounds(settings))
                # The report once the clock that was ahead is passed (nothing has happened since: still connected),
                # at the month's end had it ended then.
                reports = [
                    await build_month_report(
                        session,
                        catalogue,
                        month=f"{moment.astimezone(settings.report_zone):%Y-%m}",
                        zone=settings.report_zone,
                        target=16,
                        retention_days=settings.axis_history_retention_days,
                        now=moment,
                    )
                    for moment in (now + timedelta(seconds=30), now + timedelta(seconds=90))
                ]
            return overview, reports
        finally:
            for registry in registries:
                await registry.close()
            await engine.dispose()

    overview, reports = asyncio.run(scenario())
    live = next(db for db in overview.databases if db.id == "population")
    assert live.state == "connected"
    for report in reports:
        month = next(db for db in report.databases if db.id == "population")
        assert month.state_at_end == "connected"
        assert report.connected_at_end == overview.connected == 1
        # Down (then recovering: one incident), then connected: in the order in which it happened.
        assert [incident.state for incident in month.incidents] == ["down"]
        assert not month.incidents[0].ongoing or month.incidents[0].end < report.reported_until


def test_one_sector_system_configured_under_two_catalogued_ids_is_counted_once(
    database_url: str, sector: tuple[SimulatorServer, str], api: PopulationApi, tmp_path: Path
) -> None:
    """The population system's configuration copied under ``civil_status`` (another national database of the
    catalogue): both answer their checks, but only one national database is connected. The other is down, with
    the reason, in the live view, the command's view (no connectors: the stored state), the metrics and the
    report."""
    base = _settings(database_url, sector, tmp_path)
    population = base.connectors["population"]
    settings = base.model_copy(
        update={"connectors": {"population": population, "civil_status": population.model_copy()}}
    )
    catalogue = load_catalogue()

    async def scenario() -> tuple[Any, Any, Any, Any]:
        engine = create_engine(database_url)
        sessionmaker = create_sessionmaker(engine)
        registry = ConnectorRegistry.from_settings(settings)
        try:
            await registry.start()
            runner = HealthRunner(settings=settings, sessionmaker=sessionmaker, registry=registry, catalogue=catalogue)
            await runner.store_static_states()
            await _round(runner)
            checked = runner.checked()
            now = utcnow()
            async with sessionmaker() as session:
                stale = stale_bounds(settings)
                live = await axis_overview(session, catalogue, registry, 16, stale=stale)
                stored = await axis_overview(session, catalogue, None, 16, stale=stale)
                report = await build_month_report(
                    session,
                    catalogue,
                    month=f"{now.astimezone(settings.report_zone):%Y-%m}",
                    zone=settings.report_zone,
                    target=16,
                    retention_days=settings.axis_history_retention_days,
                    now=now + timedelta(seconds=1),
                )
            return checked, live, stored, report
        finally:
            await registry.close()
            await engine.dispose()

    checked, live, stored, report = asyncio.run(scenario())
    assert checked == ["population"]
    for overview in (live, stored):
        states = {db.id: (db.state, db.cause) for db in overview.databases if db.id in {"population", "civil_status"}}
        assert states == {"population": ("connected", None), "civil_status": ("down", "contract-mismatch")}
        assert overview.connected == 1
    wrong = next(db for db in live.databases if db.id == "civil_status")
    assert wrong.error is not None and "population.citizen" in wrong.error
    assert report.connected_at_end == 1


def test_the_detail_shows_the_real_calls_beside_the_checks(
    database_url: str, sector: tuple[SimulatorServer, str], api: PopulationApi, tmp_path: Path
) -> None:
    """Clients' reads fail (503) while the health check's canary is answered: the detail of the connection says
    how the real calls of the window went, not only when the last check succeeded."""
    settings = _settings(database_url, sector, tmp_path)
    catalogue = load_catalogue()
    canary = sector[1]

    async def scenario() -> Any:
        engine = create_engine(database_url)
        sessionmaker = create_sessionmaker(engine)
        registry = ConnectorRegistry.from_settings(settings)
        try:
            await registry.start()
            runner = HealthRunner(settings=settings, sessionmaker=sessionmaker, registry=registry, catalogue=catalogue)
            database = registry.databases["population"]
            before = utcnow()
            await read_record(database, canary, system_context(settings))
            answered = utcnow()
            api.misbehave(mode="error", status=503, times=3)
            for _ in range(3):
                with pytest.raises(UpstreamError):
                    await read_record(database, canary, system_context(settings))
            await _round(runner)
            await runner.share_evidence()
            async with sessionmaker() as session:
                entry = catalogue.get("population")
                assert entry is not None
                detail = await database_detail(session, entry, registry, stale=stale_bounds(settings))
                # Another process's older answer never moves it back; a later one moves it forward.
                assert detail.last_answered is not None
                await session.exec(_answered_at("population", detail.last_answered.timestamp() - 60))
                await session.commit()
                kept = (await session.get(AxisConnection, "population", populate_existing=True)).last_answered_at
                snapshot = await ops_snapshot(
                    session, catalogue, registry, target=16, signing_key_max_age=timedelta(days=90)
                )
            return detail, kept, snapshot, (before, answered)
        finally:
            await registry.close()
            await engine.dispose()

    detail, kept, snapshot, (before, answered) = asyncio.run(scenario())
    # The good read, not the failed ones after it (nor the checks): when the clients' calls last got an answer.
    assert detail.last_answered is not None
    assert before <= detail.last_answered <= answered
    assert kept == detail.last_answered
    assert snapshot.last_answered["population"] == detail.last_answered.timestamp()
    assert "last call answered well: " in detail_text(detail)
    assert detail.last_success is not None
    calls = detail.recent_calls
    assert calls is not None
    assert (calls.calls, calls.answered, calls.failed, calls.violations, calls.processes) == (4, 1, 3, 0, 1)
    assert detail_text(detail).count("real calls: 1 of 4 answered in the evidence window (3 failed") == 1
    assert [(op.operation, op.calls, op.failed) for op in calls.operations] == [("read", 4, 3)]
    assert "  by operation: read 4 (3 failed)" in detail_text(detail)
