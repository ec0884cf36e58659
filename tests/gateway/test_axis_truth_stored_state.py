"""What the axis says from its stored state must be evidence, in every view: the API's (the gateway's connectors),
the command line's (no connector: the stored state alone) and the metrics'. A maintenance that ended leaves no
cause of the time before it; a connection no longer configured is not connected by a check of long ago; a check
stamped in the future by a clock that was ahead is no proof that checks go on, nor a moment to stamp the next
ones after.

The gateway's own database is fresh for each test (SQLite, or PostgreSQL when ``GATEWAY_TEST_DATABASE_URL`` is
set); the sector system, for the checks, is the simulated population REST API on 127.0.0.1, shared by the module.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support import empty_databases, run_gateway_command

from gateway.axis.catalogue import load_catalogue
from gateway.axis.health import HealthRunner
from gateway.axis.maintenance import set_maintenance
from gateway.axis.models import AxisConnection
from gateway.axis.overview import DatabaseConnection, axis_overview, ops_snapshot, stale_bounds
from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker, standalone_session, utcnow
from gateway.core.settings import Settings
from gateway.records.registry import ConnectorRegistry
from simulators.http import SimulatorServer
from simulators.population import seed_population
from simulators.population_api import PopulationApi, load_rows, rest_connector_config

HEALTH = {"interval_seconds": 60, "jitter": 0, "timeout_seconds": 2, "failures_to_down": 3, "successes_to_connect": 2}


@pytest.fixture(scope="module")
def sector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulatorServer, str]]:
    path = tmp_path_factory.mktemp("stored-sector") / "population.db"
    asyncio.run(seed_population(f"sqlite:///{path}", count=20, seed=68))
    rows = load_rows(path)
    with SimulatorServer(PopulationApi(rows)) as server:
        yield server, rows[0]["so_dinh_danh"]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The gateway's database, migrated, on the backend the suite runs on."""
    with empty_databases(tmp_path, "gwaxstored") as (url,):
        migrations.upgrade(url)
        yield url


def _settings(database_url: str, tmp_path: Path, sector: tuple[SimulatorServer, str] | None = None) -> Settings:
    connectors = {}
    if sector is not None:
        config = rest_connector_config(sector[0].url, timeout_seconds=2)
        config["retry"] = {"max_attempts": 1}
        config["canary"] = sector[1]
        connectors["population"] = {"connector": "rest", "config": config, "health": HEALTH}
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        connectors=connectors,
        log_format="console",
        log_level="WARNING",
        axis_lease_seconds=2,
    )


async def _put(url: str, row: AxisConnection) -> None:
    async with standalone_session(url) as session:
        session.add(row)
        await session.commit()


async def _stored_view(settings: Settings, database: str = "population") -> DatabaseConnection:
    """The connection as the command line sees it: no connector, the stored state."""
    async with standalone_session(settings.database_url) as session:
        overview = await axis_overview(session, load_catalogue(), None, 16, stale=stale_bounds(settings))
    return next(db for db in overview.databases if db.id == database)


def test_a_maintenance_that_ended_leaves_no_cause_nor_latency_of_the_time_before_it(
    database_url: str, tmp_path: Path
) -> None:
    """Down because of records breaking the contract, then maintenance, then its end: the connection starts afresh
    (pending until its next check), and said so with the cause and the latency of the check made before the
    maintenance: ``pending`` because of ``contract-violation``."""
    settings = _settings(database_url, tmp_path)
    checked = utcnow() - timedelta(seconds=1)
    down = AxisConnection(
        database_id="population",
        state="down",
        since=checked,
        last_check=checked,
        latency_ms=12.5,
        error="the canary record breaks the contract",
        cause="contract-violation",
        failures=1,
    )

    async def scenario() -> DatabaseConnection:
        await _put(database_url, down)
        async with standalone_session(database_url) as session:
            await set_maintenance(session, "population", True)
        async with standalone_session(database_url) as session:
            await set_maintenance(session, "population", False)
        return await _stored_view(settings)

    shown = asyncio.run(scenario())
    assert shown.state == "pending"
    assert (shown.cause, shown.latency_ms, shown.last_check) == (None, None, None), shown


def test_a_connection_no_longer_configured_is_not_connected_by_a_check_of_long_ago(
    database_url: str, tmp_path: Path
) -> None:
    """The population connector was removed from the settings and the gateway is not running: the command line,
    which reads the stored state, kept saying ``connected`` (a check of an hour ago) for ever, while the checks of
    every configured connection go ``unknown`` once overdue."""
    settings = _settings(database_url, tmp_path)
    long_ago = utcnow() - timedelta(hours=1)
    stored = AxisConnection(
        database_id="population", state="connected", since=long_ago, last_check=long_ago, last_success=long_ago
    )
    asyncio.run(_put(database_url, stored))
    shown = asyncio.run(_stored_view(settings))
    assert (shown.state, shown.cause) == ("unknown", "stale"), shown
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    listed = run_gateway_command(("axis", "--json"), env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    axis = json.loads(listed.stdout)
    population = next(db for db in axis["databases"] if db["id"] == "population")
    assert population["state"] == "unknown" and axis["connected"] == 0, population


def test_a_check_stamped_in_the_future_proves_nothing_and_the_next_checks_are_stamped_now(
    database_url: str, tmp_path: Path, sector: tuple[SimulatorServer, str]
) -> None:
    """A lease holder whose clock was a day ahead recorded the last check, then stopped. Nobody checks: the stored
    state said ``connected`` for a day and the bound (no check was overdue before that moment came). Then a
    holder with a true clock takes the checks over: it stamped each of its checks just after that future moment,
    so that ``last_check`` stayed a day ahead and a stop of the checks could not be seen for a day either."""
    settings = _settings(database_url, tmp_path, sector)
    tomorrow = utcnow() + timedelta(days=1)
    stored = AxisConnection(
        database_id="population", state="connected", since=tomorrow, last_check=tomorrow, last_success=tomorrow
    )

    async def scenario() -> tuple[DatabaseConnection, AxisConnection, datetime, datetime]:
        await _put(database_url, stored)
        unchecked = await _stored_view(settings)
        engine = create_engine(database_url)
        registry = ConnectorRegistry.from_settings(settings)
        try:
            await registry.start()
            runner = HealthRunner(
                settings=settings,
                sessionmaker=create_sessionmaker(engine),
                registry=registry,
                catalogue=load_catalogue(),
            )
            before = utcnow()
            await runner.run_due_checks()
            after = utcnow()
        finally:
            await registry.close()
            await engine.dispose()
        async with standalone_session(database_url) as session:
            row = await session.get(AxisConnection, "population")
            assert row is not None
            snapshot = await ops_snapshot(
                session,
                load_catalogue(),
                registry,
                target=16,
                signing_key_max_age=timedelta(days=90),
                stale=stale_bounds(settings),
            )
        assert snapshot.states["population"] in {"connected", "recovering"}, snapshot.states
        return unchecked, row, before, after

    unchecked, row, before, after = asyncio.run(scenario())
    assert (unchecked.state, unchecked.cause) == ("unknown", "stale"), unchecked
    assert row.last_check is not None and before <= row.last_check <= after, (row.last_check, before, after)
    # Nor is the connection in its state since a moment still to come.
    assert row.since <= after, (row.since, after)
