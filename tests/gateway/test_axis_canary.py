"""The demo declares a canary record for each simulated sector system (SQL, REST and SOAP): one that exists and
satisfies the contract, so that the health checks fetch it."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from connectors.discovery import discover_connectors
from gateway.core.settings import Settings
from gateway.demo import declare_canary, start_sector_systems
from simulators.defects import DEMO_DEFECTS
from simulators.sectors import SECTOR_SYSTEMS, SectorContext, load_sector_system

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("database", ["population", "civil_status", "education", "legal_documents", "vehicles", "land"])
async def test_the_demo_declares_a_valid_canary_for_a_simulated_sql_system(tmp_path: Path, database: str) -> None:
    with ExitStack() as stack:
        context = SectorContext(data_dir=tmp_path, citizens=80, seed=68, stack=stack, defects=DEMO_DEFECTS)
        await load_sector_system("population").start(context)
        system = load_sector_system(database)
        config = await system.start(context)
        canary = await declare_canary(system.connector, config)
        assert canary is not None and config["canary"] == canary
        connector_class = discover_connectors(only={system.connector}).connectors[system.connector]
        async with connector_class.from_config(config) as connector:
            assert await connector.canary() is True
        assert await declare_canary(system.connector, {**config, "canary": "kept"}) == "kept"


async def test_every_database_the_demo_starts_declares_a_canary_its_connector_finds(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    with ExitStack() as stack:
        context = SectorContext(data_dir=tmp_path / "sectors", citizens=120, seed=68, stack=stack, defects=DEMO_DEFECTS)
        started = await start_sector_systems(settings, context)
        assert sorted(started) == sorted(SECTOR_SYSTEMS)
        assert len(started) == 12
        for database in started:
            instance = settings.connectors[database]
            name = instance.connector or database
            assert instance.config.get("canary"), f"{database} declares no canary"
            connector_class = discover_connectors(only={name}).connectors[name]
            async with connector_class.from_config(instance.config) as connector:
                assert connector.canary_id == instance.config["canary"]
                assert await connector.canary() is True, database
        # The REST and SOAP systems chose theirs from their own data, and their servers are known.
        for database in ("business", "tax", "social_insurance", "health_insurance", "driving_licences"):
            assert load_sector_system(database).protocol == "rest" and database in context.servers
        assert load_sector_system("judicial_records").protocol == "soap" and "judicial_records" in context.servers


async def test_a_system_that_cannot_sample_gets_no_canary_and_starts_anyway(tmp_path: Path) -> None:
    with ExitStack() as stack:
        context = SectorContext(data_dir=tmp_path, citizens=40, seed=68, stack=stack)
        system = load_sector_system("tax")
        config = await system.start(context)
        del config["canary"]  # as if the system had declared none
        config["sample"] = None  # ... and offered no listing to sample
        assert await declare_canary(system.connector, config) is None
        assert "canary" not in config
