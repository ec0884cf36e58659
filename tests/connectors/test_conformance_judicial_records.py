"""The conformance kit applied to the judicial records connector and to the generic SOAP connector (both mapping
styles), against the simulated judicial records SOAP service served for real on 127.0.0.1."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from judicial_records_fixtures import planted_requests
from sector_conformance import simulated_test_class

from connectors.judicial_records import JudicialRecordsConnector
from connectors.soap import SoapConnector
from connectors.testing import SearchCase
from contracts.judicial_records import CertificateRequestQuery, RequestStatus
from simulators.judicial_records_soap import (
    STATUS_CODES,
    JudicialRecordsService,
    judicial_records_config,
    soap_connector_config,
)

FLAWED = 6
"""Requests handed to a second applicant, of which every third breaks the contract (a certificate type that does
not exist), as real sector data may: a search finding them serves the others (the kit's search rules)."""


@functools.cache
def flawed_requests() -> tuple[tuple[dict[str, Any], ...], str, list[str], list[str]]:
    """:func:`planted_requests` with ``FLAWED`` more requests handed to a second applicant (none of the other
    searches' or known records): the rows, the applicant's personal id, the sound and the broken request numbers."""
    rows, planted = planted_requests()
    rows_ = [dict(row) for row in rows]
    kept = {rows_[0]["so_dinh_danh"], planted, next(r["so_dinh_danh"] for r in rows_ if r["so_dinh_danh"] != planted)}
    applicant = next(r for r in reversed(rows_) if r["so_dinh_danh"] not in kept)
    free = [r for r in rows_ if r["ma_co_quan"] == applicant["ma_co_quan"] and r["so_dinh_danh"] not in kept]
    chosen = [r for r in free if r["trang_thai"] not in {1, 2, 3}][:FLAWED]
    assert len(chosen) == FLAWED
    for n, row in enumerate(chosen):
        for column in ("so_dinh_danh", "ho_ten", "ngay_sinh", "gioi_tinh"):
            row[column] = applicant[column]
        if n % 3 == 1:
            row["loai_phieu"] = 7
    numbers = [str(r["so_ho_so"]) for r in rows_ if r["so_dinh_danh"] == applicant["so_dinh_danh"]]
    broken = [str(r["so_ho_so"]) for r in chosen if r["loai_phieu"] == 7]
    return tuple(rows_), str(applicant["so_dinh_danh"]), [n for n in numbers if n not in broken], broken


@pytest.fixture(scope="module")
def simulated_api() -> Callable[..., JudicialRecordsService]:
    rows, *_ = flawed_requests()
    return functools.partial(JudicialRecordsService, rows)


@pytest.fixture(scope="module")
def known_ids() -> list[str]:
    rows, planted = planted_requests()
    issued = next(r for r in rows if r["trang_thai"] == 3 and r["so_dinh_danh"] != planted)
    pending = next(r for r in rows if r["trang_thai"] in {1, 2})
    return [rows[0]["so_ho_so"], issued["so_ho_so"], pending["so_ho_so"]]


@pytest.fixture(scope="module")
def searches() -> list[SearchCase]:
    rows, planted = planted_requests()
    _, flawed_id, sound, broken = flawed_requests()
    mine = [r for r in rows if r["so_dinh_danh"] == planted]
    issued = [r["so_ho_so"] for r in mine if STATUS_CODES[r["trang_thai"]] == "issued"]
    other = next(r for r in rows if r["so_dinh_danh"] != planted)
    return [
        SearchCase(CertificateRequestQuery(applicant_personal_id=planted), [r["so_ho_so"] for r in mine]),
        SearchCase(CertificateRequestQuery(applicant_personal_id=planted, status=RequestStatus.ISSUED), issued),
        SearchCase(
            CertificateRequestQuery(applicant_personal_id=other["so_dinh_danh"]),
            [r["so_ho_so"] for r in rows if r["so_dinh_danh"] == other["so_dinh_danh"]],
        ),
        SearchCase(CertificateRequestQuery(applicant_personal_id="068099000000"), []),
        SearchCase(CertificateRequestQuery(applicant_personal_id=flawed_id), sound, invalid_ids=broken),
    ]


INVALID: list[dict[str, Any]] = [
    {"wsdl": "ftp://127.0.0.1/x?wsdl"},
    {"wsdl": "/no/such/file.wsdl"},
    {"wsdl": "http://127.0.0.1/x?wsdl", "get": {"operation": "TraCuuHoSo", "record": "lltp:HoSo"}},
    {"wsdl": "http://127.0.0.1/x?wsdl", "fields": {"request_number": "nope:SoHoSo"}},
    {"wsdl": "http://127.0.0.1/x?wsdl", "fields": {"request_number": "lltp:SoHoSo[", "purpose": "lltp:MucDich"}},
]
MISSING_ID = "LLTP-68-2020-999999"

TestJudicialRecords = simulated_test_class(
    JudicialRecordsConnector,
    make_config=judicial_records_config,
    missing_id=MISSING_ID,
    invalid_configs=INVALID,
    entry_point="judicial_records",
)

TestSoapWithXPath = simulated_test_class(
    SoapConnector,
    make_config=functools.partial(soap_connector_config, auth="wsse_digest"),
    missing_id=MISSING_ID,
    entry_point="soap",
)

TestSoapWithZeep = simulated_test_class(
    SoapConnector,
    make_config=functools.partial(soap_connector_config, mapping="zeep"),
    slow_options={"ping": False},
    missing_id=MISSING_ID,
    entry_point="soap",
)
