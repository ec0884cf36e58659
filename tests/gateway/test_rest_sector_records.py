"""Reading and searching the REST sector databases through the gateway, over HTTP with a token: social insurance,
business registration, health insurance and tax, each served by its simulator on 127.0.0.1 and started the way the
demo starts it (its :class:`~simulators.sectors.SectorSystem`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sector_gateway import canary_found
from sector_rest_fixtures import CITIZENS, SEED, TODAY, world
from support import STATED, ClientCredentials, LiveServer, fetch_token

from gateway.app import create_app
from gateway.settings import Settings
from simulators.sectors import SectorContext, load_sector_system
from simulators.tax_api import build_taxpayers
from simulators.vss_api.records import build_vss_records, card_status

DATABASES = ("social_insurance", "business", "health_insurance", "tax")


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    data_dir: Path = tmp_path_factory.mktemp("rest-sectors")
    with ExitStack() as stack:
        context = SectorContext(data_dir=data_dir, citizens=CITIZENS, seed=SEED, today=TODAY, stack=stack)
        connectors = {}
        for database in DATABASES:
            system = load_sector_system(database)
            assert system.protocol == "rest"
            config = asyncio.run(system.start(context))
            assert asyncio.run(canary_found(system.connector, config)), database  # the health checks are deep
            connectors[database] = {"connector": system.connector, "config": config}
        settings = make_settings(connectors=connectors)
        scopes = [f"{database}:{operation}" for database in DATABASES for operation in ("read", "search")]
        credentials = make_client(*scopes)
        with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
            token = fetch_token(http, credentials)
            yield http, {"Authorization": f"Bearer {token}", **STATED}


def _search_all(http: httpx.Client, headers: dict[str, str], database: str, body: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        response = http.post(f"/v1/databases/{database}/search", json={**body, "cursor": cursor}, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            return items


def _not_found(http: httpx.Client, headers: dict[str, str], database: str, key: str) -> None:
    response = http.get(f"/v1/databases/{database}/records/{key}", headers=headers)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/record-not-found"


def test_social_insurance(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, headers = gateway
    citizens, enterprises = world()
    records = build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)
    code, stored = next((c, p) for c, p in sorted(records.participants.items()) if len(p["quaTrinhDong"]) > 1)
    response = http.get(f"/v1/databases/social_insurance/records/{code}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["social_insurance_code"] == code
    assert body["participant"]["personal_id"] == stored["nguoiThamGia"]["soDinhDanh"]
    assert body["participant"]["full_name"] == stored["nguoiThamGia"]["hoTen"]
    assert [p["employer_tax_code"] for p in body["contribution_periods"]] == [
        p["mstDonVi"] for p in stored["quaTrinhDong"]
    ]
    month, year = stored["quaTrinhDong"][0]["tuThang"].split("/")
    assert body["contribution_periods"][0]["from_month"] == f"{year}-{month}"
    pid = stored["nguoiThamGia"]["soDinhDanh"]
    found = _search_all(http, headers, "social_insurance", {"personal_id": pid, "page_size": 1})
    assert [item["social_insurance_code"] for item in found] == [code]
    _not_found(http, headers, "social_insurance", "9999999999")
    malformed = http.get("/v1/databases/social_insurance/records/12345", headers=headers)
    assert malformed.status_code == 422


def test_business(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, headers = gateway
    enterprises = world()[1]
    stored = next(e for e in enterprises if e["chi_nhanh"])
    response = http.get(f"/v1/databases/business/records/{stored['ma_so_dn']}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enterprise_code"] == stored["ma_so_dn"]
    assert body["name"] == stored["ten_tieng_viet"]
    assert body["head_office"]["ward_code"] == stored["ma_xa"]
    assert body["legal_representative"]["personal_id"] == stored["nguoi_dai_dien"]["so_dinh_danh"]
    assert [b["branch_code"] for b in body["branches"]] == [b["ma_so"] for b in stored["chi_nhanh"]]
    representative = stored["nguoi_dai_dien"]["so_dinh_danh"]
    found = _search_all(http, headers, "business", {"representative_personal_id": representative, "page_size": 1})
    assert stored["ma_so_dn"] in [item["enterprise_code"] for item in found]
    named = _search_all(http, headers, "business", {"name": "công ty", "page_size": 7})
    expected = sorted(e["ma_so_dn"] for e in enterprises if "công ty" in e["ten_tieng_viet"].lower())
    assert [item["enterprise_code"] for item in named] == expected
    _not_found(http, headers, "business", "0100233488")
    assert http.get("/v1/databases/business/records/0100233487", headers=headers).status_code == 422


def test_health_insurance(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, headers = gateway
    citizens, enterprises = world()
    records = build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)
    for code in (
        next(c for c in sorted(records.cards) if len(c) == 15),
        next(c for c, card in sorted(records.cards.items()) if card["maDoiTuong"] == "TE"),
    ):
        stored = records.cards[code]
        response = http.get(f"/v1/databases/health_insurance/records/{code}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["card_code"] == code and body["social_insurance_code"] == stored["maSoBhxh"]
        assert body["holder"]["personal_id"] == stored["chuThe"]["soDinhDanh"]
        assert (body["valid_from"], body["valid_to"]) == (stored["giaTriTu"], stored["giaTriDen"])
        assert (
            body["status"]
            == {"CON_HAN": "valid", "HET_HAN": "expired", "CHUA_CO_HIEU_LUC": "not_yet_valid"}[
                card_status(stored, date.today())
            ]
        )
        found = _search_all(http, headers, "health_insurance", {"personal_id": body["holder"]["personal_id"]})
        assert [item["card_code"] for item in found] == [code]
    _not_found(http, headers, "health_insurance", "9999999999")
    assert http.get("/v1/databases/health_insurance/records/XX9999", headers=headers).status_code == 422


def test_tax(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, headers = gateway
    citizens, enterprises = world()
    vss = build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)
    taxpayers = build_taxpayers(citizens, enterprises, vss, seed=SEED, today=TODAY)
    enterprise = enterprises[0]
    response = http.get(f"/v1/databases/tax/records/{enterprise['ma_so_dn']}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["taxpayer_type"], body["name"]) == ("organisation", enterprise["ten_tieng_viet"])
    individual = next(t for t in taxpayers.values() if t["loai_nnt"] == "CN")
    body = http.get(f"/v1/databases/tax/records/{individual['mst']}", headers=headers).json()
    assert body["individual"]["personal_id"] == body["tax_code"] == individual["mst"]
    assert body["managing_tax_office"]["code"] == individual["co_quan_thue"]["ma"]
    found = _search_all(http, headers, "tax", {"name": "công ty", "taxpayer_type": "organisation", "page_size": 4})
    expected = [c for c, t in taxpayers.items() if t["loai_nnt"] == "TC" and "công ty" in t["ten_nnt"].lower()]
    assert [item["tax_code"] for item in found] == expected
    _not_found(http, headers, "tax", "068099000000")
    assert http.get("/v1/databases/tax/records/0100233487", headers=headers).status_code == 422
