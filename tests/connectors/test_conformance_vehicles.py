"""The conformance kit applied to the vehicles connector on SQLite and on PostgreSQL (the local server; skipped
when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import pytest
from sector_conformance import SqlSector, postgres_test_class, sqlite_test_class

from connectors.testing import SearchCase
from connectors.vehicles import VehiclesConnector
from contracts.vehicles import VehicleRegistrationQuery
from simulators.vehicles import generate_vehicles, seed_vehicles

CITIZENS = 1500
TODAY = date(2025, 11, 1)


@pytest.fixture(scope="module")
def vehicles() -> list[dict[str, Any]]:
    return generate_vehicles(CITIZENS, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def sql_sector() -> SqlSector:
    return SqlSector("vehicles", "dang_ky_xe", functools.partial(seed_vehicles, count=CITIZENS, seed=68, today=TODAY))


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


TestVehiclesOnSqlite = sqlite_test_class(
    VehiclesConnector,
    missing_id="49A-999.99",
    invalid_configs=[{"url": "sqlite:///x.db", "table": "dang_ky_xe; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="vehicles",
)

TestVehiclesOnPostgres = postgres_test_class(VehiclesConnector, missing_id="49B1-999.99", entry_point="vehicles")
