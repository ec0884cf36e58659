"""The conformance kit applied to the population connector on PostgreSQL (the local server; skipped when it is
down, failed under CI=true)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from sector_conformance import POPULATION_ON_A_SERVER, SqlSector, postgres_test_class
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.population import PopulationConnector
from connectors.testing import fixture
from simulators.population import CITIZENS, metadata


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """A row read from SQLite (dates as text) with the Python types PostgreSQL's driver expects."""
    typed = dict(row)
    if typed["ngay_mat"] is not None:
        typed["ngay_mat"] = date.fromisoformat(typed["ngay_mat"])
    updated = datetime.fromisoformat(typed["ngay_cap_nhat"])
    typed["ngay_cap_nhat"] = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
    return typed


@pytest.fixture(scope="module")
def sql_sector(population_sector: Any) -> SqlSector:
    """The population sector of the connector tests (``population_sector``), copied into the new database."""

    async def copy(url: str) -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(CITIZENS.insert(), [_typed(r) for r in population_sector.rows])
        finally:
            await engine.dispose()

    return SqlSector("population", "cong_dan", copy)


TestPopulationOnPostgres = postgres_test_class(
    PopulationConnector,
    writable_config={"url": fixture("sql_sector_postgres_url"), "writes": {}},
    **POPULATION_ON_A_SERVER,
)


@pytest.mark.anyio
async def test_the_slow_view_is_really_slow(
    sql_sector: SqlSector, sql_sector_postgres_url: str, population_server_known_ids: list[str]
) -> None:
    """Guards the deadline case above: reading the view takes its three seconds when nobody gives up."""
    dsn = sql_sector_postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        started = time.perf_counter()
        found = await conn.fetchval(
            f"SELECT count(*) FROM {sql_sector.slow_view} WHERE so_dinh_danh = $1", population_server_known_ids[0]
        )
        assert found == 1
        assert time.perf_counter() - started >= 2.9
    finally:
        await conn.close()
