"""The conformance kit applied to the population connector on PostgreSQL (the local server; skipped when it is
down, failed under CI=true)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sector_sql_fixtures import postgres_failing_configs
from sqlalchemy.ext.asyncio import create_async_engine
from support import free_port, postgres_database

from connectors.population import PopulationConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.population import Citizen, CitizenQuery
from simulators.population import CITIZENS, metadata

SLOW_VIEW = "cong_dan_cham"


async def _copy(url: str, rows: list[dict[str, Any]]) -> None:
    """The sector rows into the new database, and a view that takes three seconds to read."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(CITIZENS.insert(), [_typed(r) for r in rows])
            await conn.execute(
                sa.text(f"CREATE VIEW {SLOW_VIEW} AS SELECT c.* FROM cong_dan c CROSS JOIN (SELECT pg_sleep(3)) s")
            )
    finally:
        await engine.dispose()


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """A row read from SQLite (dates as text) with the Python types PostgreSQL's driver expects."""
    typed = dict(row)
    if typed["ngay_mat"] is not None:
        typed["ngay_mat"] = date.fromisoformat(typed["ngay_mat"])
    updated = datetime.fromisoformat(typed["ngay_cap_nhat"])
    typed["ngay_cap_nhat"] = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
    return typed


@pytest.fixture(scope="module")
def postgres_url(population_sector: Any) -> Iterator[str]:
    with postgres_database(prefix="conformance") as url:
        asyncio.run(_copy(url, population_sector.rows))
        yield url


@pytest.fixture(scope="module")
def known_ids(population_sector: Any) -> list[str]:
    rows = population_sector.rows
    return [rows[1]["so_dinh_danh"], rows[-1]["so_dinh_danh"], population_sector.planted_ids[-1]]


@pytest.fixture(scope="module")
def searches(population_sector: Any) -> list[SearchCase]:
    with_card = next(r for r in reversed(population_sector.rows) if r["so_cmnd"])
    name, year = population_sector.planted_name, population_sector.planted_year
    return [
        SearchCase(CitizenQuery(full_name=name.upper(), date_of_birth=str(year)), population_sector.planted_ids),
        SearchCase(CitizenQuery(old_id_number=with_card["so_cmnd"]), [with_card["so_dinh_danh"]]),
    ]


@pytest.fixture(scope="module")
def postgres_failing(postgres_url: str) -> Iterator[dict[UpstreamFailure, Any]]:
    """The database failing as the conformance kit asks (a view whose reading fails, accounts refused)."""
    with postgres_failing_configs(postgres_url, "cong_dan") as configs:
        yield configs


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    return f"postgresql://reader:pa55word@127.0.0.1:{free_port()}/population"


TestPopulationOnPostgres = connector_test_class(
    PopulationConnector,
    config={"url": fixture("postgres_url")},
    known_ids=fixture("known_ids"),
    missing_id="068099000000",
    unreachable_config={"url": fixture("closed_port_url"), "connect_timeout_seconds": 2},
    slow_config={"url": fixture("postgres_url"), "table": SLOW_VIEW, "timeout_seconds": 0.5},
    failing_configs=fixture("postgres_failing"),
    searches=fixture("searches"),
    entry_point="population",
    writable_config={"url": fixture("postgres_url"), "writes": {}},
    new_record={**Citizen.model_config["json_schema_extra"]["examples"][0], "household_id": "HK068000123"},  # type: ignore[index]
    update={"marital_status": "married", "date_of_death": "2026-01-02"},
)


@pytest.mark.anyio
async def test_the_slow_view_is_really_slow(postgres_url: str, known_ids: list[str]) -> None:
    """Guards the deadline case above: reading the view takes its three seconds when nobody gives up."""
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        started = time.perf_counter()
        found = await conn.fetchval(f"SELECT count(*) FROM {SLOW_VIEW} WHERE so_dinh_danh = $1", known_ids[0])
        assert found == 1
        assert time.perf_counter() - started >= 2.9
    finally:
        await conn.close()
