"""Data-quality counts in the gateway's database (SQLite and PostgreSQL): submitted records add up, also from
concurrent sessions, and keep the ten worst records per rule; a scan replaces the previous one; a running gateway
exports the counts as ``gateway_data_quality_*`` metrics."""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import LiveServer, postgres_database

from connectors.population import PopulationConnector
from connectors.sql.urls import to_async_url
from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.quality._storage import read_scores
from gateway.quality.rules import Dimension
from gateway.quality.service import NothingScanned, quality_snapshot, record_submitted, scan_database
from simulators.population import seed_population

EXAMPLE: dict[str, Any] = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def quality_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway database of this module's own, migrated, on each backend."""
    if request.param == "sqlite":
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('quality-db') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url
    else:
        with postgres_database(prefix="gwquality") as url:
            migrations.upgrade(url)
            yield url


def citizens(count: int, *, start: int = 0, stale_days: int = 0, **changes: Any) -> list[dict[str, Any]]:
    """Valid citizens (JSON form), each its own person, last updated ``stale_days`` ago (plus its index)."""
    now = datetime.now(UTC)
    records = []
    for i in range(start, start + count):
        record = copy.deepcopy(EXAMPLE)
        record.update(
            personal_id=f"068185{i:06d}",
            old_id_number=None,
            date_of_birth=f"1985-{1 + i % 12:02d}-{1 + i % 28:02d}",
            full_name=f"Nguyễn Thị {chr(ord('A') + i % 26)}{'a' * (i // 26 + 1)}",
            last_updated=(now - timedelta(days=stale_days + (i if stale_days else 0))).isoformat(),
        )
        record.update(changes)
        records.append(record)
    return records


def settings_for(url: str, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp,
        "database_url": url,
        "quality_freshness_days": {"population": 365},
        "quality_default_freshness_days": 365,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.mark.anyio
async def test_submitted_records_add_up_and_keep_the_ten_worst(quality_db: str, tmp_path: Path) -> None:
    settings = settings_for(quality_db, tmp_path)
    database = "population_submitted"
    async with standalone_session(quality_db) as session:
        await record_submitted(session, database, Citizen, citizens(20), settings=settings)
        await record_submitted(session, database, Citizen, [], settings=settings)  # nothing to count
        await session.commit()
    async with standalone_session(quality_db) as session:
        # Stale records, one day older each: the heaviest (oldest) ten are kept.
        await record_submitted(session, database, Citizen, citizens(15, start=100, stale_days=500), settings=settings)
        # Python values (dates, datetimes) as well as JSON; names in capitals.
        typed = [Citizen.model_validate(r).model_dump() for r in citizens(5, start=200, full_name="NGUYỄN THỊ MAI")]
        await record_submitted(session, database, Citizen, typed, settings=settings)
        await session.commit()
    async with standalone_session(quality_db) as session:
        stored = (await read_scores(session, database))["submitted"]
    assert stored.contract == "population.citizen@1"
    assert stored.records == 40
    assert stored.sample_size is None
    live = stored.dimensions[Dimension.LIVE]
    assert (live.checked, live.failed) == (40, 15)
    clean = stored.dimensions[Dimension.CLEAN]
    assert (clean.checked, clean.failed) == (40, 5)
    rules = {rule.rule_id: rule for rule in stored.rules}
    fresh = rules["population.citizen.fresh"]
    assert (fresh.checked, fresh.failed) == (40, 15)
    assert [w.weight for w in fresh.worst] == [float(500 + i) for i in range(114, 104, -1)]
    assert fresh.worst[0].record == "068*******14"
    assert rules["population.citizen.names_normalised"].failed == 5
    assert rules["population.citizen.death_propagated"].checked == 0  # no lookups for submitted records
    assert rules["population.citizen.contract_valid"].failed == 0


@pytest.mark.anyio
async def test_concurrent_submissions_are_all_counted(quality_db: str, tmp_path: Path) -> None:
    settings = settings_for(quality_db, tmp_path)
    database = "population_concurrent"

    async def submit(batch: int) -> None:
        async with standalone_session(quality_db) as session:
            records = citizens(10, start=batch * 10, stale_days=400 if batch % 2 else 0)
            await record_submitted(session, database, Citizen, records, settings=settings)
            await session.commit()

    await asyncio.gather(*(submit(batch) for batch in range(8)))
    async with standalone_session(quality_db) as session:
        stored = (await read_scores(session, database))["submitted"]
    assert stored.records == 80
    assert (stored.dimensions[Dimension.LIVE].checked, stored.dimensions[Dimension.LIVE].failed) == (80, 40)
    fresh = next(rule for rule in stored.rules if rule.rule_id.endswith(".fresh"))
    assert fresh.failed == 40
    assert len(fresh.worst) == 10


@pytest.mark.anyio
async def test_a_scan_replaces_the_previous_one(quality_db: str, tmp_path: Path) -> None:
    sector = f"sqlite:///{tmp_path / 'population.db'}"
    await seed_population(sector, count=150, seed=7)
    settings = settings_for(quality_db, tmp_path, quality_default_freshness_days=1460)  # the data spans 3 years
    connector = PopulationConnector.from_config({"url": sector})
    async with connector, standalone_session(quality_db) as session:
        first = await scan_database(
            session, database_id="population_scan", connector=connector, settings=settings, sample_size=100
        )
        second = await scan_database(
            session, database_id="population_scan", connector=connector, settings=settings, sample_size=1000
        )
    assert (first.records, second.records) == (100, 150)
    async with standalone_session(quality_db) as session:
        stored = (await read_scores(session, "population_scan"))["scan"]
    assert (stored.records, stored.sample_size) == (150, 1000)
    assert all(count.checked == 150 and count.failed == 0 for count in stored.dimensions.values())


@pytest.mark.anyio
async def test_a_scan_that_reads_no_record_keeps_the_previous_scores(quality_db: str, tmp_path: Path) -> None:
    full, empty = f"sqlite:///{tmp_path / 'population.db'}", f"sqlite:///{tmp_path / 'empty.db'}"
    await seed_population(full, count=40, seed=7)
    await seed_population(empty, count=0, seed=7)
    settings = settings_for(quality_db, tmp_path, quality_default_freshness_days=1460)
    async with PopulationConnector.from_config({"url": full}) as connector, standalone_session(quality_db) as session:
        await scan_database(session, database_id="population_empty", connector=connector, settings=settings)
    async with PopulationConnector.from_config({"url": empty}) as connector, standalone_session(quality_db) as session:
        with pytest.raises(NothingScanned):
            await scan_database(session, database_id="population_empty", connector=connector, settings=settings)
        with pytest.raises(NothingScanned):
            await scan_database(session, database_id="population_never", connector=connector, settings=settings)
    async with standalone_session(quality_db) as session:
        assert (await read_scores(session, "population_empty"))["scan"].records == 40
        assert "scan" not in await read_scores(session, "population_never")


def values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_the_gateway_exports_the_scores(
    quality_db: str, make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory
) -> None:
    async def submit() -> None:
        async with standalone_session(quality_db) as session:
            records = citizens(8) + citizens(2, start=50, stale_days=3000)
            await record_submitted(session, "population", Citizen, records, settings=settings_for(quality_db, Path()))
            await session.commit()

    asyncio.run(submit())
    # Beside the population database (SQL: it can sample), a REST database whose configuration declares no listing
    # to sample: the scans skip it, and the metrics say so.
    unsampled = {"base_url": "http://127.0.0.1:9", "auth": {"type": "api_key", "header": "X-Key", "key": "k"}}
    connectors = {
        "population": make_settings().connectors["population"].model_dump(),
        "driving_licences": {"config": unsampled | {"sample": None}},
    }
    settings = make_settings(
        database_url=quality_db, data_dir=tmp_path_factory.mktemp("quality-metrics"), connectors=connectors
    )
    with LiveServer(create_app(settings)) as server:
        text = httpx.get(f"{server.url}/metrics", timeout=30).text
    scannable = values(text, "gateway_data_quality_scannable")
    assert scannable == {(("database", "population"),): 1, (("database", "driving_licences"),): 0}
    ratio = values(text, "gateway_data_quality_ratio")
    key = (("database", "population"), ("dimension", "live"), ("source", "submitted"))
    assert ratio[key] == pytest.approx(0.8)
    assert ratio[(("database", "population"), ("dimension", "correct"), ("source", "submitted"))] == 1.0
    # Nothing scanned yet: the series exist, their ratio unknown.
    assert math.isnan(ratio[(("database", "population"), ("dimension", "clean"), ("source", "scan"))])
    records = values(text, "gateway_data_quality_records")
    assert records[(*key[:2], ("result", "failed"), key[2])] == 2
    assert records[(*key[:2], ("result", "passed"), key[2])] == 8
    assert records[(("database", "population"), ("dimension", "clean"), ("result", "passed"), ("source", "scan"))] == 0


@pytest.mark.anyio
async def test_the_snapshot_covers_served_databases_and_scans(quality_db: str, tmp_path: Path) -> None:
    async with standalone_session(quality_db) as session:
        await record_submitted(
            session, "population_snapshot", Citizen, citizens(3), settings=settings_for(quality_db, tmp_path)
        )
        await session.commit()
        snapshot = await quality_snapshot(session, ["population", "land"])
    assert snapshot.served == ("land", "population")
    assert snapshot.counts[("population_snapshot", "submitted", "correct")] == (3, 0)
    assert "population_snapshot" not in snapshot.last_scan
