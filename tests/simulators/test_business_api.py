"""The simulated business registry: enterprises consistent with the population that founds them, deterministic,
and served in the registry's own dialect behind an API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sector_rest_fixtures import CITIZENS, SEED, TODAY, world

from contracts.admin_units import ward_province
from contracts.dates import PartialDate
from contracts.tax_code import is_tax_code, parent_tax_code
from simulators.business_api import DEFAULT_AUTH, BusinessApi, to_api
from simulators.enterprises import generate_enterprises, years_after
from simulators.http import SimulatorServer


@pytest.fixture(scope="module")
def citizens() -> dict[str, dict[str, Any]]:
    return {c["so_dinh_danh"]: c for c in world()[0]}


@pytest.fixture(scope="module")
def enterprises() -> tuple[dict[str, Any], ...]:
    return world()[1]


def test_representatives_are_living_adult_citizens(
    enterprises: tuple[dict[str, Any], ...], citizens: dict[str, dict[str, Any]]
) -> None:
    assert len(enterprises) == CITIZENS // 40
    for enterprise in enterprises:
        person = enterprise["nguoi_dai_dien"]
        citizen = citizens[person["so_dinh_danh"]]
        assert citizen["ngay_mat"] is None
        assert {k: citizen[k] for k in person} == person
        adult = years_after(PartialDate.parse(citizen["ngay_sinh"]).latest(), 18)
        assert adult <= enterprise["ngay_thanh_lap"] <= TODAY


def test_codes_names_and_places(enterprises: tuple[dict[str, Any], ...]) -> None:
    codes = [e["ma_so_dn"] for e in enterprises]
    assert codes == sorted(set(codes))
    assert all(is_tax_code(code) for code in codes)
    assert {code[:2] for code in codes} <= {"58", "34", "64", "01", "03"}
    assert len({e["ten_tieng_viet"] for e in enterprises}) == len(enterprises)
    for enterprise in enterprises:
        assert ward_province(enterprise["ma_xa"]) == enterprise["ma_tinh"] == "68"
        assert (enterprise["ten_tieng_anh"] is None) == (enterprise["loai_hinh"] == "DNTN")
        assert enterprise["von_dieu_le"] > 0 and enterprise["von_dieu_le"] % 1_000_000 == 0
        closed = enterprise["ngay_cham_dut"]
        assert (closed is not None) == (enterprise["tinh_trang"] in (3, 4))
        if closed is not None:
            assert enterprise["ngay_thanh_lap"] < closed <= TODAY
        for number, branch in enumerate(enterprise["chi_nhanh"], start=1):
            assert branch["ma_so"] == f"{enterprise['ma_so_dn']}-{number:03d}"
            assert parent_tax_code(branch["ma_so"]) == enterprise["ma_so_dn"]
            assert ward_province(branch["ma_xa"]) == branch["ma_tinh"]
            assert enterprise["ngay_thanh_lap"].isoformat() <= branch["ngay_dang_ky"] <= TODAY.isoformat()


def test_enterprises_are_a_function_of_citizens_seed_and_today(enterprises: tuple[dict[str, Any], ...]) -> None:
    citizens = world()[0]
    assert tuple(generate_enterprises(citizens, seed=SEED, today=TODAY)) == enterprises
    assert tuple(generate_enterprises(citizens, seed=SEED + 1, today=TODAY)) != enterprises


# -- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(enterprises: tuple[dict[str, Any], ...]) -> Iterator[SimulatorServer]:
    with SimulatorServer(BusinessApi(enterprises)) as live:
        yield live


@pytest.fixture
def http(server: SimulatorServer) -> Iterator[httpx.Client]:
    server.api.reset()  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": DEFAULT_AUTH.key}, timeout=5) as client:
        yield client


def test_requests_need_the_key(server: SimulatorServer) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/api/he-thong/tinh-trang").status_code == 401
        refused = client.get("/api/he-thong/tinh-trang", headers={"X-Api-Key": "wrong"})
        assert refused.status_code == 401 and refused.json()["ErrorCode"] == "UNAUTHORIZED"


def test_an_enterprise_in_the_registrys_dialect(http: httpx.Client, enterprises: tuple[dict[str, Any], ...]) -> None:
    enterprise = next(e for e in enterprises if e["chi_nhanh"])
    body = http.get(f"/api/doanh-nghiep/{enterprise['ma_so_dn']}").json()
    assert body["Success"] is True and body["Data"] == to_api(enterprise)
    assert body["Data"]["TruSoChinh"]["MaXa"] == enterprise["ma_xa"]
    assert body["Data"]["ChiNhanh"][0]["MaChiNhanh"] == enterprise["chi_nhanh"][0]["ma_so"]
    missing = http.get("/api/doanh-nghiep/0100233488")
    assert missing.status_code == 404 and missing.json()["ErrorCode"] == "NOT_FOUND"


def test_search_pages_and_bad_parameters(http: httpx.Client, enterprises: tuple[dict[str, Any], ...]) -> None:
    whole = http.get("/api/doanh-nghiep", params={"TenDoanhNghiep": "công ty", "PageSize": 50}).json()["Data"]
    assert whole["TotalCount"] == len(whole["Items"]) > 2
    second = http.get("/api/doanh-nghiep", params={"TenDoanhNghiep": "CÔNG TY", "PageSize": 2, "PageIndex": 2})
    assert second.json()["Data"]["Items"] == whole["Items"][2:4]
    for bad in (
        {},
        {"TenDoanhNghiep": "c"},
        {"TenDoanhNghiep": "cong", "PageSize": 0},
        {"NguoiDaiDien": "1", "PageIndex": "a"},
    ):
        response = http.get("/api/doanh-nghiep", params=bad)
        assert response.status_code == 400 and response.json()["ErrorCode"] == "BAD_REQUEST"


def test_a_violation_breaks_the_representative(
    http: httpx.Client, server: SimulatorServer, enterprises: tuple[dict[str, Any], ...]
) -> None:
    code = enterprises[0]["ma_so_dn"]
    server.api.misbehave(mode="violation", times=1)  # type: ignore[attr-defined]
    broken = http.get(f"/api/doanh-nghiep/{code}").json()["Data"]["NguoiDaiDien"]
    assert broken["GioiTinh"] == 3 - enterprises[0]["nguoi_dai_dien"]["gioi_tinh"]
    assert http.get(f"/api/doanh-nghiep/{code}").json()["Data"] == to_api(enterprises[0])
