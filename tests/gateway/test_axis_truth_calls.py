"""The axis against the real calls of clients: a sector system that answers its health checks (the canary record
included) while the clients' calls fail is not connected, a call the sector system refused was not answered, and a
clock that was ahead once does not pin "last answered" in the future.

The sector system is the simulated population REST API on 127.0.0.1, shared by the module; the gateway's own
database is fresh for each test (SQLite, or PostgreSQL when ``GATEWAY_TEST_DATABASE_URL`` is set). The checks are
run a round at a time by the health runner, the calls go through the gateway's call path (circuit, evidence).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from support import empty_databases

from connectors.errors import UpstreamError
from gateway.axis.catalogue import Catalogue, load_catalogue
from gateway.axis.health import HealthRunner
from gateway.axis.models import AxisConnection
from gateway.axis.overview import AxisOverview, DatabaseDetail, axis_overview, database_detail, stale_bounds
from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker, utcnow
from gateway.core.settings import Settings
from gateway.records.context import system_context
from gateway.records.registry import ConnectorRegistry, Database
from gateway.records.service import read_record
from simulators.http import SimulatorServer
from simulators.population import seed_population
from simulators.population_api import PopulationApi, load_rows, rest_connector_config

HEALTH = {
    "interval_seconds": 60,
    "jitter": 0,
    "timeout_seconds": 2,
    "failures_to_down": 3,
    "successes_to_connect": 2,
    "min_calls": 3,
    "window_seconds": 300,
}
#: The default circuit, with a cool-down short enough for a test.
COOLDOWN = 0.2


@pytest.fixture(scope="module")
def sector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulatorServer, list[str]]]:
    path = tmp_path_factory.mktemp("truth-sector") / "population.db"
    asyncio.run(seed_population(f"sqlite:///{path}", count=40, seed=68))
    rows = load_rows(path)
    with SimulatorServer(PopulationApi(rows)) as server:
        yield server, [row["so_dinh_danh"] for row in rows]


@pytest.fixture
def api(sector: tuple[SimulatorServer, list[str]]) -> Iterator[PopulationApi]:
    population = sector[0].api
    assert isinstance(population, PopulationApi)
    population.reset()
    yield population
    population.reset()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The gateway's database, migrated, on the backend the suite runs on."""
    with empty_databases(tmp_path, "gwaxtruth") as (url,):
        migrations.upgrade(url)
        yield url


@pytest.fixture
def settings(database_url: str, sector: tuple[SimulatorServer, list[str]], tmp_path: Path) -> Settings:
    server, keys = sector
    config = rest_connector_config(server.url, timeout_seconds=2)
    config["retry"] = {"max_attempts": 1}
    config["canary"] = keys[0]
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        connectors={
            "population": {
                "connector": "rest",
                "config": config,
                "health": HEALTH,
                "circuit": {"cooldown_seconds": COOLDOWN},
            }
        },
        log_format="console",
        log_level="WARNING",
    )


@dataclass
class Axis:
    """One gateway process: its connectors, its health runner, the gateway's database."""

    settings: Settings
    catalogue: Catalogue
    registry: ConnectorRegistry
    runner: HealthRunner
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def population(self) -> Database:
        return self.registry.databases["population"]

    async def read(self, key: str) -> bool:
        """A client's read of ``key``: whether the sector system answered it."""
        try:
            await read_record(self.population, key, system_context(self.settings))
        except UpstreamError:
            return False
        return True

    async def round(self) -> None:
        """Share this process's evidence, then one round of checks."""
        await self.runner.share_evidence()
        self.runner._share_due = 0.0
        self.runner._due.clear()
        await self.runner.run_due_checks()

    async def overview(self) -> AxisOverview:
        async with self.sessionmaker() as session:
            return await axis_overview(session, self.catalogue, self.registry, 16, stale=stale_bounds(self.settings))

    async def detail(self) -> DatabaseDetail:
        entry = self.catalogue.get("population")
        assert entry is not None
        async with self.sessionmaker() as session:
            return await database_detail(session, entry, self.registry, stale=stale_bounds(self.settings))


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[Axis]:
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    registry = ConnectorRegistry.from_settings(settings)
    catalogue = load_catalogue()
    try:
        await registry.start()
        runner = HealthRunner(settings=settings, sessionmaker=sessionmaker, registry=registry, catalogue=catalogue)
        runner.leader = True
        yield Axis(settings, catalogue, registry, runner, sessionmaker)
    finally:
        await registry.close()
        await engine.dispose()


def test_a_system_answering_only_its_canary_while_every_call_fails_is_not_counted_connected(
    settings: Settings, api: PopulationApi, sector: tuple[SimulatorServer, list[str]]
) -> None:
    """The sector system answers the checks (its status and the canary record) but fails every client's read. The
    circuit opens, the cool-down passes, a good check closes it again: the clients' calls of the window still all
    failed, none answered, and until one is the axis must not count the database connected (it said
    ``degraded``, cause ``error-ratio``: "connected", while no client had an answer)."""
    keys = sector[1]

    async def scenario() -> list[tuple[str, str | None, int]]:
        seen = []
        async with gateway(settings) as axis:
            await axis.round()
            overview = await axis.overview()
            seen.append((overview.databases[0].state.value, overview.databases[0].cause, overview.connected))
            api.misbehave(mode="error", status=500)
            for key in keys[1:6]:  # five failures in a row: the default circuit opens
                assert not await axis.read(key)
            api.behave()  # only the checks come now: the status and the canary are answered
            await asyncio.sleep(COOLDOWN + 0.05)
            for _ in range(3):
                await axis.round()
                overview = await axis.overview()
                population = next(db for db in overview.databases if db.id == "population")
                seen.append((population.state.value, population.cause, overview.connected))
            # A client's call is answered again: the connection is back.
            assert await axis.read(keys[7])
            await axis.round()
            overview = await axis.overview()
            population = next(db for db in overview.databases if db.id == "population")
            seen.append((population.state.value, population.cause, overview.connected))
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == ("connected", None, 1)
    for state, _cause, connected in seen[1:4]:
        assert state not in {"connected", "degraded"}, seen
        assert connected == 0, seen
    assert seen[3][:2] == ("down", "calls-failing"), seen
    assert seen[4][0] in {"connected", "degraded"} and seen[4][2] == 1, seen


def test_calls_the_sector_system_refused_are_failed_calls_not_answered_ones(
    settings: Settings, api: PopulationApi, sector: tuple[SimulatorServer, list[str]]
) -> None:
    """The sector system refuses the clients' reads (HTTP 403: the gateway's access to its data was withdrawn) while
    the checks were answered before: a refused call got no answer. The detail counted every refused call as
    ``answered`` and moved ``last_answered`` to the moment of the refusal."""
    keys = sector[1]

    async def scenario() -> tuple[DatabaseDetail, Any, Any]:
        async with gateway(settings) as axis:
            await axis.round()
            assert await axis.read(keys[1])
            await axis.round()
            answered = (await axis.detail()).last_answered
            assert answered is not None
            api.misbehave(mode="error", status=403)
            for key in keys[2:6]:
                assert not await axis.read(key)
            await axis.runner.share_evidence()
            return await axis.detail(), answered, axis.population.evidence.summary(300)

    detail, answered, window = asyncio.run(scenario())
    calls = detail.recent_calls
    assert calls is not None
    assert (calls.calls, calls.failed, calls.answered) == (5, 4, 1), calls
    assert window.failures == 4
    assert detail.last_answered == answered  # the good read, not a refusal


def test_a_last_answered_written_by_a_clock_that_was_ahead_does_not_stick_in_the_future(
    settings: Settings, api: PopulationApi, sector: tuple[SimulatorServer, list[str]]
) -> None:
    """A process whose clock was a day ahead (a host booted before its clock was set) wrote ``last_answered``; it
    never moves back, so the real answers of every process after it were ignored: the axis said the last call was
    answered tomorrow, for a day (``gateway_axis_last_answered_timestamp_seconds`` in the future, ``time() - it``
    negative), whatever the calls did meanwhile."""
    keys = sector[1]

    async def scenario() -> tuple[Any, Any, Any]:
        async with gateway(settings) as axis:
            async with axis.sessionmaker() as session:
                tomorrow = utcnow() + timedelta(days=1)
                session.add(
                    AxisConnection(
                        database_id="population", state="connected", since=utcnow(), last_answered_at=tomorrow
                    )
                )
                await session.commit()
            before = utcnow()
            assert await axis.read(keys[1])
            after = utcnow()
            await axis.runner.share_evidence()
            return (await axis.detail()).last_answered, before, after

    last, before, after = asyncio.run(scenario())
    assert last is not None
    assert before - timedelta(seconds=1) <= last <= after + timedelta(seconds=1), (last, before, after)
