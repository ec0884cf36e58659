"""The conformance kit applied to the vehicles connector on SQLite and on PostgreSQL (the local server; skipped
when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sector_sql_fixtures import (
    create_slow_view,
    locked_sqlite_copy,
    postgres_failing_configs,
    sqlite_failing_configs,
)
from support import free_port, postgres_database

from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from connectors.vehicles import VehiclesConnector
from contracts.vehicles import VehicleRegistrationQuery
from simulators.vehicles import generate_vehicles, seed_vehicles

CITIZENS = 1500
TODAY = date(2025, 11, 1)
SLOW_VIEW = "dang_ky_xe_cham"


@pytest.fixture(scope="module")
def vehicles() -> list[dict[str, Any]]:
    return generate_vehicles(CITIZENS, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vehicles") / "vehicles.db"
    asyncio.run(seed_vehicles(f"sqlite:///{path}", count=CITIZENS, seed=68, today=TODAY))
    return path


@pytest.fixture(scope="module")
def sqlite_url(database: Path) -> str:
    return f"sqlite:///{database}"


@pytest.fixture(scope="module")
def known_ids(vehicles: list[dict[str, Any]]) -> list[str]:
    """A motorcycle, a car, a withdrawn registration and the last vehicle."""
    return [
        next(v["bien_so"] for v in vehicles if v["loai_xe"] == 5),
        next(v["bien_so"] for v in vehicles if v["loai_xe"] == 1),
        next(v["bien_so"] for v in vehicles if v["trang_thai"] == 2),
        vehicles[-1]["bien_so"],
    ]


@pytest.fixture(scope="module")
def searches(vehicles: list[dict[str, Any]]) -> list[SearchCase]:
    """The vehicles of an owner of several, one by engine and by frame number, and an owner of none."""
    owners: dict[str, list[str]] = {}
    for v in vehicles:
        owners.setdefault(v["chu_xe_so_dinh_danh"], []).append(v["bien_so"])
    owner, plates = max(owners.items(), key=lambda item: (len(item[1]), item[0]))
    assert len(plates) >= 3
    car = next(v for v in reversed(vehicles) if v["loai_xe"] == 1)
    return [
        SearchCase(VehicleRegistrationQuery(owner_personal_id=owner), plates),
        SearchCase(VehicleRegistrationQuery(engine_number=car["so_may"]), [car["bien_so"]]),
        SearchCase(
            VehicleRegistrationQuery(frame_number=car["so_khung"], owner_personal_id=car["chu_xe_so_dinh_danh"]),
            [car["bien_so"]],
        ),
        SearchCase(VehicleRegistrationQuery(frame_number=car["so_khung"], owner_personal_id=owner), []),
        SearchCase(VehicleRegistrationQuery(owner_personal_id="068099000000"), []),
    ]


@pytest.fixture(scope="module")
def locked_sqlite_url(database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with locked_sqlite_copy(database, tmp_path_factory.mktemp("locked") / "vehicles.db") as url:
        yield url


@pytest.fixture(scope="module")
def sqlite_failing(database: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[UpstreamFailure, Any]:
    """The database failing as the conformance kit asks (a view whose reading fails, a file that is not one)."""
    return sqlite_failing_configs(database, tmp_path_factory.mktemp("failing"), "dang_ky_xe")


@pytest.fixture(scope="module")
def missing_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('missing') / 'absent' / 'vehicles.db'}"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database(prefix="vehicles") as url:
        asyncio.run(seed_vehicles(url, count=CITIZENS, seed=68, today=TODAY))
        create_slow_view(url, "dang_ky_xe", SLOW_VIEW)
        yield url


@pytest.fixture(scope="module")
def postgres_failing(postgres_url: str) -> Iterator[dict[UpstreamFailure, Any]]:
    """The database failing as the conformance kit asks (a view whose reading fails, accounts refused)."""
    with postgres_failing_configs(postgres_url, "dang_ky_xe") as configs:
        yield configs


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    return f"postgresql://reader:pa55word@127.0.0.1:{free_port()}/dangkyxe"


TestVehiclesOnSqlite = connector_test_class(
    VehiclesConnector,
    config={"url": fixture("sqlite_url")},
    known_ids=fixture("known_ids"),
    missing_id="49A-999.99",
    unreachable_config={"url": fixture("missing_sqlite_url")},
    slow_config={"url": fixture("locked_sqlite_url"), "timeout_seconds": 0.5},
    failing_configs=fixture("sqlite_failing"),
    searches=fixture("searches"),
    invalid_configs=[{"url": "sqlite:///x.db", "table": "dang_ky_xe; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="vehicles",
)

TestVehiclesOnPostgres = connector_test_class(
    VehiclesConnector,
    config={"url": fixture("postgres_url")},
    known_ids=fixture("known_ids"),
    missing_id="49B1-999.99",
    unreachable_config={"url": fixture("closed_port_url"), "connect_timeout_seconds": 2},
    slow_config={"url": fixture("postgres_url"), "table": SLOW_VIEW, "timeout_seconds": 0.5},
    failing_configs=fixture("postgres_failing"),
    searches=fixture("searches"),
    entry_point="vehicles",
)
