"""The conformance kit applied to the population connector (the generic ``sql`` adapter with the national table)
on MariaDB: the local server, a fresh database of the session's citizens (skipped when the server is down or the
driver is not installed, failed under CI=true)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sector_conformance import POPULATION_ON_A_SERVER
from sector_sql_fixtures import mariadb_database, mariadb_failing_configs, mariadb_run, mariadb_slow_view
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from support import free_port

from connectors.population import PopulationConnector
from connectors.testing import UpstreamFailure, connector_test_class, fixture
from simulators.population import CITIZENS, metadata

SLOW_VIEW = "cong_dan_cham"


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """A row read from SQLite (dates as text) with Python types; MariaDB's DATETIME keeps UTC without its zone."""
    typed = dict(row)
    if typed["ngay_mat"] is not None:
        typed["ngay_mat"] = date.fromisoformat(typed["ngay_mat"])
    updated = datetime.fromisoformat(typed["ngay_cap_nhat"])
    typed["ngay_cap_nhat"] = updated.astimezone(UTC).replace(tzinfo=None) if updated.tzinfo else updated
    return typed


async def _copy(url: str, rows: list[dict[str, Any]]) -> None:
    engine = create_async_engine(
        make_url(url).set(drivername="mariadb+aiomysql").update_query_dict({"charset": "utf8mb4"})
    )
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(CITIZENS.insert(), [_typed(r) for r in rows])
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def mariadb_url(population_sector: Any) -> Iterator[str]:
    with mariadb_database(prefix="conformance") as url:
        asyncio.run(_copy(url, population_sector.rows))
        mariadb_slow_view(url, "cong_dan", SLOW_VIEW, seconds=3)
        yield url


@pytest.fixture(scope="module")
def mariadb_failing(mariadb_url: str) -> Iterator[dict[UpstreamFailure, Any]]:
    with mariadb_failing_configs(mariadb_url, "cong_dan") as configs:
        yield configs


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    return f"mariadb://reader:pa55word@127.0.0.1:{free_port()}/population"


TestPopulationOnMariaDB = connector_test_class(
    PopulationConnector,
    config={"url": fixture("mariadb_url")},
    unreachable_config={"url": fixture("closed_port_url"), "connect_timeout_seconds": 2},
    slow_config={"url": fixture("mariadb_url"), "table": SLOW_VIEW, "timeout_seconds": 0.5},
    failing_configs=fixture("mariadb_failing"),
    writable_config={"url": fixture("mariadb_url"), "writes": {}},
    **POPULATION_ON_A_SERVER,
)


def test_the_slow_view_is_really_slow(mariadb_url: str, population_server_known_ids: list[str]) -> None:
    """Guards the deadline case above: reading the view takes its three seconds when nobody gives up."""
    started = time.perf_counter()
    rows = mariadb_run(
        f"SELECT count(*) FROM {SLOW_VIEW} WHERE so_dinh_danh = '{population_server_known_ids[0]}'",
        database=make_url(mariadb_url).database,
    )
    assert rows == [(1,)]
    assert time.perf_counter() - started >= 2.9
