"""The civil status, vehicle, driving licence and land systems as the demo starts them: each ``SectorSystem`` seeds
its data (or serves its API) from the context's citizens and returns a configuration its connector works with."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support import postgres_database

from connectors.base import Connector
from connectors.discovery import discover_connectors
from simulators.civil_status import generate_registrations
from simulators.driving_licence_api import generate_licences
from simulators.land import generate_parcels
from simulators.population import generate_citizens
from simulators.sectors import SECTOR_SYSTEMS, SectorContext, load_sector_system
from simulators.vehicles import generate_vehicles

CITIZENS = 400
SEED = 68
TODAY = date(2025, 11, 1)


def first_keys() -> dict[str, str]:
    """A record id of each system, from the generators the systems use."""
    citizens = list(generate_citizens(CITIZENS, seed=SEED, today=TODAY))
    return {
        "civil_status": generate_registrations(CITIZENS, seed=SEED, today=TODAY)[-1]["ma_dang_ky"],
        "vehicles": generate_vehicles(CITIZENS, seed=SEED, today=TODAY)[-1]["bien_so"],
        "driving_licences": generate_licences(citizens, seed=SEED, today=TODAY)[-1]["so_gplx"],
        "land": generate_parcels(CITIZENS, seed=SEED, today=TODAY)[-1]["ma_thua"],
    }


async def _read(database: str, config: dict[str, Any], record_id: str) -> str:
    system = load_sector_system(database)
    connector_class = discover_connectors(only=[system.connector]).connectors[system.connector]
    connector: Connector[Any] = connector_class(connector_class.config_model.model_validate(config))
    await connector.start()
    try:
        assert (await connector.check()).ok
        return (await connector.get(record_id)).record_id()
    finally:
        await connector.close()


@pytest.mark.parametrize("database", ["civil_status", "vehicles", "driving_licences", "land"])
def test_the_system_is_listed(database: str) -> None:
    system = load_sector_system(database)
    assert SECTOR_SYSTEMS[database].startswith("simulators.")
    assert (system.database, system.connector) == (database, database)
    assert system.protocol == ("rest" if database == "driving_licences" else "sql")


def test_started_systems_serve_their_records(tmp_path: Path) -> None:
    keys = first_keys()
    with ExitStack() as stack:
        context = SectorContext(data_dir=tmp_path, citizens=CITIZENS, seed=SEED, today=TODAY, stack=stack)
        for database, key in keys.items():
            config = asyncio.run(load_sector_system(database).start(context))
            assert asyncio.run(_read(database, config, key)) == key
    assert {p.name for p in tmp_path.iterdir()} == {"civil_status.db", "vehicles.db", "land.db"}


@pytest.mark.postgres
def test_sql_systems_share_one_postgres_database() -> None:
    keys = first_keys()
    with postgres_database(prefix="sectorsa") as url, ExitStack() as stack:
        context = SectorContext(data_dir=Path("unused"), citizens=CITIZENS, seed=SEED, today=TODAY, sql_url=url)
        context.stack = stack
        for database in ("civil_status", "vehicles", "land"):
            config = asyncio.run(load_sector_system(database).start(context))
            assert config == {"url": url}
            assert asyncio.run(_read(database, config, keys[database])) == keys[database]
