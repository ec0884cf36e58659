"""The simulated Vietnam Social Security API's health insurance cards: consistent with the population (children,
deaths) and with the social insurance records, in both code forms, their status computed on the API's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sector_rest_fixtures import SEED, TODAY, world

from contracts.dates import PartialDate
from simulators.enterprises import years_after
from simulators.http import SimulatorServer
from simulators.population_api.records import vietnamese_date
from simulators.vss_api import DEFAULT_AUTH, VssApi, VssRecords, build_vss_records, card_status
from simulators.vss_api.records import FACILITIES, NEW_CARD_CODES_FROM


@pytest.fixture(scope="module")
def records() -> VssRecords:
    citizens, enterprises = world()
    return build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)


@pytest.fixture(scope="module")
def citizens() -> dict[str, dict[str, Any]]:
    return {c["so_dinh_danh"]: c for c in world()[0]}


def _span(card: dict[str, Any]) -> tuple[date, date]:
    return date.fromisoformat(card["giaTriTu"]), date.fromisoformat(card["giaTriDen"])


def test_every_holder_is_a_citizen_with_one_code(records: VssRecords, citizens: dict[str, dict[str, Any]]) -> None:
    holders = [card["chuThe"]["soDinhDanh"] for card in records.cards.values()]
    assert len(holders) == len(set(holders)) > len(citizens) // 2
    for card in records.cards.values():
        holder = card["chuThe"]
        citizen = citizens[holder["soDinhDanh"]]
        assert holder["hoTen"] == citizen["ho_ten"] and holder["ngaySinh"] == vietnamese_date(citizen["ngay_sinh"])
        assert card["maSoBhxh"] == records.codes[holder["soDinhDanh"]]
        assert card["noiDangKyKCB"] == {"ma": card["noiDangKyKCB"]["ma"], "ten": FACILITIES[card["noiDangKyKCB"]["ma"]]}
    for code, participant in records.participants.items():
        card = next((c for c in records.cards.values() if c["maSoBhxh"] == code), None)
        assert card is None or card["chuThe"] == participant["nguoiThamGia"]


def test_children_under_six_have_free_cards_until_their_sixth_birthday(
    records: VssRecords, citizens: dict[str, dict[str, Any]]
) -> None:
    cards = {card["chuThe"]["soDinhDanh"]: card for card in records.cards.values()}
    children = 0
    for pid, citizen in citizens.items():
        born = PartialDate.parse(citizen["ngay_sinh"]).latest()
        if years_after(born, 6) > TODAY and citizen["ngay_mat"] is None:
            children += 1
            card = cards[pid]
            assert (card["maDoiTuong"], card["mucHuong"]) == ("TE", 1)
            assert _span(card) == (born, years_after(born, 6) - timedelta(days=1))
    assert children > 0
    assert all(
        years_after(PartialDate.parse(citizens[pid]["ngay_sinh"]).latest(), 6) > _span(card)[1]
        for pid, card in cards.items()
        if card["maDoiTuong"] == "TE"
    )


def test_no_card_is_valid_after_its_holders_death(records: VssRecords, citizens: dict[str, dict[str, Any]]) -> None:
    dead = [c for c in records.cards.values() if citizens[c["chuThe"]["soDinhDanh"]]["ngay_mat"] is not None]
    assert dead
    for card in dead:
        assert _span(card)[1] <= citizens[card["chuThe"]["soDinhDanh"]]["ngay_mat"]


def test_cards_follow_the_social_insurance_status(records: VssRecords) -> None:
    cards = {card["maSoBhxh"]: card for card in records.cards.values()}
    for code, participant in records.participants.items():
        if participant["trangThai"] == "DANG_DONG":
            assert (cards[code]["maDoiTuong"], card_status(cards[code], TODAY)) == ("DN", "CON_HAN")
        elif participant["trangThai"] == "HUONG_LUONG_HUU":
            assert (cards[code]["maDoiTuong"], cards[code]["mucHuong"]) == ("HT", 3)


def test_old_card_codes_only_on_cards_that_ended_before_april_2021(records: VssRecords) -> None:
    old = [card for card in records.cards.values() if len(card["maThe"]) == 15]
    assert old
    for code, card in records.cards.items():
        if len(code) == 15:
            assert _span(card)[1] < NEW_CARD_CODES_FROM
            assert code == f"{card['maDoiTuong']}{card['mucHuong']}{card['maSoBhxh'][:2]}{card['maSoBhxh']}"
        else:
            assert code == card["maSoBhxh"] and _span(card)[1] >= NEW_CARD_CODES_FROM


@pytest.mark.parametrize(
    ("offset", "expected"), [(-1, "CHUA_CO_HIEU_LUC"), (0, "CON_HAN"), (365, "CON_HAN"), (366, "HET_HAN")]
)
def test_card_status(offset: int, expected: str) -> None:
    card = {"giaTriTu": "2024-01-01", "giaTriDen": "2024-12-31"}
    assert card_status(card, date(2024, 1, 1) + timedelta(days=offset)) == expected


# -- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(records: VssRecords) -> Iterator[SimulatorServer]:
    clock = {"today": TODAY}
    with SimulatorServer(VssApi(records, today=lambda: clock["today"])) as live:
        live.clock = clock  # type: ignore[attr-defined]
        yield live


@pytest.fixture
def http(server: SimulatorServer) -> Iterator[httpx.Client]:
    server.api.reset()  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url, timeout=5) as client:
        data = {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_AUTH.client_id,
            "client_secret": DEFAULT_AUTH.client_secret,
        }
        token = client.post("/oauth/token", data=data).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_the_status_is_computed_on_the_apis_clock(
    http: httpx.Client, server: SimulatorServer, records: VssRecords
) -> None:
    code, card = next((k, c) for k, c in sorted(records.cards.items()) if c["maDoiTuong"] == "GD")
    valid_from, valid_to = _span(card)
    for day, status in (
        (valid_from - timedelta(days=1), "CHUA_CO_HIEU_LUC"),
        (valid_to, "CON_HAN"),
        (valid_to + timedelta(days=1), "HET_HAN"),
    ):
        server.clock["today"] = day  # type: ignore[attr-defined]
        body = http.get(f"/api/bhyt/v2/the/{code}").json()
        assert body["maKetQua"] == "000" and body["duLieu"]["trangThai"] == status
    server.clock["today"] = TODAY  # type: ignore[attr-defined]


def test_cards_by_old_code_by_holder_and_unknown(http: httpx.Client, records: VssRecords) -> None:
    old = next(code for code in sorted(records.cards) if len(code) == 15)
    assert http.get(f"/api/bhyt/v2/the/{old}").json()["duLieu"]["maThe"] == old
    pid = records.cards[old]["chuThe"]["soDinhDanh"]
    found = http.get("/api/bhyt/v2/the", params={"soDinhDanh": pid}).json()["duLieu"]
    assert [c["maThe"] for c in found["danhSach"]] == [old] and found["tongSo"] == 1
    missing = http.get("/api/bhyt/v2/the/DN4999999999999")
    assert missing.status_code == 404 and missing.json()["maKetQua"] == "010"
    refused = http.get("/api/bhyt/v2/the", params={"hoTen": "A"})
    assert refused.status_code == 400 and refused.json()["maKetQua"] == "020"
