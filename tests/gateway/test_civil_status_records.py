"""Civil status registrations through the gateway, over HTTP with a token: read, search, unknown id."""

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

from contracts.civil_status import CivilStatusRegistration
from gateway.settings import Settings
from simulators.civil_status import generate_registrations, seed_civil_status

COUNT = 600
TODAY = date(2025, 11, 1)
BASE = "/v1/databases/civil_status"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return generate_registrations(COUNT, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("civil-status-e2e") / "civil_status.db"
    asyncio.run(seed_civil_status(f"sqlite:///{path}", count=COUNT, seed=68, today=TODAY))
    with sector_gateway(make_settings, make_client, "civil_status", {"url": f"sqlite:///{path}"}) as served:
        yield served


def test_read_search_and_unknown(gateway: tuple[httpx.Client, dict[str, str]], rows: list[dict[str, Any]]) -> None:
    http, headers = gateway
    marriage = next(r for r in rows if r["loai_dang_ky"] == "KH")
    response = http.get(f"{BASE}/records/{marriage['ma_dang_ky']}", headers=headers)
    assert response.status_code == 200, response.text
    record = CivilStatusRegistration.model_validate(response.json())
    assert record.kind == "marriage" and record.marriage is not None
    assert record.marriage.husband.personal_id == marriage["kh_chong_so_dinh_danh"]
    assert record.marriage.wife.full_name == marriage["kh_vo_ho_ten"]
    assert record.registration_date == marriage["ngay_dang_ky"]

    child = next(r for r in rows if r["loai_dang_ky"] == "KS" and r["ks_dinh_danh_me"])
    response = http.post(f"{BASE}/search", json={"personal_id": child["so_dinh_danh"]}, headers=headers)
    assert response.status_code == 200, response.text
    page = response.json()
    expected = sorted(r["ma_dang_ky"] for r in rows if r["so_dinh_danh"] == child["so_dinh_danh"])
    assert [item["registration_id"] for item in page["items"]] == expected
    assert page["items"][0]["birth"]["mother_personal_id"] == child["ks_dinh_danh_me"]

    response = http.get(f"{BASE}/records/KS-24781-1985-999999", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    response = http.get(f"{BASE}/records/not-an-id", headers=headers)
    assert response.status_code == 422
    response = http.post(f"{BASE}/search", json={"kind": "birth"}, headers=headers)
    assert response.status_code == 422
