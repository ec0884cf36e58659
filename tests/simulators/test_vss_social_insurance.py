"""The simulated Vietnam Social Security API's participants: consistent with the population and the enterprises
they are derived from, deterministic, and served in the API's own dialect behind OAuth 2.0."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sector_rest_fixtures import CITIZENS, SEED, TODAY, world

from contracts.dates import PartialDate
from simulators.enterprises import years_after
from simulators.http import SimulatorServer
from simulators.population_api.records import vietnamese_date
from simulators.sectors import SectorContext, load_sector_system
from simulators.vss_api.app import DEFAULT_AUTH, VssApi
from simulators.vss_api.records import VssRecords, build_vss_records


def _month(text: str) -> tuple[int, int]:
    month, year = text.split("/")
    return int(year), int(month)


def _ym(day: date) -> tuple[int, int]:
    return day.year, day.month


@pytest.fixture(scope="module")
def records() -> VssRecords:
    citizens, enterprises = world()
    return build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)


@pytest.fixture(scope="module")
def citizens() -> dict[str, dict[str, Any]]:
    return {c["so_dinh_danh"]: c for c in world()[0]}


@pytest.fixture(scope="module")
def enterprises() -> dict[str, dict[str, Any]]:
    return {e["ma_so_dn"]: e for e in world()[1]}


def test_every_participant_is_a_citizen_as_registered(records: VssRecords, citizens: dict[str, dict[str, Any]]) -> None:
    assert len(records.participants) > CITIZENS // 4
    for code, participant in records.participants.items():
        person = participant["nguoiThamGia"]
        citizen = citizens[person["soDinhDanh"]]
        assert person["hoTen"] == citizen["ho_ten"]
        assert person["ngaySinh"] == vietnamese_date(citizen["ngay_sinh"])
        assert person["gioiTinh"] == {1: "Nam", 2: "Nữ"}[citizen["gioi_tinh"]]
        assert records.codes[person["soDinhDanh"]] == code


def test_codes_are_unique_and_carry_the_province_of_the_personal_id(records: VssRecords) -> None:
    assert len(set(records.codes.values())) == len(records.codes)
    for pid, code in records.codes.items():
        assert len(code) == 10 and code.isdigit() and code[:2] == pid[1:3]


def test_deaths_agree_with_the_population_and_stop_contributions(
    records: VssRecords, citizens: dict[str, dict[str, Any]]
) -> None:
    dead = 0
    for participant in records.participants.values():
        death = citizens[participant["nguoiThamGia"]["soDinhDanh"]]["ngay_mat"]
        assert participant["ngayChet"] == (death.isoformat() if death else None)
        assert (participant["trangThai"] == "DA_CHET") == (death is not None)
        if death is not None:
            dead += 1
            for period in participant["quaTrinhDong"]:
                assert period["denThang"] is not None and _month(period["denThang"]) <= _ym(death)
    assert dead > 0


def test_periods_are_ordered_and_within_working_life(records: VssRecords, citizens: dict[str, dict[str, Any]]) -> None:
    for participant in records.participants.values():
        citizen = citizens[participant["nguoiThamGia"]["soDinhDanh"]]
        adult = _ym(years_after(PartialDate.parse(citizen["ngay_sinh"]).latest(), 18))
        periods = participant["quaTrinhDong"]
        assert periods
        previous_end = (0, 0)
        for index, period in enumerate(periods):
            start = _month(period["tuThang"])
            end = _month(period["denThang"]) if period["denThang"] else _ym(TODAY)
            assert adult <= start <= end <= _ym(TODAY)
            assert start > previous_end
            previous_end = end
            if period["denThang"] is None:
                assert index == len(periods) - 1
        assert (periods[-1]["denThang"] is None) == (participant["trangThai"] == "DANG_DONG")


def test_employers_are_registered_enterprises_alive_during_the_period(
    records: VssRecords, enterprises: dict[str, dict[str, Any]]
) -> None:
    employed = 0
    for participant in records.participants.values():
        for period in participant["quaTrinhDong"]:
            if period["mstDonVi"] is None:
                assert period["loaiBaoHiem"] == ["BHXH_TN"]
                continue
            employed += 1
            enterprise = enterprises[period["mstDonVi"]]
            assert period["tenDonVi"] == enterprise["ten_tieng_viet"]
            assert _ym(enterprise["ngay_thanh_lap"]) < _month(period["tuThang"])
            if enterprise["ngay_cham_dut"] is not None:
                assert period["denThang"] is not None
                assert _month(period["denThang"]) < _ym(enterprise["ngay_cham_dut"])
            if period["denThang"] is None:
                assert enterprise["tinh_trang"] == 1
    assert employed > 0


def test_records_are_a_function_of_citizens_seed_and_today(records: VssRecords) -> None:
    citizens, enterprises = world()
    assert build_vss_records(citizens, enterprises, seed=SEED, today=TODAY) == records
    assert build_vss_records(citizens, enterprises, seed=SEED + 1, today=TODAY) != records


# -- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(records: VssRecords) -> Iterator[SimulatorServer]:
    with SimulatorServer(VssApi(records)) as live:
        yield live


@pytest.fixture
def http(server: SimulatorServer) -> Iterator[httpx.Client]:
    server.api.reset()  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url, timeout=5) as client:
        token = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(DEFAULT_AUTH.client_id, DEFAULT_AUTH.client_secret),
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_requests_need_a_token(server: SimulatorServer) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/api/bhxh/v2/trang-thai").status_code == 401
        assert client.get("/api/bhxh/v2/trang-thai", headers={"Authorization": "Bearer nope"}).status_code == 401
        wrong = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("axis-gateway", "x"))
        assert wrong.status_code == 401


def test_a_participant_and_an_unknown_code(http: httpx.Client, records: VssRecords) -> None:
    code = sorted(records.participants)[5]
    body = http.get(f"/api/bhxh/v2/nguoi-tham-gia/{code}").json()
    assert body["maKetQua"] == "000" and body["duLieu"] == records.participants[code]
    missing = http.get("/api/bhxh/v2/nguoi-tham-gia/9999999999")
    assert missing.status_code == 200 and missing.json()["maKetQua"] == "010"


def test_search_windows_and_bad_parameters(http: httpx.Client, records: VssRecords) -> None:
    participant = records.participants[sorted(records.participants)[0]]["nguoiThamGia"]
    year = participant["ngaySinh"][-4:]
    params = {"hoTen": participant["hoTen"].upper(), "ngaySinh": year}
    whole = http.get("/api/bhxh/v2/nguoi-tham-gia", params=params).json()
    assert whole["tongSo"] >= 1 and participant in [p["nguoiThamGia"] for p in whole["duLieu"]]
    window = http.get("/api/bhxh/v2/nguoi-tham-gia", params={**params, "tuBanGhi": 0, "soBanGhi": 1}).json()
    assert window["duLieu"] == whole["duLieu"][:1]
    for bad in (
        {"hoTen": "A"},
        {**params, "soBanGhi": 51},
        {**params, "ngaySinh": "năm 1990"},
        {**params, "tuBanGhi": "x"},
    ):
        response = http.get("/api/bhxh/v2/nguoi-tham-gia", params=bad)
        assert response.status_code == 400 and response.json()["maKetQua"] == "020"


def test_misbehaviour_is_switched_through_the_control_route(http: httpx.Client) -> None:
    assert http.post("/_simulator/misbehave", json={"mode": "error", "status": 503, "times": 1}).status_code == 200
    assert http.get("/api/bhxh/v2/trang-thai").status_code == 503
    assert http.get("/api/bhxh/v2/trang-thai").status_code == 200
    assert http.get("/_simulator/stats").json()["stats"]["requests"] == 2


def test_both_sector_systems_share_one_server_that_stops_with_the_context(tmp_path: Path) -> None:
    with ExitStack() as stack:
        context = SectorContext(data_dir=tmp_path, citizens=CITIZENS, seed=SEED, today=TODAY, stack=stack)
        social = asyncio.run(load_sector_system("social_insurance").start(context))
        health = asyncio.run(load_sector_system("health_insurance").start(context))
        assert social["base_url"] == health["base_url"] and social["auth"] == health["auth"]
        assert social["auth"]["type"] == "oauth2_client_credentials"
        assert context.servers["social_insurance"] is context.servers["health_insurance"]
        # Each declares a record of its own as its canary: a participant, a card.
        assert social["canary"] in context.servers["social_insurance"].api.records.participants  # type: ignore[attr-defined]
        assert health["canary"] in context.servers["health_insurance"].api.records.cards  # type: ignore[attr-defined]
        with httpx.Client(base_url=social["base_url"], timeout=5) as client:
            assert client.post("/oauth/token", data={"grant_type": "client_credentials"}).status_code == 401
    with httpx.Client(base_url=social["base_url"], timeout=2) as client, pytest.raises(httpx.ConnectError):
        client.get("/api/bhxh/v2/trang-thai")


def test_a_violation_breaks_the_participant(http: httpx.Client, server: SimulatorServer, records: VssRecords) -> None:
    code = sorted(records.participants)[0]
    server.api.misbehave(mode="violation", times=1)  # type: ignore[attr-defined]
    broken = http.get(f"/api/bhxh/v2/nguoi-tham-gia/{code}").json()["duLieu"]["nguoiThamGia"]
    assert broken["gioiTinh"] != records.participants[code]["nguoiThamGia"]["gioiTinh"]
    assert http.get(f"/api/bhxh/v2/nguoi-tham-gia/{code}").json()["duLieu"] == records.participants[code]
