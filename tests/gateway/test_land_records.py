"""Land parcels through the gateway, over HTTP with a token: read, search by either holder, unknown id."""

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

from contracts.land import LandParcel
from gateway.settings import Settings
from simulators.land import generate_parcels, seed_land

COUNT = 600
TODAY = date(2025, 11, 1)
BASE = "/v1/databases/land"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return generate_parcels(COUNT, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("land-e2e") / "land.db"
    asyncio.run(seed_land(f"sqlite:///{path}", count=COUNT, seed=68, today=TODAY))
    with sector_gateway(make_settings, make_client, "land", {"url": f"sqlite:///{path}"}) as served:
        yield served


def test_read_search_and_unknown(gateway: tuple[httpx.Client, dict[str, str]], rows: list[dict[str, Any]]) -> None:
    http, headers = gateway
    mixed = next(r for r in rows if r["muc_dich_su_dung"] == "ONT+CLN" and r["chu_2_so_dinh_danh"])
    response = http.get(f"{BASE}/records/{mixed['ma_thua']}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    record = LandParcel.model_validate(body)
    assert body["land_use"] == ["ONT", "CLN"]
    assert record.certificate_serial == mixed["so_phat_hanh_gcn"]
    assert record.co_owner is not None and record.co_owner.personal_id == mixed["chu_2_so_dinh_danh"]

    spouse = mixed["chu_2_so_dinh_danh"]
    response = http.post(f"{BASE}/search", json={"owner_personal_id": spouse, "page_size": 1}, headers=headers)
    assert response.status_code == 200, response.text
    expected = sorted(r["ma_thua"] for r in rows if spouse in (r["chu_1_so_dinh_danh"], r["chu_2_so_dinh_danh"]))
    page = response.json()
    assert [item["parcel_id"] for item in page["items"]] == expected[:1]
    assert (page["next_cursor"] is not None) == (len(expected) > 1)

    response = http.get(f"{BASE}/records/24781-99-99", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert http.get(f"{BASE}/records/24781-12", headers=headers).status_code == 422
    assert http.post(f"{BASE}/search", json={"certificate_serial": "AA1"}, headers=headers).status_code == 422
