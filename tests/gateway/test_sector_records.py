"""Reading and searching every sector database through the gateway, over HTTP with a token: one gateway serves the
whole catalogue of sector systems below, each seeded or started as the demo would (SQL databases seeded by their
simulators, the REST and SOAP simulators on 127.0.0.1), with deep health checks (a canary record declared and found).

Each sector's check reads a record and compares it with what its simulator stored, searches (over several pages
where the sector pages), and asks for an unknown and a malformed key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import judicial_records_fixtures as judicial
import pytest
import sector_rest_fixtures as rest
from sector_gateway import canary_found
from support import STATED, ClientCredentials, LiveServer, fetch_token

from contracts.civil_status import CivilStatusRegistration
from contracts.dates import vietnam_today
from contracts.driving_licences import DrivingLicence
from contracts.land import LandParcel
from contracts.vehicles import VehicleRegistration
from gateway.core.settings import Settings
from gateway.demo import declare_canary
from gateway.http.app import create_app
from simulators.civil_status import generate_registrations, seed_civil_status
from simulators.driving_licence_api import DEFAULT_AUTH, DrivingLicenceApi, generate_licences
from simulators.education import generate_diplomas, seed_education
from simulators.http import SimulatorServer
from simulators.judicial_records_soap import STATUS_CODES
from simulators.land import generate_parcels, seed_land
from simulators.legal_documents import generate_documents, seed_legal_documents
from simulators.population import generate_citizens
from simulators.sectors import SectorContext, load_sector_system
from simulators.tax_api import build_taxpayers
from simulators.vehicles import generate_vehicles, seed_vehicles
from simulators.vss_api.records import build_vss_records, card_status

#: The SQL sectors' seeding: citizens and the date their simulators take as today.
COUNT = 600
SEED = 68
SQL_TODAY = date(2025, 11, 1)
EDUCATION_TODAY = date(2026, 6, 30)
LEGAL_TODAY = date(2026, 6, 30)


@dataclass(frozen=True)
class Started:
    """A sector system started for the gateway: its connector's configuration (and connector name when the
    system's is not the database's), and whether the demo's canary sampling applies (the SQL systems)."""

    config: dict[str, Any]
    connector: str | None = None
    sample_canary: bool = False


Start = Callable[[Path, ExitStack], Started]
Check = Callable[[httpx.Client, dict[str, str]], None]


@dataclass(frozen=True)
class Sector:
    start: Start
    check: Check


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


def _demo_system(database: str) -> Start:
    """A sector system started the way the demo starts it (its :class:`~simulators.sectors.SectorSystem`)."""

    def start(directory: Path, stack: ExitStack) -> Started:
        fixtures = judicial if database == "judicial_records" else rest
        context = SectorContext(
            data_dir=directory, citizens=fixtures.CITIZENS, seed=fixtures.SEED, today=fixtures.TODAY, stack=stack
        )
        system = load_sector_system(database)
        return Started(asyncio.run(system.start(context)), connector=system.connector)

    return start


def _seeded(seed: Callable[[str], Any]) -> Start:
    """A SQLite database seeded by ``seed(url)``."""

    def start(directory: Path, stack: ExitStack) -> Started:
        url = f"sqlite:///{directory / 'sector.db'}"
        asyncio.run(seed(url))
        return Started({"url": url}, sample_canary=True)

    return start


# --- civil status -------------------------------------------------------------------------------------------------


def check_civil_status(http: httpx.Client, headers: dict[str, str]) -> None:
    base = "/v1/databases/civil_status"
    rows = generate_registrations(COUNT, seed=SEED, today=SQL_TODAY)
    marriage = next(r for r in rows if r["loai_dang_ky"] == "KH")
    response = http.get(f"{base}/records/{marriage['ma_dang_ky']}", headers=headers)
    assert response.status_code == 200, response.text
    record = CivilStatusRegistration.model_validate(response.json())
    assert record.kind == "marriage" and record.marriage is not None
    assert record.marriage.husband.personal_id == marriage["kh_chong_so_dinh_danh"]
    assert record.marriage.wife.full_name == marriage["kh_vo_ho_ten"]
    assert record.registration_date == marriage["ngay_dang_ky"]

    child = next(r for r in rows if r["loai_dang_ky"] == "KS" and r["ks_dinh_danh_me"])
    response = http.post(f"{base}/search", json={"personal_id": child["so_dinh_danh"]}, headers=headers)
    assert response.status_code == 200, response.text
    page = response.json()
    expected = sorted(r["ma_dang_ky"] for r in rows if r["so_dinh_danh"] == child["so_dinh_danh"])
    assert [item["registration_id"] for item in page["items"]] == expected
    assert page["items"][0]["birth"]["mother_personal_id"] == child["ks_dinh_danh_me"]

    response = http.get(f"{base}/records/KS-24781-1985-999999", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    response = http.get(f"{base}/records/not-an-id", headers=headers)
    assert response.status_code == 422
    response = http.post(f"{base}/search", json={"kind": "birth"}, headers=headers)
    assert response.status_code == 422


# --- driving licences ---------------------------------------------------------------------------------------------


def _licences() -> list[dict[str, Any]]:
    return generate_licences(generate_citizens(COUNT, seed=SEED, today=SQL_TODAY), seed=SEED, today=SQL_TODAY)


def start_driving_licences(directory: Path, stack: ExitStack) -> Started:
    licences = _licences()
    api = stack.enter_context(SimulatorServer(DrivingLicenceApi(licences)))
    canary = min(licence["so_gplx"] for licence in licences)
    return Started({"base_url": api.url, "auth": DEFAULT_AUTH.connector_auth(), "canary": canary}, sample_canary=True)


def check_driving_licences(http: httpx.Client, headers: dict[str, str]) -> None:
    base = "/v1/databases/driving_licences"
    licences = _licences()
    lic = next(x for x in licences if len(x["hang_gplx"]) > 1)
    response = http.get(f"{base}/records/{lic['so_gplx']}", headers=headers)
    assert response.status_code == 200, response.text
    record = DrivingLicence.model_validate(response.json())
    assert record.holder.personal_id == lic["nguoi_lai"]["so_cccd"]
    assert [c.licence_class for c in record.classes] == [c["hang"] for c in lic["hang_gplx"]]
    assert [c.expiry_date and c.expiry_date.isoformat() for c in record.classes] == [
        c["ngay_het_han"] for c in lic["hang_gplx"]
    ]

    revoked = next(x for x in licences if x["trang_thai"] == "THU_HOI")
    holder = revoked["nguoi_lai"]["so_cccd"]
    response = http.post(f"{base}/search", json={"holder_personal_id": holder}, headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["licence_number"], i["status"]) for i in items] == [(revoked["so_gplx"], "revoked")]

    response = http.get(f"{base}/records/680000000000", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert http.get(f"{base}/records/68-0000", headers=headers).status_code == 422
    assert http.post(f"{base}/search", json={"holder_personal_id": "12"}, headers=headers).status_code == 422


# --- education ----------------------------------------------------------------------------------------------------


def check_education(http: httpx.Client, headers: dict[str, str]) -> None:
    base = "/v1/databases/education"
    rows = generate_diplomas(COUNT, seed=SEED, today=EDUCATION_TODAY)
    stored = next(r for r in rows if r["cap_hoc"] == "DH")
    response = http.get(f"{base}/records/{stored['so_hieu']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "diploma_number": stored["so_hieu"],
        "holder": {
            "personal_id": stored["so_dinh_danh"],
            "full_name": stored["ho_ten"],
            "date_of_birth": stored["ngay_sinh"],
            "gender": {1: "male", 2: "female"}[stored["gioi_tinh"]],
        },
        "level": "bachelor",
        "school_name": stored["ten_truong"],
        "major": stored["nganh"],
        "graduation_year": stored["nam_tot_nghiep"],
        "classification": {"XS": "excellent", "G": "very_good", "K": "good", "TB": "average"}[stored["xep_loai"]],
        "issued_on": stored["ngay_cap"].isoformat(),
    }

    holder = stored["so_dinh_danh"]
    found = _search_all(http, headers, "education", {"holder_personal_id": holder, "page_size": 1})
    assert sorted(item["diploma_number"] for item in found) == sorted(
        r["so_hieu"] for r in rows if r["so_dinh_danh"] == holder
    )
    assert len(found) >= 3  # lower and upper secondary before the bachelor's
    secondary = _search_all(http, headers, "education", {"holder_personal_id": holder, "level": "upper_secondary"})
    assert [item["level"] for item in secondary] == ["upper_secondary"]

    missing = http.get(f"{base}/records/DH-TDL-1999-999999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/record-not-found"
    assert http.get(f"{base}/records/DH-TDL-1999", headers=headers).status_code == 422
    assert http.post(f"{base}/search", json={"level": "master"}, headers=headers).status_code == 422


# --- judicial records (SOAP) --------------------------------------------------------------------------------------


def check_judicial_records(http: httpx.Client, headers: dict[str, str]) -> None:
    records, search = "/v1/databases/judicial_records/records", "/v1/databases/judicial_records/search"
    stored = next(r for r in judicial.requests() if STATUS_CODES[r["trang_thai"]] == "issued")
    response = http.get(f"{records}/{stored['so_ho_so']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "request_number": stored["so_ho_so"],
        "applicant": {
            "personal_id": stored["so_dinh_danh"],
            "full_name": stored["ho_ten"],
            "date_of_birth": stored["ngay_sinh"],
            "gender": {1: "male", 2: "female"}[stored["gioi_tinh"]],
        },
        "certificate_type": stored["loai_phieu"],
        "purpose": stored["muc_dich"],
        "requested_on": stored["ngay_tiep_nhan"].isoformat(),
        "issued_on": stored["ngay_cap"].isoformat(),
        "status": "issued",
        "issuing_authority": stored["ma_co_quan"][3:],
        "states_criminal_record": stored["co_an_tich"],
    }

    person = stored["so_dinh_danh"]
    found = _search_all(http, headers, "judicial_records", {"applicant_personal_id": person, "page_size": 1})
    expected = sorted(r["so_ho_so"] for r in judicial.requests() if r["so_dinh_danh"] == person)
    assert sorted(item["request_number"] for item in found) == expected
    issued = _search_all(http, headers, "judicial_records", {"applicant_personal_id": person, "status": "issued"})
    assert {item["status"] for item in issued} == {"issued"}

    missing = http.get(f"{records}/LLTP-68-2020-999999", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/problems/record-not-found"
    assert http.get(f"{records}/LLTP-68-2020-99", headers=headers).status_code == 422
    assert http.post(search, json={"status": "issued"}, headers=headers).status_code == 422
    assert http.get(f"{records}/{stored['so_ho_so']}").status_code == 401


# --- land ---------------------------------------------------------------------------------------------------------


def check_land(http: httpx.Client, headers: dict[str, str]) -> None:
    base = "/v1/databases/land"
    rows = generate_parcels(COUNT, seed=SEED, today=SQL_TODAY)
    mixed = next(r for r in rows if r["muc_dich_su_dung"] == "ONT+CLN" and r["chu_2_so_dinh_danh"])
    response = http.get(f"{base}/records/{mixed['ma_thua']}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    record = LandParcel.model_validate(body)
    assert body["land_use"] == ["ONT", "CLN"]
    assert record.certificate_serial == mixed["so_phat_hanh_gcn"]
    assert record.co_owner is not None and record.co_owner.personal_id == mixed["chu_2_so_dinh_danh"]

    spouse = mixed["chu_2_so_dinh_danh"]
    response = http.post(f"{base}/search", json={"owner_personal_id": spouse, "page_size": 1}, headers=headers)
    assert response.status_code == 200, response.text
    expected = sorted(r["ma_thua"] for r in rows if spouse in (r["chu_1_so_dinh_danh"], r["chu_2_so_dinh_danh"]))
    page = response.json()
    assert [item["parcel_id"] for item in page["items"]] == expected[:1]
    assert (page["next_cursor"] is not None) == (len(expected) > 1)

    response = http.get(f"{base}/records/24781-99-99", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert http.get(f"{base}/records/24781-12", headers=headers).status_code == 422
    assert http.post(f"{base}/search", json={"certificate_serial": "AA1"}, headers=headers).status_code == 422


# --- legal documents ----------------------------------------------------------------------------------------------


def check_legal_documents(http: httpx.Client, headers: dict[str, str]) -> None:
    base = "/v1/databases/legal_documents"
    rows = generate_documents(seed=SEED, today=LEGAL_TODAY)
    stored = next(r for r in rows if r["tinh_trang"] == "4" and r["loai_van_ban"] == "NQ")
    response = http.get(f"{base}/records/{stored['id_van_ban']}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "document_id": stored["id_van_ban"],
        "number": stored["so_ky_hieu"],
        "document_type": "resolution",
        "issuing_body": "peoples_council",
        "jurisdiction": {"province_code": "68", "ward_code": None, "province_name": "Lâm Đồng", "ward_name": None},
        "title": stored["trich_yeu"],
        "signed_on": stored["ngay_ban_hanh"].isoformat(),
        "effective_on": stored["ngay_hieu_luc"].isoformat(),
        "status": "expired",
        "expired_on": stored["ngay_het_hieu_luc"].isoformat(),
    }

    found = _search_all(http, headers, "legal_documents", {"number": stored["so_ky_hieu"], "page_size": 1})
    assert stored["id_van_ban"] in [item["document_id"] for item in found]
    assert {item["number"] for item in found} == {stored["so_ky_hieu"]}
    pending = _search_all(
        http, headers, "legal_documents", {"province_code": "68", "status": "not_yet_in_force", "page_size": 3}
    )
    assert sorted(item["document_id"] for item in pending) == sorted(
        r["id_van_ban"] for r in rows if r["tinh_trang"] == "1"
    )

    missing = http.get(f"{base}/records/999999999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/record-not-found"
    assert http.get(f"{base}/records/0123", headers=headers).status_code == 422
    assert http.post(f"{base}/search", json={"status": "expired"}, headers=headers).status_code == 422


# --- vehicles -----------------------------------------------------------------------------------------------------


def check_vehicles(http: httpx.Client, headers: dict[str, str]) -> None:
    base = "/v1/databases/vehicles"
    rows = generate_vehicles(COUNT, seed=SEED, today=SQL_TODAY)
    car = next(r for r in rows if r["loai_xe"] == 1)
    response = http.get(f"{base}/records/{car['bien_so']}", headers=headers)
    assert response.status_code == 200, response.text
    record = VehicleRegistration.model_validate(response.json())
    assert record.vehicle_type == "car"
    assert (record.brand, record.model, record.engine_number) == (car["nhan_hieu"], car["so_loai"], car["so_may"])
    assert record.owner.personal_id == car["chu_xe_so_dinh_danh"]

    owner = car["chu_xe_so_dinh_danh"]
    response = http.post(f"{base}/search", json={"owner_personal_id": owner}, headers=headers)
    assert response.status_code == 200, response.text
    expected = sorted(r["bien_so"] for r in rows if r["chu_xe_so_dinh_danh"] == owner)
    assert [item["plate_number"] for item in response.json()["items"]] == expected

    response = http.get(f"{base}/records/49A-999.99", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    response = http.get(f"{base}/records/49A 123.45", headers=headers)  # printed so: the key 49A-123.45
    assert response.status_code == 404
    response = http.get(f"{base}/records/49A12345", headers=headers)  # 49A-123.45 or 49A1-2345: not a plate
    assert response.status_code == 422
    response = http.post(f"{base}/search", json={}, headers=headers)
    assert response.status_code == 422


# --- social insurance, business, health insurance, tax (REST) -----------------------------------------------------


def check_social_insurance(http: httpx.Client, headers: dict[str, str]) -> None:
    citizens, enterprises = rest.world()
    records = build_vss_records(citizens, enterprises, seed=rest.SEED, today=rest.TODAY)
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


def check_business(http: httpx.Client, headers: dict[str, str]) -> None:
    enterprises = rest.world()[1]
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


def check_health_insurance(http: httpx.Client, headers: dict[str, str]) -> None:
    citizens, enterprises = rest.world()
    records = build_vss_records(citizens, enterprises, seed=rest.SEED, today=rest.TODAY)
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
                card_status(stored, vietnam_today())
            ]
        )
        found = _search_all(http, headers, "health_insurance", {"personal_id": body["holder"]["personal_id"]})
        assert [item["card_code"] for item in found] == [code]
    _not_found(http, headers, "health_insurance", "9999999999")
    assert http.get("/v1/databases/health_insurance/records/XX9999", headers=headers).status_code == 422


def check_tax(http: httpx.Client, headers: dict[str, str]) -> None:
    citizens, enterprises = rest.world()
    vss = build_vss_records(citizens, enterprises, seed=rest.SEED, today=rest.TODAY)
    taxpayers = build_taxpayers(citizens, enterprises, vss, seed=rest.SEED, today=rest.TODAY)
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


# --- the catalogue ------------------------------------------------------------------------------------------------

#: Every sector database served beside the population register (``tests/gateway/test_records.py``), by name.
SECTORS: dict[str, Sector] = {
    "civil_status": Sector(
        _seeded(lambda url: seed_civil_status(url, count=COUNT, seed=SEED, today=SQL_TODAY)), check_civil_status
    ),
    "driving_licences": Sector(start_driving_licences, check_driving_licences),
    "education": Sector(
        _seeded(lambda url: seed_education(url, count=COUNT, seed=SEED, today=EDUCATION_TODAY)), check_education
    ),
    "judicial_records": Sector(_demo_system("judicial_records"), check_judicial_records),
    "land": Sector(_seeded(lambda url: seed_land(url, count=COUNT, seed=SEED, today=SQL_TODAY)), check_land),
    "legal_documents": Sector(
        _seeded(lambda url: seed_legal_documents(url, seed=SEED, today=LEGAL_TODAY)), check_legal_documents
    ),
    "vehicles": Sector(
        _seeded(lambda url: seed_vehicles(url, count=COUNT, seed=SEED, today=SQL_TODAY)), check_vehicles
    ),
    "social_insurance": Sector(_demo_system("social_insurance"), check_social_insurance),
    "business": Sector(_demo_system("business"), check_business),
    "health_insurance": Sector(_demo_system("health_insurance"), check_health_insurance),
    "tax": Sector(_demo_system("tax"), check_tax),
}


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """One gateway serving every sector of :data:`SECTORS` (and not the population register), an HTTP client on
    it, and the headers of a client allowed to read and search them all (token, purpose, actor)."""
    with ExitStack() as stack:
        connectors: dict[str, Any] = {"population": {"enabled": False}}
        for database, sector in SECTORS.items():
            started = sector.start(tmp_path_factory.mktemp(database), stack)
            connector = started.connector or database
            config = dict(started.config)
            if started.sample_canary:
                assert asyncio.run(declare_canary(connector, config)) is not None, f"no canary record for {database}"
            # The health checks are deep: each connector finds its canary record.
            assert asyncio.run(canary_found(connector, config)), f"the canary record of {database} is not found"
            connectors[database] = {"config": config} | ({"connector": connector} if started.connector else {})
        settings = make_settings(connectors=connectors)
        credentials = make_client(
            *(f"{database}:{operation}" for database in SECTORS for operation in ("read", "search"))
        )
        with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
            token = fetch_token(http, credentials)
            yield http, {"Authorization": f"Bearer {token}", **STATED}


@pytest.mark.parametrize("database", list(SECTORS))
def test_read_search_and_not_found(gateway: tuple[httpx.Client, dict[str, str]], database: str) -> None:
    http, headers = gateway
    SECTORS[database].check(http, headers)


def test_the_gateway_serves_the_whole_catalogue(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    """Every sector of the catalogue is served and reachable through its connector, and nothing else is."""
    http, _ = gateway
    response = http.get("/readyz")
    assert response.status_code == 200, response.text
    connectors = response.json()["checks"]["connectors"]
    assert set(connectors) == set(SECTORS)
    assert all(check["loaded"] and check["reachable"] for check in connectors.values()), connectors
