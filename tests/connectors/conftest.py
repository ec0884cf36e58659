"""Fixtures of the connector tests: a seeded population database on SQLite and the simulated REST API over it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

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
