"""``Connector.sample``: the SQL connector reads random raw records (mapped, not validated) from SQLite and
PostgreSQL; a connector without it refuses with ``OperationNotSupported``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import postgres_database

from connectors.base import OperationNotSupported
from connectors.driving_licences import DrivingLicencesConnector
from connectors.population import PopulationConnector
from contracts.dates import vietnam_today
from simulators.defects import PopulationDefects, plant_population_defects
from simulators.population import seed_population, synthetic_citizens

COUNT = 240
DEFECTS = PopulationDefects(unnormalised_names=0.05, birth_year_mismatch=0.05)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sector(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A population database with defects, on each backend."""
    today = vietnam_today()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('quality-sample') / 'population.db'}"
        asyncio.run(seed_population(url, count=COUNT, seed=5, today=today, defects=DEFECTS))
        yield url
    else:
        with postgres_database(prefix="gwqsample") as url:
            asyncio.run(seed_population(url, count=COUNT, seed=5, today=today, defects=DEFECTS))
            yield url


@pytest.mark.anyio
async def test_a_sample_is_random_raw_and_bounded(sector: str) -> None:
    clean = synthetic_citizens(COUNT, 5, vietnam_today())
    rows, planted = plant_population_defects(clean, DEFECTS, seed=5)
    names = {row["so_dinh_danh"]: row["ho_ten"] for row in rows}
    born = {row["so_dinh_danh"]: int(row["ngay_sinh"][:4]) for row in clean}
    async with PopulationConnector.from_config({"url": sector}) as connector:
        first = await connector.sample(50)
        second = await connector.sample(50)
        everything = await connector.sample(COUNT * 10)
        assert await connector.sample(0) == []
    assert len(first) == len(second) == 50
    assert [r["personal_id"] for r in first] != [r["personal_id"] for r in second]
    assert len({r["personal_id"] for r in everything}) == len(everything) == COUNT
    by_id = {record["personal_id"]: record for record in everything}
    # Raw: mapped to contract field names and values, but names keep their extra spaces and capitals, and the
    # wrong years of birth are there (validation would refuse those records).
    assert by_id.keys() == names.keys()
    for personal_id in planted.unnormalised_names:
        assert by_id[personal_id]["full_name"] == names[personal_id]
    for personal_id in planted.birth_year_mismatch:
        assert int(by_id[personal_id]["date_of_birth"][:4]) == born[personal_id] - 1
    record = next(iter(by_id.values()))
    assert record["gender"] in ("male", "female")
    assert set(record["permanent_address"]) >= {"province_code", "ward_code", "line"}


@pytest.mark.anyio
async def test_connectors_without_a_sample_refuse(tmp_path: Path) -> None:
    # A REST connector whose configuration declares no listing to sample.
    connector = DrivingLicencesConnector.from_config(
        {
            "base_url": "http://127.0.0.1:9",
            "auth": {"type": "api_key", "header": "X-API-Key", "key": "k"},
            "sample": None,
        }
    )
    with pytest.raises(OperationNotSupported, match="cannot sample"):
        await connector.sample(10)
