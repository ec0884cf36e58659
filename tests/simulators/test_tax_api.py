"""The simulated tax authority: taxpayers consistent with the business registry, Vietnam Social Security and the
population, deterministic, and served in the authority's own dialect behind a bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sector_rest_fixtures import SEED, TODAY, world

from simulators.http import SimulatorServer
from simulators.tax_api import DEFAULT_AUTH, STATUSES, TaxApi, build_taxpayers, tax_office
from simulators.vss_api import VssRecords, build_vss_records


@pytest.fixture(scope="module")
def vss() -> VssRecords:
    citizens, enterprises = world()
    return build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)


@pytest.fixture(scope="module")
def taxpayers(vss: VssRecords) -> dict[str, dict[str, Any]]:
    citizens, enterprises = world()
    return build_taxpayers(citizens, enterprises, vss, seed=SEED, today=TODAY)


def test_every_enterprise_is_a_taxpayer_under_its_code_and_name(taxpayers: dict[str, dict[str, Any]]) -> None:
    expected = {1: {"00", "06"}, 2: {"05"}, 3: {"01"}, 4: {"01"}}
    for enterprise in world()[1]:
        taxpayer = taxpayers[enterprise["ma_so_dn"]]
        assert (taxpayer["loai_nnt"], taxpayer["ten_nnt"], taxpayer["ca_nhan"]) == (
            "TC",
            enterprise["ten_tieng_viet"],
            None,
        )
        assert taxpayer["trang_thai"] in expected[enterprise["tinh_trang"]]
        assert taxpayer["ngay_dang_ky"] >= enterprise["ngay_thanh_lap"].isoformat()
        assert taxpayer["co_quan_thue"]["ma"].startswith(enterprise["ma_tinh"])


def test_individuals_are_citizens_who_earn(taxpayers: dict[str, dict[str, Any]], vss: VssRecords) -> None:
    citizens = {c["so_dinh_danh"]: c for c in world()[0]}
    individuals = {code: t for code, t in taxpayers.items() if t["loai_nnt"] == "CN"}
    employed = {p["nguoiThamGia"]["soDinhDanh"] for p in vss.participants.values() for period in p["quaTrinhDong"]}
    representatives = {e["nguoi_dai_dien"]["so_dinh_danh"] for e in world()[1]}
    assert set(individuals) == employed | representatives
    for pid, taxpayer in individuals.items():
        citizen = citizens[pid]
        assert taxpayer["ca_nhan"]["so_dinh_danh"] == pid and taxpayer["ten_nnt"] == citizen["ho_ten"]
        assert taxpayer["trang_thai"] == ("01" if citizen["ngay_mat"] is not None else "00")
        assert taxpayer["co_quan_thue"] == tax_office(citizen["thuong_tru_tinh"], citizen["thuong_tru_xa"])
        assert taxpayer["ngay_dang_ky"] <= TODAY.isoformat()


def test_status_codes_and_offices_are_the_authoritys(taxpayers: dict[str, dict[str, Any]]) -> None:
    assert {t["trang_thai"] for t in taxpayers.values()} <= set(STATUSES)
    assert tax_office("79", None) == {"ma": "79100", "ten": "Thuế Thành phố Hồ Chí Minh"}
    assert tax_office("68", "24781", large=True)["ma"] == "68100"


def test_taxpayers_are_a_function_of_their_sources(taxpayers: dict[str, dict[str, Any]], vss: VssRecords) -> None:
    citizens, enterprises = world()
    assert build_taxpayers(citizens, enterprises, vss, seed=SEED, today=TODAY) == taxpayers


# -- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(taxpayers: dict[str, dict[str, Any]]) -> Iterator[SimulatorServer]:
    with SimulatorServer(TaxApi(taxpayers)) as live:
        yield live


@pytest.fixture
def http(server: SimulatorServer) -> Iterator[httpx.Client]:
    server.api.reset()  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {DEFAULT_AUTH.token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
        yield client


def test_requests_need_the_token(server: SimulatorServer) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/api/v1/trang-thai-he-thong").status_code == 401
        refused = client.get("/api/v1/trang-thai-he-thong", headers={"Authorization": "Bearer other"})
        assert refused.status_code == 401 and refused.json()["code"] == "401"


def test_a_taxpayer_and_an_unknown_code(http: httpx.Client, taxpayers: dict[str, dict[str, Any]]) -> None:
    code = next(iter(taxpayers))
    body = http.get(f"/api/v1/nguoi-nop-thue/{code}").json()
    assert body["code"] == "00" and body["data"] == taxpayers[code]
    missing = http.get("/api/v1/nguoi-nop-thue/068099000000")
    assert missing.status_code == 404 and missing.json()["code"] == "04"


def test_search_follows_cursors(http: httpx.Client, taxpayers: dict[str, dict[str, Any]]) -> None:
    expected = [code for code, t in taxpayers.items() if t["loai_nnt"] == "TC" and "công ty" in t["ten_nnt"].lower()]
    seen: list[str] = []
    params: dict[str, Any] = {"ten": "CÔNG TY", "loai": "TC", "limit": 3}
    while True:
        body = http.get("/api/v1/nguoi-nop-thue", params=params).json()
        seen.extend(t["mst"] for t in body["data"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == expected
    for bad in (
        {"ten": "c"},
        {"ten": "cong", "loai": "XX"},
        {"ten": "cong", "cursor": "%%%"},
        {"ten": "cong", "limit": 99},
    ):
        response = http.get("/api/v1/nguoi-nop-thue", params=bad)
        assert response.status_code == 400 and response.json()["code"] == "02"


def test_a_violation_swaps_the_taxpayer_type(
    http: httpx.Client, server: SimulatorServer, taxpayers: dict[str, dict[str, Any]]
) -> None:
    code = next(iter(taxpayers))
    server.api.misbehave(mode="violation", times=1)  # type: ignore[attr-defined]
    assert http.get(f"/api/v1/nguoi-nop-thue/{code}").json()["data"]["loai_nnt"] != taxpayers[code]["loai_nnt"]
    assert http.get(f"/api/v1/nguoi-nop-thue/{code}").json()["data"] == taxpayers[code]
