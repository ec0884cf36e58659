"""The simulated judicial records service: its requests agree with the population, and it speaks SOAP 1.1."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from judicial_records_fixtures import CITIZENS, SEED, TODAY, citizens, requests
from lxml import etree

from connectors.judicial_records import JudicialRecordsConnector
from connectors.judicial_records import mapping as service_mapping
from contracts.dates import PartialDate
from contracts.judicial_records import CertificateRequest
from simulators.http import SimulatorServer
from simulators.judicial_records_soap import (
    NAMESPACE,
    SERVICE_PATH,
    STATUS_CODES,
    JudicialRecordsService,
    SoapCredentials,
    generate_requests,
)
from simulators.population import generate_citizens
from simulators.sectors import SECTOR_SYSTEMS, SectorContext, load_sector_system

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


# -- consistency with the population -------------------------------------------------------------------------


def test_every_applicant_is_a_citizen_as_registered() -> None:
    people = {row["so_dinh_danh"]: row for row in citizens()}
    assert requests()
    for request in requests():
        citizen = people[request["so_dinh_danh"]]
        assert (request["ho_ten"], request["ngay_sinh"], request["gioi_tinh"]) == (
            citizen["ho_ten"],
            citizen["ngay_sinh"],
            citizen["gioi_tinh"],
        )
        assert request["ma_co_quan"] == f"STP{citizen['thuong_tru_tinh']}"


def test_applicants_are_adults_and_alive() -> None:
    people = {row["so_dinh_danh"]: row for row in citizens()}
    dead_applicants = 0
    for request in requests():
        citizen = people[request["so_dinh_danh"]]
        born_latest = PartialDate.parse(citizen["ngay_sinh"]).latest()
        assert request["ngay_tiep_nhan"] >= _years_later(born_latest, 18), "a minor asked for a certificate"
        death = citizen["ngay_mat"]
        if death is not None:
            dead_applicants += 1
            assert request["ngay_tiep_nhan"] < death
            assert request["ngay_cap"] is None or request["ngay_cap"] < death
    dead = [row for row in citizens() if row["ngay_mat"] is not None]
    assert dead, "the population has deaths to check against"
    assert dead_applicants < len(requests())


def test_requests_follow_the_law_and_the_calendar() -> None:
    numbers = [request["so_ho_so"] for request in requests()]
    assert len(set(numbers)) == len(numbers)
    for request in requests():
        assert _years_later(TODAY, -3) <= request["ngay_tiep_nhan"] <= TODAY
        status = STATUS_CODES[request["trang_thai"]]
        if status == "issued":
            assert timedelta(days=3) <= request["ngay_cap"] - request["ngay_tiep_nhan"] <= timedelta(days=10)
            assert request["ngay_cap"] <= TODAY and request["co_an_tich"] is not None
        else:
            assert request["ngay_cap"] is None and request["co_an_tich"] is None
        if status in {"received", "processing"}:
            assert TODAY - request["ngay_tiep_nhan"] < timedelta(days=10)
        assert request["so_ho_so"].startswith(f"LLTP-{request['ma_co_quan'][3:]}-{request['ngay_tiep_nhan'].year}-")
    statuses = Counter(STATUS_CODES[request["trang_thai"]] for request in requests())
    assert statuses["issued"] > statuses["refused"] > 0
    assert Counter(request["loai_phieu"] for request in requests()).keys() == {1, 2}


def test_every_request_fits_the_contract() -> None:
    genders = {1: "male", 2: "female"}
    for request in requests():
        record = CertificateRequest.model_validate(
            {
                "request_number": request["so_ho_so"],
                "applicant": {
                    "personal_id": request["so_dinh_danh"],
                    "full_name": request["ho_ten"],
                    "date_of_birth": request["ngay_sinh"],
                    "gender": genders[request["gioi_tinh"]],
                },
                "certificate_type": request["loai_phieu"],
                "purpose": request["muc_dich"],
                "requested_on": request["ngay_tiep_nhan"],
                "issued_on": request["ngay_cap"],
                "status": STATUS_CODES[request["trang_thai"]],
                "issuing_authority": request["ma_co_quan"][3:],
                "states_criminal_record": request["co_an_tich"],
            }
        )
        assert record.problems(TODAY) == []


def test_requests_are_a_function_of_citizens_seed_and_today() -> None:
    again = generate_requests(generate_citizens(CITIZENS, seed=SEED, today=TODAY), seed=SEED, today=TODAY)
    assert tuple(again) == requests()
    other = generate_requests(citizens(), seed=SEED + 1, today=TODAY)
    assert [r["so_ho_so"] for r in other] != [r["so_ho_so"] for r in requests()]


# -- the SOAP service ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(JudicialRecordsService(requests())) as live:
        yield live


def _envelope(operation: str, *, password: str | None = "sim-lltp-password", doctype: str = "") -> bytes:
    security = ""
    if password is not None:
        security = (
            f'<soap:Header><wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken>'
            f"<wsse:Username>{SoapCredentials().username}</wsse:Username>"
            f"<wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>"
        )
    return (
        f'<?xml version="1.0"?>{doctype}<soap:Envelope xmlns:soap="{SOAP}" xmlns:l="{NAMESPACE}">{security}'
        f"<soap:Body>{operation}</soap:Body></soap:Envelope>"
    ).encode()


def _fault_code(response: httpx.Response) -> str:
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    code = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault/faultcode")
    assert code is not None and code.text
    prefix, _, local = code.text.partition(":")
    return f"{{{code.nsmap[prefix]}}}{local}"


def test_the_wsdl_names_the_address_it_was_fetched_from(server: SimulatorServer) -> None:
    response = httpx.get(f"{server.url}{SERVICE_PATH}?wsdl")
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None and address.get("location") == f"{server.url}{SERVICE_PATH}"
    assert root.get("targetNamespace") == NAMESPACE == service_mapping.NAMESPACE
    assert httpx.get(f"{server.url}{SERVICE_PATH}").status_code == 405


def test_a_request_is_answered_with_the_record(server: SimulatorServer) -> None:
    row = requests()[0]
    body = _envelope(f"<l:TraCuuHoSo><l:SoHoSo>{row['so_ho_so']}</l:SoHoSo></l:TraCuuHoSo>")
    response = httpx.post(f"{server.url}{SERVICE_PATH}", content=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    ns = {"soap": SOAP, "l": NAMESPACE}
    assert root.xpath("string(soap:Body/l:TraCuuHoSoResponse/l:HoSo/l:SoHoSo)", namespaces=ns) == row["so_ho_so"]
    assert root.xpath("string(//l:NguoiYeuCau/l:HoTen)", namespaces=ns) == row["ho_ten"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            _envelope("<l:TraCuuHoSo><l:SoHoSo>LLTP-68-2020-999999</l:SoHoSo></l:TraCuuHoSo>"),
            f"{{{NAMESPACE}}}KhongTimThay",
        ),
        (_envelope("<l:TraCuuHoSo/>"), f"{{{SOAP}}}Client"),
        (_envelope("<l:XoaHoSo/>"), f"{{{SOAP}}}Client"),
        (
            _envelope(
                "<l:TimKiemHoSo><l:SoDinhDanh>068099000000</l:SoDinhDanh><l:Trang>1</l:Trang>"
                "<l:SoBanGhi>51</l:SoBanGhi></l:TimKiemHoSo>"
            ),
            f"{{{SOAP}}}Client",
        ),
        (_envelope("<l:KiemTraTrangThai/>", password="wrong"), f"{{{WSSE}}}FailedAuthentication"),
        (_envelope("<l:KiemTraTrangThai/>", password=None), f"{{{WSSE}}}FailedAuthentication"),
        (_envelope("<l:KiemTraTrangThai/>", doctype='<!DOCTYPE x [<!ENTITY e "e">]>'), f"{{{SOAP}}}Client"),
        (b"<not-xml", f"{{{SOAP}}}Client"),
    ],
)
def test_bad_requests_are_answered_with_faults(server: SimulatorServer, body: bytes, code: str) -> None:
    response = httpx.post(f"{server.url}{SERVICE_PATH}", content=body, headers={"Content-Type": "text/xml"})
    assert _fault_code(response) == code


# -- the simulated system ------------------------------------------------------------------------------------


def test_the_sector_system_starts_a_service_the_connector_reads(tmp_path: Path) -> None:
    assert SECTOR_SYSTEMS["judicial_records"] == "simulators.judicial_records_soap:JUDICIAL_RECORDS"
    system = load_sector_system("judicial_records")
    assert (system.database, system.connector, system.protocol) == ("judicial_records", "judicial_records", "soap")

    async def read(config: dict[str, Any], key: str) -> CertificateRequest:
        async with JudicialRecordsConnector.from_config(config) as connector:
            record = await connector.get(key)
            assert isinstance(record, CertificateRequest)
            return record

    row = requests()[-1]
    with ExitStack() as stack:
        context = SectorContext(data_dir=tmp_path, citizens=CITIZENS, seed=SEED, today=TODAY, stack=stack)
        config = asyncio.run(system.start(context))
        record = asyncio.run(read(config, row["so_ho_so"]))
    assert record.applicant.personal_id == row["so_dinh_danh"]
    assert (tmp_path / "judicial_records.json").is_file()
    # A later start serves the same requests, as the population keeps its first citizens, whatever the size.
    with ExitStack() as stack:
        context = SectorContext(data_dir=tmp_path, citizens=10, seed=SEED, today=date(2026, 11, 1), stack=stack)
        again = asyncio.run(read(asyncio.run(system.start(context)), row["so_ho_so"]))
    assert again == record
