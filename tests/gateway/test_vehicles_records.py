"""Vehicle registrations through the gateway, over HTTP with a token: read, search, unknown id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sector_gateway import sector_gateway
from support import ClientCredentials

from contracts.vehicles import VehicleRegistration
from gateway.settings import Settings
from simulators.vehicles import generate_vehicles, seed_vehicles

COUNT = 600
TODAY = date(2025, 11, 1)
BASE = "/v1/databases/vehicles"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return generate_vehicles(COUNT, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("vehicles-e2e") / "vehicles.db"
    asyncio.run(seed_vehicles(f"sqlite:///{path}", count=COUNT, seed=68, today=TODAY))
    with sector_gateway(make_settings, make_client, "vehicles", {"url": f"sqlite:///{path}"}) as served:
        yield served


def test_read_search_and_unknown(gateway: tuple[httpx.Client, dict[str, str]], rows: list[dict[str, Any]]) -> None:
    http, headers = gateway
    car = next(r for r in rows if r["loai_xe"] == 1)
    response = http.get(f"{BASE}/records/{car['bien_so']}", headers=headers)
    assert response.status_code == 200, response.text
    record = VehicleRegistration.model_validate(response.json())
    assert record.vehicle_type == "car"
    assert (record.brand, record.model, record.engine_number) == (car["nhan_hieu"], car["so_loai"], car["so_may"])
    assert record.owner.personal_id == car["chu_xe_so_dinh_danh"]

    owner = car["chu_xe_so_dinh_danh"]
    response = http.post(f"{BASE}/search", json={"owner_personal_id": owner}, headers=headers)
    assert response.status_code == 200, response.text
    expected = sorted(r["bien_so"] for r in rows if r["chu_xe_so_dinh_danh"] == owner)
    assert [item["plate_number"] for item in response.json()["items"]] == expected

    response = http.get(f"{BASE}/records/49A-999.99", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    response = http.get(f"{BASE}/records/49A 123.45", headers=headers)
    assert response.status_code == 422
    response = http.post(f"{BASE}/search", json={}, headers=headers)
    assert response.status_code == 422
