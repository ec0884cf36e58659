"""The simulated driving licence API: its records agree with the population data of the same (count, seed, today),
and it answers over HTTP in its own shape, behind its API key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from contracts.driving_licences import MINIMUM_AGES, LicenceClass, expiry_for
from simulators.citizen_links import add_years, birth_latest
from simulators.driving_licence_api import DrivingLicenceApi, generate_licences
from simulators.driving_licence_api.records import licence_prefix
from simulators.http import SimulatorServer
from simulators.population import generate_citizens

COUNT = 2000
TODAY = date(2025, 11, 1)
KEY = {"X-API-Key": "sim-gplx-key"}
Row = dict[str, Any]


@pytest.fixture(scope="module")
def citizens() -> dict[str, Row]:
    return {c["so_dinh_danh"]: c for c in generate_citizens(COUNT, seed=68, today=TODAY)}


@pytest.fixture(scope="module")
def licences(citizens: dict[str, Row]) -> list[Row]:
    return generate_licences(citizens.values(), seed=68, today=TODAY)


@pytest.fixture(scope="module")
def http(licences: list[Row]) -> Iterator[httpx.Client]:
    with SimulatorServer(DrivingLicenceApi(licences)) as server, httpx.Client(base_url=server.url) as client:
        yield client


def test_deterministic(citizens: dict[str, Row], licences: list[Row]) -> None:
    assert generate_licences(citizens.values(), seed=68, today=TODAY) == licences
    assert generate_licences(citizens.values(), seed=69, today=TODAY) != licences


def test_holders_are_adult_citizens_with_one_licence_each(citizens: dict[str, Row], licences: list[Row]) -> None:
    holders = [lic["nguoi_lai"]["so_cccd"] for lic in licences]
    assert len(set(holders)) == len(holders)
    assert len({lic["so_gplx"] for lic in licences}) == len(licences)
    for lic in licences:
        citizen = citizens[lic["nguoi_lai"]["so_cccd"]]
        assert lic["nguoi_lai"]["ho_ten"] == citizen["ho_ten"]
        assert lic["nguoi_lai"]["ngay_sinh"] == citizen["ngay_sinh"]
        assert lic["so_gplx"][:2] == licence_prefix(citizen)
        assert lic["noi_cap"]["ma_tinh"] == citizen["thuong_tru_tinh"]
    assert {"68", "67", "60"} <= {lic["so_gplx"][:2] for lic in licences}
    minors = {pid for pid, c in citizens.items() if add_years(birth_latest(c), 18) > TODAY}
    assert minors and not minors & set(holders)


def test_classes_follow_the_law_and_the_holders_life(citizens: dict[str, Row], licences: list[Row]) -> None:
    seen: set[str] = set()
    for lic in licences:
        citizen = citizens[lic["nguoi_lai"]["so_cccd"]]
        end = citizen["ngay_mat"] or TODAY
        for entry in lic["hang_gplx"]:
            licence_class, issued = LicenceClass(entry["hang"]), date.fromisoformat(entry["ngay_cap"])
            seen.add(licence_class)
            assert add_years(birth_latest(citizen), MINIMUM_AGES[licence_class]) <= issued <= end
            expiry = expiry_for(licence_class, issued)
            assert entry["ngay_het_han"] == (None if expiry is None else expiry.isoformat())
    assert {"A1", "A", "B", "C"} <= seen


def test_status_agrees_with_death_and_expiry(citizens: dict[str, Row], licences: list[Row]) -> None:
    for lic in licences:
        died = citizens[lic["nguoi_lai"]["so_cccd"]]["ngay_mat"]
        assert (lic["trang_thai"] == "THU_HOI") == (died is not None)
        if died is not None:
            assert died <= date.fromisoformat(lic["ngay_trang_thai"]) <= TODAY
        expiries = [e["ngay_het_han"] for e in lic["hang_gplx"]]
        lapsed = all(e is not None and date.fromisoformat(e) < TODAY for e in expiries)
        if lic["trang_thai"] == "HET_HAN":
            assert lapsed
        if lic["trang_thai"] == "CON_HIEU_LUC":
            assert not lapsed
    assert {lic["trang_thai"] for lic in licences} == {"CON_HIEU_LUC", "HET_HAN", "TAM_GIU", "THU_HOI"}


def test_the_api_needs_its_key(http: httpx.Client, licences: list[Row]) -> None:
    response = http.get(f"/api/gplx/v1/giay-phep/{licences[0]['so_gplx']}")
    assert response.status_code == 401
    assert response.json()["ket_qua"] == "CHUA_XAC_THUC"
    assert http.get("/api/gplx/v1/suc-khoe", headers={"X-API-Key": "wrong"}).status_code == 401


def test_read_and_not_found(http: httpx.Client, licences: list[Row]) -> None:
    response = http.get(f"/api/gplx/v1/giay-phep/{licences[3]['so_gplx']}", headers=KEY)
    assert response.status_code == 200
    assert response.json() == {"ket_qua": "OK", "du_lieu": licences[3]}
    response = http.get("/api/gplx/v1/giay-phep/680000000000", headers=KEY)
    assert response.status_code == 404
    assert response.json()["ket_qua"] == "KHONG_TIM_THAY"


def test_search_pages(http: httpx.Client, licences: list[Row]) -> None:
    holder = licences[7]["nguoi_lai"]["so_cccd"]
    response = http.get("/api/gplx/v1/giay-phep", params={"so_cccd": holder, "kich_thuoc": 1}, headers=KEY)
    assert response.json() == {"ket_qua": "OK", "du_lieu": [licences[7]], "tong_so": 1, "trang": 1}
    response = http.get("/api/gplx/v1/giay-phep", params={"so_cccd": holder, "trang": 2}, headers=KEY)
    assert response.json()["du_lieu"] == []


@pytest.mark.parametrize(
    "params",
    [{}, {"so_cccd": "123"}, {"so_cccd": "068099000000", "kich_thuoc": 51}, {"so_cccd": "068099000000", "trang": "x"}],
)
def test_bad_search_parameters_are_400(http: httpx.Client, params: dict[str, Any]) -> None:
    response = http.get("/api/gplx/v1/giay-phep", params=params, headers=KEY)
    assert response.status_code == 400
    assert response.json()["ket_qua"] == "SAI_THAM_SO"
