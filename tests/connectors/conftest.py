"""Fixtures of the connector tests: a seeded population database on SQLite and the simulated REST API over it; and
those of the sector connectors' conformance modules (see ``sector_conformance.py``): a SQL sector's databases on
SQLite and PostgreSQL, made from the module's ``sql_sector``, and a simulated system's servers, made from the
module's ``simulated_api``."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sector_conformance import SLOW_TIMEOUT_SECONDS, SqlSector
from sector_sql_fixtures import create_slow_view, locked_sqlite_copy, postgres_failing_configs, sqlite_failing_configs
from sqlalchemy.ext.asyncio import create_async_engine
from support import free_port, postgres_database
from upstream_failures import failing

from connectors.testing import SearchCase, UpstreamFailure
from contracts.population import CitizenQuery
from simulators.http import SimulatedSystem, SimulatorServer
from simulators.population import CITIZENS, seed_population
from simulators.population_api import ApiServer, Misbehaviour, PopulationApi, load_rows

SECTOR_SIZE = 1500
PLANTED_NAME = "Trần Thị Mẫu"
PLANTED_COUNT = 25


@dataclass(frozen=True)
class PopulationSector:
    """A seeded SQLite population database, with 25 women of one birth year renamed to one name."""

    path: Path
    rows: list[dict[str, Any]]
    planted_year: int
    planted_ids: tuple[str, ...]
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    planted_name: str = PLANTED_NAME

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


async def _seed(path: Path) -> tuple[int, tuple[str, ...]]:
    url = f"sqlite:///{path}"
    await seed_population(url, count=SECTOR_SIZE, seed=68)
    rows = load_rows(path)
    years = Counter(r["ngay_sinh"][:4] for r in rows if r["gioi_tinh"] == 2)
    year = max(sorted(years), key=lambda y: years[y])
    planted = tuple(sorted(r["so_dinh_danh"] for r in rows if r["gioi_tinh"] == 2 and r["ngay_sinh"][:4] == year))
    planted = planted[:PLANTED_COUNT]
    assert len(planted) == PLANTED_COUNT
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(CITIZENS).where(CITIZENS.c.so_dinh_danh.in_(planted)).values(ho_ten=PLANTED_NAME)
            )
    finally:
        await engine.dispose()
    return int(year), planted


@pytest.fixture(scope="session")
def population_sector(tmp_path_factory: pytest.TempPathFactory) -> PopulationSector:
    path = tmp_path_factory.mktemp("population-sector") / "population.db"
    year, planted = asyncio.run(_seed(path))
    rows = load_rows(path)
    return PopulationSector(path, rows, year, planted, {r["so_dinh_danh"]: r for r in rows})


@pytest.fixture(scope="session")
def api_server(population_sector: PopulationSector) -> Iterator[ApiServer]:
    """The simulated population API over the sector database, on 127.0.0.1 (shared: tests reset it)."""
    with ApiServer(PopulationApi(population_sector.rows)) as server:
        yield server


@pytest.fixture
def api(api_server: ApiServer) -> Iterator[PopulationApi]:
    """The shared API, back to normal behaviour with zeroed counters before and after the test."""
    api_server.api.reset()
    yield api_server.api
    api_server.api.reset()


@pytest.fixture(scope="session")
def hanging_api_url(population_sector: PopulationSector) -> Iterator[str]:
    """Another instance of the API that never answers a data request."""
    api = PopulationApi(population_sector.rows, misbehaviour=Misbehaviour(mode="hang"))
    with ApiServer(api) as server:
        yield server.url


@pytest.fixture(scope="module")
def population_server_known_ids(population_sector: PopulationSector) -> list[str]:
    """The population connector's known keys on a database server holding the sector (PostgreSQL, MariaDB)."""
    rows = population_sector.rows
    return [rows[1]["so_dinh_danh"], rows[-1]["so_dinh_danh"], population_sector.planted_ids[-1]]


@pytest.fixture(scope="module")
def population_server_searches(population_sector: PopulationSector) -> list[SearchCase]:
    """The population connector's searches on a database server holding the sector: the planted namesakes (their
    name in capitals), and a citizen by the old identity card number."""
    with_card = next(r for r in reversed(population_sector.rows) if r["so_cmnd"])
    name, year = population_sector.planted_name, population_sector.planted_year
    return [
        SearchCase(CitizenQuery(full_name=name.upper(), date_of_birth=str(year)), population_sector.planted_ids),
        SearchCase(CitizenQuery(old_id_number=with_card["so_cmnd"]), [with_card["so_dinh_danh"]]),
    ]


# --- a SQL sector's databases (the module gives ``sql_sector``) ------------------------------------------------------


@pytest.fixture(scope="module")
def sql_sector_file(sql_sector: SqlSector, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sector's SQLite database, seeded."""
    assert sql_sector.seed is not None, f"the SQL sector {sql_sector.name!r} has no seed: give sql_sector_file"
    path = tmp_path_factory.mktemp(sql_sector.name) / f"{sql_sector.name}.db"
    asyncio.run(sql_sector.seed(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="module")
def sql_sector_sqlite_url(sql_sector_file: Path) -> str:
    return f"sqlite:///{sql_sector_file}"


@pytest.fixture(scope="module")
def sql_sector_locked_url(
    sql_sector: SqlSector, sql_sector_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A copy of the sector's SQLite database that another connection holds an exclusive lock on, for the whole
    module."""
    with locked_sqlite_copy(sql_sector_file, tmp_path_factory.mktemp("locked") / f"{sql_sector.name}.db") as url:
        yield url


@pytest.fixture(scope="module")
def sql_sector_sqlite_failing(
    sql_sector: SqlSector, sql_sector_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[UpstreamFailure, Any]:
    """The SQLite database failing as the conformance kit asks (a view whose reading fails, a file that is not
    one)."""
    return sqlite_failing_configs(sql_sector_file, tmp_path_factory.mktemp("failing"), sql_sector.table)


@pytest.fixture(scope="module")
def sql_sector_missing_url(sql_sector: SqlSector, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database that does not exist, in a folder that does not either."""
    return f"sqlite:///{tmp_path_factory.mktemp('missing') / 'absent' / f'{sql_sector.name}.db'}"


@pytest.fixture(scope="module")
def sql_sector_postgres_url(sql_sector: SqlSector) -> Iterator[str]:
    """A scratch PostgreSQL database of the sector, seeded, with the view of its table that takes three seconds to
    read (:attr:`SqlSector.slow_view`)."""
    assert sql_sector.seed is not None, f"the SQL sector {sql_sector.name!r} has no seed: give sql_sector_postgres_url"
    with postgres_database(prefix=sql_sector.name) as url:
        asyncio.run(sql_sector.seed(url))
        create_slow_view(url, sql_sector.table, sql_sector.slow_view)
        yield url


@pytest.fixture(scope="module")
def sql_sector_postgres_slow_config(sql_sector: SqlSector, sql_sector_postgres_url: str) -> dict[str, Any]:
    """The sector's PostgreSQL database read through its slow view, with a short timeout."""
    return {"url": sql_sector_postgres_url, "table": sql_sector.slow_view, "timeout_seconds": SLOW_TIMEOUT_SECONDS}


@pytest.fixture(scope="module")
def sql_sector_postgres_failing(
    sql_sector: SqlSector, sql_sector_postgres_url: str
) -> Iterator[dict[UpstreamFailure, Any]]:
    """The PostgreSQL database failing as the conformance kit asks (a view whose reading fails, accounts
    refused)."""
    with postgres_failing_configs(sql_sector_postgres_url, sql_sector.table) as configs:
        yield configs


@pytest.fixture(scope="module")
def sql_sector_closed_postgres_url(sql_sector: SqlSector) -> str:
    """A PostgreSQL URL whose port nothing listens on."""
    return f"postgresql://reader:pa55word@127.0.0.1:{free_port()}/{sql_sector.name}"


# --- a simulated system's servers (the module gives ``simulated_api``) -----------------------------------------------


@pytest.fixture(scope="module")
def simulated_server(simulated_api: Callable[..., SimulatedSystem]) -> Iterator[SimulatorServer]:
    """The module's simulated system, served on 127.0.0.1."""
    with SimulatorServer(simulated_api()) as server:
        yield server


@pytest.fixture(scope="module")
def simulated_url(simulated_server: SimulatorServer) -> str:
    return simulated_server.url


@pytest.fixture(scope="module")
def simulated_hanging_url(simulated_api: Callable[..., SimulatedSystem]) -> Iterator[str]:
    """Another instance of the module's simulated system, which never answers a data request."""
    with SimulatorServer(simulated_api(misbehaviour=Misbehaviour(mode="hang"))) as server:
        yield server.url


@pytest.fixture(scope="module")
def simulated_received_headers(simulated_server: SimulatorServer) -> Callable[[], Sequence[Mapping[str, str]]]:
    """The headers of every request the system received (for the kit's request-context check)."""
    return simulated_server.api.middleware.received.headers


@pytest.fixture(scope="module")
def simulated_fail_upstream(simulated_server: SimulatorServer) -> Callable[[UpstreamFailure | None], None]:
    """Makes the sector system fail as the conformance kit asks (its misbehaviour switch)."""
    return failing(simulated_server.api.switch)


@pytest.fixture(scope="module")
def closed_http_url() -> str:
    """An HTTP URL whose port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"
