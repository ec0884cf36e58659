"""Driving licences through the gateway, over HTTP with a token, from the simulated licence API: read, search,
unknown id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sector_gateway import sector_gateway
from support import ClientCredentials

from contracts.driving_licences import DrivingLicence
from gateway.settings import Settings
from simulators.driving_licence_api import DEFAULT_AUTH, DrivingLicenceApi, generate_licences
from simulators.http import SimulatorServer
from simulators.population import generate_citizens

COUNT = 600
TODAY = date(2025, 11, 1)
BASE = "/v1/databases/driving_licences"


@pytest.fixture(scope="module")
def licences() -> list[dict[str, Any]]:
    return generate_licences(generate_citizens(COUNT, seed=68, today=TODAY), seed=68, today=TODAY)


@pytest.fixture(scope="module")
def gateway(
    licences: list[dict[str, Any]],
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with SimulatorServer(DrivingLicenceApi(licences)) as api:
        config = {"base_url": api.url, "auth": DEFAULT_AUTH.connector_auth()}
        canary = min(licence["so_gplx"] for licence in licences)
        with sector_gateway(make_settings, make_client, "driving_licences", config, canary=canary) as served:
            yield served


def test_read_search_and_unknown(gateway: tuple[httpx.Client, dict[str, str]], licences: list[dict[str, Any]]) -> None:
    http, headers = gateway
    lic = next(x for x in licences if len(x["hang_gplx"]) > 1)
    response = http.get(f"{BASE}/records/{lic['so_gplx']}", headers=headers)
    assert response.status_code == 200, response.text
    record = DrivingLicence.model_validate(response.json())
    assert record.holder.personal_id == lic["nguoi_lai"]["so_cccd"]
    assert [c.licence_class for c in record.classes] == [c["hang"] for c in lic["hang_gplx"]]
    assert [c.expiry_date and c.expiry_date.isoformat() for c in record.classes] == [
        c["ngay_het_han"] for c in lic["hang_gplx"]
    ]

    revoked = next(x for x in licences if x["trang_thai"] == "THU_HOI")
    holder = revoked["nguoi_lai"]["so_cccd"]
    response = http.post(f"{BASE}/search", json={"holder_personal_id": holder}, headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["licence_number"], i["status"]) for i in items] == [(revoked["so_gplx"], "revoked")]

    response = http.get(f"{BASE}/records/680000000000", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert http.get(f"{BASE}/records/68-0000", headers=headers).status_code == 422
    assert http.post(f"{BASE}/search", json={"holder_personal_id": "12"}, headers=headers).status_code == 422
