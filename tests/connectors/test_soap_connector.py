"""The generic SOAP connector against the simulated judicial records service, served for real on 127.0.0.1:
mapping (XPath and zeep), faults, authentication, deadlines, retries, malformed and hostile answers."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from judicial_records_fixtures import requests
from support import free_port, garbage_in_cycles

from connectors.base import (
    BadQuery,
    ConnectorConfigError,
    ContractViolation,
    RecordNotFound,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.soap import SoapConnector
from contracts.judicial_records import CertificateRequest, CertificateRequestQuery, RequestStatus
from simulators.http import SimulatorServer
from simulators.judicial_records_soap import (
    NAMESPACE,
    SERVICE_PATH,
    STATUS_CODES,
    JudicialRecordsService,
    soap_connector_config,
)
from simulators.judicial_records_soap.wsdl import wsdl_document

pytestmark = pytest.mark.anyio

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(JudicialRecordsService(requests())) as live:
        yield live


@pytest.fixture
def service(server: SimulatorServer) -> Iterator[JudicialRecordsService]:
    api = server.api
    assert isinstance(api, JudicialRecordsService)
    api.reset()
    yield api
    api.reset()


def _connector(url: str, **options: Any) -> SoapConnector:
    return SoapConnector.from_config(soap_connector_config(url, **options))


def _row(**where: Any) -> dict[str, Any]:
    return next(row for row in requests() if all(row[key] == value for key, value in where.items()))


def _pending() -> dict[str, Any]:
    return next(row for row in requests() if row["trang_thai"] in {1, 2})


def _record_xml(row: dict[str, Any], **override: str) -> str:
    values = {
        "SoHoSo": row["so_ho_so"],
        "SoDinhDanh": row["so_dinh_danh"],
        "HoTen": row["ho_ten"],
        "NgaySinh": row["ngay_sinh"],
        "GioiTinh": str(row["gioi_tinh"]),
        "LoaiPhieu": str(row["loai_phieu"]),
        "MucDich": row["muc_dich"],
        "NgayTiepNhan": row["ngay_tiep_nhan"].isoformat(),
        "TrangThai": str(row["trang_thai"]),
        "MaCoQuan": row["ma_co_quan"],
    } | override
    person = "".join(f"<l:{k}>{values[k]}</l:{k}>" for k in ("SoDinhDanh", "HoTen", "NgaySinh", "GioiTinh"))
    rest = "".join(f"<l:{k}>{values[k]}</l:{k}>" for k in ("LoaiPhieu", "MucDich", "NgayTiepNhan"))
    tail = "".join(f"<l:{k}>{values[k]}</l:{k}>" for k in ("TrangThai", "MaCoQuan"))
    return (
        f"<l:HoSo><l:SoHoSo>{values['SoHoSo']}</l:SoHoSo><l:NguoiYeuCau>{person}</l:NguoiYeuCau>{rest}{tail}</l:HoSo>"
    )


def _answer(record: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}" xmlns:l="{NAMESPACE}">'
        f"<soap:Body><l:TraCuuHoSoResponse>{record}</l:TraCuuHoSoResponse></soap:Body></soap:Envelope>"
    ).encode()


# -- mapping -------------------------------------------------------------------------------------------------


async def test_both_mapping_styles_give_the_service_values(server: SimulatorServer, service: Any) -> None:
    rows = [_row(trang_thai=3), _pending(), _row(trang_thai=4), _row(loai_phieu=2), _row(co_an_tich=True)]
    async with _connector(server.url) as by_xpath, _connector(server.url, mapping="zeep") as by_zeep:
        for row in rows:
            record = await by_xpath.get(row["so_ho_so"])
            assert isinstance(record, CertificateRequest)
            assert record == await by_zeep.get(row["so_ho_so"])
            assert record.request_number == row["so_ho_so"]
            assert record.applicant.personal_id == row["so_dinh_danh"]
            assert record.applicant.full_name == row["ho_ten"]
            assert str(record.applicant.date_of_birth) == row["ngay_sinh"]
            assert record.applicant.gender == {1: "male", 2: "female"}[row["gioi_tinh"]]
            assert record.certificate_type == row["loai_phieu"]
            assert record.purpose == row["muc_dich"]
            assert record.requested_on == row["ngay_tiep_nhan"]
            assert record.issued_on == row["ngay_cap"]
            assert record.status == STATUS_CODES[row["trang_thai"]]
            assert record.issuing_authority == row["ma_co_quan"].removeprefix("STP")
            assert record.states_criminal_record == row["co_an_tich"]


async def test_search_sends_the_filters_as_arguments(server: SimulatorServer, service: Any) -> None:
    person = _row(trang_thai=3)["so_dinh_danh"]
    expected = sorted(r["so_ho_so"] for r in requests() if r["so_dinh_danh"] == person and r["trang_thai"] == 3)
    query = CertificateRequestQuery(applicant_personal_id=person, status=RequestStatus.ISSUED)
    async with _connector(server.url) as connector:
        page = await connector.search(query, limit=50)
    assert sorted(item.record_id() for item in page.items) == expected
    assert page.next_cursor is None
    assert service.calls["TimKiemHoSo"] == 1


async def test_unknown_query_field_and_forged_cursor_are_bad_queries(server: SimulatorServer, service: Any) -> None:
    config = soap_connector_config(server.url)
    config["search"] = {**config["search"], "filters": {"applicant_personal_id": "SoDinhDanh"}}
    query = CertificateRequestQuery(applicant_personal_id="068099000000", status=RequestStatus.ISSUED)
    async with SoapConnector.from_config(config) as connector:
        with pytest.raises(BadQuery, match="status"):
            await connector.search(query, limit=5)
        with pytest.raises(BadQuery, match="cursor"):
            await connector.search(CertificateRequestQuery(applicant_personal_id="068099000000"), limit=5, cursor="x")


# -- faults --------------------------------------------------------------------------------------------------


async def test_not_found_fault_is_record_not_found(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url) as connector:
        with pytest.raises(RecordNotFound) as info:
            await connector.get("LLTP-68-2020-999999")
    assert "LLTP-68-2020-999999" not in info.value.message
    assert service.calls["TraCuuHoSo"] == 1


async def test_a_fault_not_listed_as_not_found_is_an_error(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url, not_found_faults=[]) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.get("LLTP-68-2020-999999")
    assert not isinstance(info.value, RecordNotFound)
    assert info.value.reason == "protocol"
    assert "KhongTimThay" in info.value.message
    assert "Không tìm thấy" not in info.value.message  # the fault's text is not quoted


async def test_server_fault_is_a_5xx_failure(server: SimulatorServer, service: Any) -> None:
    service.canned = (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>'
        "<faultstring>Lỗi cơ sở dữ liệu: Nguyễn Văn A</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()
    async with _connector(server.url) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.get(_row()["so_ho_so"])
    assert info.value.reason == "status_5xx"
    assert "Nguyễn" not in info.value.message


async def test_soap12_fault_subcode_can_mean_not_found(server: SimulatorServer, service: Any) -> None:
    service.canned = (
        f'<env:Envelope xmlns:env="{SOAP12}" xmlns:l="{NAMESPACE}"><env:Body><env:Fault>'
        "<env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>l:KhongTimThay</env:Value></env:Subcode>"
        '</env:Code><env:Reason><env:Text xml:lang="vi">Không tìm thấy</env:Text></env:Reason>'
        "</env:Fault></env:Body></env:Envelope>"
    ).encode()
    async with _connector(server.url) as connector:
        with pytest.raises(RecordNotFound):
            await connector.get(_row()["so_ho_so"])
        page = await connector.search(CertificateRequestQuery(applicant_personal_id="068099000000"), limit=5)
    assert page.items == [] and page.next_cursor is None


# -- authentication ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("scheme", "config_auth"), [("wsse", "wsse_digest"), ("basic", "basic"), ("bearer", "bearer")])
async def test_authentication_schemes(scheme: str, config_auth: str) -> None:
    row = _row()
    with SimulatorServer(JudicialRecordsService(requests(), auth=scheme)) as live:  # type: ignore[arg-type]
        async with _connector(live.url, auth=config_auth) as connector:
            assert (await connector.get(row["so_ho_so"])).record_id() == row["so_ho_so"]
        async with _connector(live.url, auth="none") as connector:
            with pytest.raises(UpstreamError) as info:
                await connector.get(row["so_ho_so"])
    assert info.value.reason == "refused"  # an HTTP 401, or a WS-Security fault: the credentials must change


async def test_wrong_password_is_refused_without_quoting_it(server: SimulatorServer, service: Any) -> None:
    config = soap_connector_config(server.url)
    config["auth"] = {**config["auth"], "password": "wrong-password-123"}
    async with SoapConnector.from_config(config) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.get(_row()["so_ho_so"])
        result = await connector.check()
    assert info.value.reason == "refused"
    assert "credentials" in info.value.message
    assert "wrong-password-123" not in info.value.message + result.message
    assert result.ok is False


# -- upstream failures ---------------------------------------------------------------------------------------


async def test_malformed_xml_is_a_protocol_error(server: SimulatorServer, service: Any) -> None:
    service.misbehave(mode="malformed")
    async with _connector(server.url) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.get(_row()["so_ho_so"])
    assert info.value.reason == "protocol"
    assert "well-formed" in info.value.message


@pytest.mark.parametrize("mapping", ["xpath", "zeep"])
async def test_garbage_values_are_contract_violations(server: SimulatorServer, service: Any, mapping: str) -> None:
    row = _row()
    service.misbehave(mode="violation")
    async with _connector(server.url, mapping=mapping) as connector:
        with pytest.raises(ContractViolation) as info:
            await connector.get(row["so_ho_so"])
        # A search page is served without the broken records, each reported with its key.
        page = await connector.search(CertificateRequestQuery(applicant_personal_id=row["so_dinh_danh"]), limit=5)
    assert info.value.reason == "contract_violation"
    assert any(error.startswith("certificate_type") for error in info.value.errors)
    assert page.items == [] and page.skipped
    assert row["so_ho_so"] in {violation.record_id for violation in page.skipped}
    assert all(any(e.startswith("certificate_type") for e in violation.errors) for violation in page.skipped)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"NgayTiepNhan": "31/02/2025"}, "requested_on"),
        ({"MaCoQuan": "XYZ68"}, "issuing_authority"),
        ({"SoDinhDanh": "06808500012A"}, "applicant.personal_id"),
        ({"TrangThai": "97531"}, "status"),
    ],
)
@pytest.mark.parametrize("mapping", ["xpath", "zeep"])
async def test_every_value_is_judged_by_the_contract(
    server: SimulatorServer,
    service: Any,
    override: dict[str, str],
    field: str,
    mapping: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    row = _pending()
    service.canned = _answer(_record_xml(row, **override))
    caplog.set_level(logging.DEBUG)
    async with _connector(server.url, mapping=mapping) as connector:
        with pytest.raises(ContractViolation) as info:
            await connector.get(row["so_ho_so"])
    assert info.value.reason == "contract_violation"
    assert any(error.startswith(field) for error in info.value.errors), info.value.errors
    said = " ".join([info.value.message, *info.value.errors, caplog.text])
    assert all(value not in said for value in override.values())


async def test_another_record_than_the_one_asked_for_is_refused(server: SimulatorServer, service: Any) -> None:
    row, other = _pending(), _row(trang_thai=4)
    service.canned = _answer(_record_xml(other))
    async with _connector(server.url) as connector:
        with pytest.raises(ContractViolation, match="not the one asked for"):
            await connector.get(row["so_ho_so"])


@pytest.mark.parametrize(
    "hostile",
    [
        # "Billion laughs": nested internal entities.
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><x>&lol4;</x></soap:Body></soap:Envelope>',
        # An external entity reading a local file.
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><x>&secret;</x></soap:Body></soap:Envelope>',
    ],
)
async def test_entity_expansion_is_refused(server: SimulatorServer, service: Any, hostile: str) -> None:
    service.canned = hostile.encode()
    async with _connector(server.url) as connector:
        started = time.perf_counter()
        with pytest.raises(UpstreamError) as info:
            await connector.get(_row()["so_ho_so"])
    assert time.perf_counter() - started < 2
    assert info.value.reason == "protocol"
    assert "DTD" in info.value.message


async def test_a_hanging_service_times_out_within_the_deadline(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url, timeout_seconds=0.5) as connector:
        await connector.get(_row()["so_ho_so"])  # reads the WSDL while the service behaves
        service.misbehave(mode="hang")
        started = time.perf_counter()
        with pytest.raises(UpstreamTimeout) as info:
            await connector.get(_row()["so_ho_so"])
        elapsed = time.perf_counter() - started
    assert info.value.reason == "timeout"
    assert 0.4 < elapsed < 1.5


async def test_a_slow_answer_within_the_deadline_is_fine(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url, timeout_seconds=2) as connector:
        service.misbehave(mode="slow", delay_ms=300)
        assert (await connector.get(_row()["so_ho_so"])).record_id() == _row()["so_ho_so"]


async def test_a_503_is_retried(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url) as connector:
        service.misbehave(mode="error", status=503, times=1)
        record = await connector.get(_row()["so_ho_so"])
    assert record.record_id() == _row()["so_ho_so"]
    assert service.switch.requests == 2


async def test_a_503_retry_after_is_honoured(server: SimulatorServer, service: Any) -> None:
    # The wait the service asks for is taken (not the backoff of a few milliseconds) when it fits in the deadline,
    # and the call fails at once when it does not.
    async with _connector(server.url, timeout_seconds=5) as connector:
        service.misbehave(mode="error", status=503, retry_after=1, times=1)
        started = time.monotonic()
        record = await connector.get(_row()["so_ho_so"])
        assert time.monotonic() - started >= 0.9
        assert record.record_id() == _row()["so_ho_so"]
        assert service.switch.requests == 2
        service.reset()
        service.misbehave(mode="error", status=503, retry_after=30, times=1)
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable):
            await connector.get(_row()["so_ho_so"])
        assert time.monotonic() - started < 2
    assert service.switch.requests == 1


async def test_a_500_without_fault_is_not_retried(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url) as connector:
        service.misbehave(mode="error", status=500)
        with pytest.raises(UpstreamError) as info:
            await connector.get(_row()["so_ho_so"])
    assert info.value.reason == "status_5xx"
    assert service.switch.requests == 1
    assert SERVICE_PATH not in info.value.message


async def test_a_reset_connection_is_retried_then_reported(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url) as connector:
        service.misbehave(mode="reset")
        with pytest.raises(UpstreamError) as info:
            await connector.get(_row()["so_ho_so"])
    assert info.value.reason in {"protocol", "connect"}
    assert service.switch.requests == 3


async def test_a_too_large_answer_is_refused(server: SimulatorServer, service: Any) -> None:
    person = max(requests(), key=lambda r: sum(x["so_dinh_danh"] == r["so_dinh_danh"] for x in requests()))
    async with _connector(server.url, max_response_bytes=1024) as connector:
        with pytest.raises(UpstreamError, match="larger than 1024"):
            await connector.search(CertificateRequestQuery(applicant_personal_id=person["so_dinh_danh"]), limit=50)


async def test_unreachable_service_is_a_connect_error() -> None:
    async with _connector(f"http://127.0.0.1:{free_port()}", timeout_seconds=2) as connector:
        with pytest.raises(UpstreamUnavailable) as info:
            await connector.get(_row()["so_ho_so"])
        assert (await connector.check()).ok is False
    assert info.value.reason == "connect"


# -- the WSDL ------------------------------------------------------------------------------------------------


async def test_the_wsdl_is_read_once_for_concurrent_calls(server: SimulatorServer, service: Any) -> None:
    ids = [row["so_ho_so"] for row in requests()[:12]]
    async with _connector(server.url) as connector:
        records = await asyncio.gather(*(connector.get(record_id) for record_id in ids))
    assert [record.record_id() for record in records] == ids
    assert service.calls["wsdl"] == 1


async def test_a_local_wsdl_file_and_an_address_override(server: SimulatorServer, service: Any, tmp_path: Path) -> None:
    wsdl = wsdl_document(server.url)
    local = tmp_path / "lltp.wsdl"
    local.write_bytes(wsdl.replace(server.url.encode(), f"http://127.0.0.1:{free_port()}".encode()))
    config = soap_connector_config(server.url) | {"wsdl": str(local)}
    async with SoapConnector.from_config(config) as connector:
        with pytest.raises(UpstreamUnavailable):  # the file's address is a closed port
            await connector.get(_row()["so_ho_so"])
    async with SoapConnector.from_config(config | {"address": f"{server.url}{SERVICE_PATH}"}) as connector:
        assert (await connector.get(_row()["so_ho_so"])).record_id() == _row()["so_ho_so"]
    assert service.calls["wsdl"] == 0


async def test_a_wsdl_with_a_dtd_is_refused(server: SimulatorServer, service: Any, tmp_path: Path) -> None:
    wsdl = wsdl_document(server.url).decode()
    hostile = wsdl.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>',
    )
    local = tmp_path / "hostile.wsdl"
    local.write_text(hostile.replace("</wsdl:documentation>", "&e;</wsdl:documentation>"))
    async with SoapConnector.from_config(soap_connector_config(server.url) | {"wsdl": str(local)}) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.get(_row()["so_ho_so"])
    assert info.value.reason == "protocol"
    assert "WSDL" in info.value.message


async def test_an_operation_the_wsdl_lacks_is_reported(server: SimulatorServer, service: Any) -> None:
    config = soap_connector_config(server.url)
    config["get"] = {**config["get"], "operation": "KhongCoThaoTacNay"}
    async with SoapConnector.from_config(config) as connector:
        with pytest.raises(UpstreamError, match="no operation 'KhongCoThaoTacNay'"):
            await connector.get(_row()["so_ho_so"])


async def test_health_without_an_operation_probes_the_endpoint(server: SimulatorServer, service: Any) -> None:
    async with _connector(server.url, ping=False) as connector:
        assert (await connector.check()).ok
        service.misbehave(mode="error", status=503)
        assert (await connector.check()).ok is False
    assert service.calls["KiemTraTrangThai"] == 0


# -- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"get": {"operation": "TraCuuHoSo", "record": "lltp:HoSo"}}, "placeholder"),
        ({"fields": {"request_number": "x:SoHoSo"}}, "Undefined namespace prefix"),
        ({"fields": {"request_number": "lltp:SoHoSo["}}, "not an XPath"),
        ({"mapping": "zeep", "fields": {"request_number": "SoHoSo[?"}}, "not a JMESPath"),
        ({"address": "http://user:pw@127.0.0.1/x"}, "credentials"),
        ({"retry": {"statuses": [404]}}, "5xx"),
        ({"fields": {"no_such_field": "lltp:X", "request_number": "lltp:SoHoSo"}}, "no_such_field"),
        ({"contract": "no.such.contract"}, "unknown contract"),
    ],
)
def test_bad_configurations_are_refused(server: SimulatorServer, change: dict[str, Any], complaint: str) -> None:
    config = soap_connector_config(server.url) | change
    with pytest.raises(ConnectorConfigError, match=complaint):
        SoapConnector.from_config(config)


# -- value conversions -----------------------------------------------------------------------------------------


async def test_a_date_in_the_services_own_form_is_converted(server: SimulatorServer, service: Any) -> None:
    """A service that writes its dates ``dd/mm/yyyy`` (the WSDL says xs:date; many services do not care): the
    ``conversions`` setting reads them; without it, or with a value in another form, the record breaks the
    contract, naming the field and the form expected, never the value."""
    row = _pending()
    day = row["ngay_tiep_nhan"]
    conversions = {"requested_on": {"type": "date", "format": "dd/mm/yyyy"}}
    service.canned = _answer(_record_xml(row, NgayTiepNhan=day.strftime("%d/%m/%Y")))
    async with _connector(server.url, conversions=conversions) as converting, _connector(server.url) as plain:
        record = await converting.get(row["so_ho_so"])
        assert isinstance(record, CertificateRequest) and record.requested_on == day
        with pytest.raises(ContractViolation) as unconverted:
            await plain.get(row["so_ho_so"])
        service.canned = _answer(_record_xml(row, NgayTiepNhan=day.isoformat()))
        with pytest.raises(ContractViolation) as other_form:
            await converting.get(row["so_ho_so"])
    assert any(error.startswith("requested_on") for error in unconverted.value.errors)
    (error,) = other_form.value.errors
    assert error.startswith("requested_on:") and "dd/mm/yyyy" in error and "'9999-99-99'" in error, error
    assert day.isoformat() not in error and other_form.value.record_id == row["so_ho_so"]


def test_a_bad_conversion_is_refused_naming_the_field(server: SimulatorServer) -> None:
    with pytest.raises(ConnectorConfigError) as info:
        _connector(server.url, conversions={"requested_on": {"type": "date", "format": "dd.mm.yy"}})
    assert "conversions.requested_on" in info.value.message and "'yy'" in info.value.message


#: The client's modules but lxml's: zeep builds each envelope with a new ``lxml.builder.ElementMaker``, whose
#: closures refer back to it (a cycle of a few objects per call, in zeep's code).
CLIENT_MODULES = ("httpx", "httpcore", "zeep", "jmespath", "connectors")


@pytest.mark.parametrize("mapping", ["xpath", "zeep"])
async def test_calls_leave_nothing_of_the_client_in_reference_cycles(
    server: SimulatorServer, service: Any, mapping: str
) -> None:
    """Every call's objects are freed when it ends, by reference counting: no answer of httpx is left for the
    cyclic garbage collector (whose passes walk the requests in flight). The simulated service runs in this
    process: only the client's side is counted."""
    numbers = [row["so_ho_so"] for row in requests()[:10]]
    async with _connector(server.url, mapping=mapping) as connector:
        for number in numbers:
            await connector.get(number)
        with garbage_in_cycles(*CLIENT_MODULES) as left:
            for number in numbers * 2:
                await connector.get(number)
    assert left == [], collections.Counter(left)
