"""A hostile or broken sector system, served for real on 127.0.0.1: compressed answers (legitimate ones, and
"bombs" that expand a few hundred bytes to hundreds of megabytes), a token endpoint issuing tokens no header can
carry, answers on which a configured JMESPath function fails, and a WSDL that sends the connection's credentials to
another address. The gateway stays bounded and answers with connector errors, never a crash."""

from __future__ import annotations

import gzip
import json
import re
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from judicial_records_fixtures import requests
from support import LiveServer

from connectors.base import ContractViolation, UpstreamError, UpstreamRefused
from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from contracts.judicial_records import CertificateRequestQuery
from contracts.population import CitizenQuery
from simulators.judicial_records_soap import SERVICE_PATH, JudicialRecordsService, soap_connector_config
from simulators.judicial_records_soap.wsdl import wsdl_document
from simulators.population_api import rest_connector_config
from simulators.population_api.records import to_api

pytestmark = pytest.mark.anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

LIMIT = 1024 * 1024  # max_response_bytes of the connectors below
EXPANDED = 64 * 1024 * 1024  # what a bomb expands to: 64 times the limit


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """Bodies that expand to :data:`EXPANDED` bytes (``gzip``: about 64 KiB), or to that twice over (``gzip,
    gzip``: a few hundred bytes); made once, before any test measures memory."""
    once = gzip.compress(b" " * EXPANDED, 9)
    return {"gzip": once, "gzip, gzip": gzip.compress(once, 9), "deflate": zlib.compress(b" " * EXPANDED, 9)}


async def _lifespan(receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "lifespan.startup.complete"})
    await receive()
    await send({"type": "lifespan.shutdown.complete"})


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _coded(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # raw deflate, without zlib's header, as IIS sends it
    return compressor.compress(body) + compressor.flush()


@dataclass
class Coding:
    """An ASGI wrapper sending ``app``'s answers to POST requests (SOAP calls) with a content coding: the answer
    compressed for real, or ``bomb`` in its place."""

    app: App
    coding: str = "gzip"
    bomb: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        coded = self.bomb if self.bomb is not None else _coded(body, self.coding)
        await _send(send, start["status"], [*headers, (b"content-encoding", self.coding.encode())], coded)


@pytest.fixture
def judicial() -> JudicialRecordsService:
    return JudicialRecordsService(requests())


def _soap(url: str, **options: Any) -> SoapConnector:
    return SoapConnector.from_config(soap_connector_config(url, max_response_bytes=LIMIT, **options))


# -- compressed answers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_soap_answer_compressed_as_asked_is_read(judicial: JudicialRecordsService, coding: str) -> None:
    """The gateway asks for gzip and deflate (``Accept-Encoding``); a service that compresses its answers (IIS, a
    .NET service) is read, not decoded twice into an error."""
    key = requests()[0]["so_ho_so"]
    with LiveServer(Coding(judicial.app, coding)) as live:
        async with _soap(live.url) as connector:
            assert (await connector.get(key)).record_id() == key


async def _peak_while(call: Callable[[], Awaitable[object]]) -> tuple[BaseException | None, int]:
    """The exception ``call`` raised (``None`` if none) and the peak of Python's allocations meanwhile."""
    tracemalloc.start()
    try:
        await call()
    except Exception as exc:
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return None, 0


@pytest.mark.parametrize("coding", ["gzip", "gzip, gzip", "deflate"])
async def test_a_compression_bomb_is_refused_without_expanding_it(bombs: dict[str, bytes], coding: str) -> None:
    """Through httpx (``http_transport: httpx``, and every SOAP call): the body is decoded piece by piece and
    refused past ``max_response_bytes``; memory never holds the expansion (httpx's decoders expand a whole chunk:
    64 MiB and more here, gigabytes with ``gzip, gzip``)."""
    body = bombs[coding]

    async def bomb(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"content-encoding", coding.encode())]
        await _send(send, 200, headers, body)

    with LiveServer(bomb) as live:
        config = rest_connector_config(live.url, max_response_bytes=LIMIT, http_transport="httpx")
        async with RestConnector.from_config(config) as connector:
            error, peak = await _peak_while(lambda: connector.get("001099000001"))
    assert isinstance(error, UpstreamError) and not isinstance(error, ContractViolation), error
    assert error.reason == "protocol"
    assert f"the answer is larger than {LIMIT} bytes" in error.message
    assert peak < 8 * LIMIT, f"{peak / 2**20:.0f} MiB held to refuse a {len(body)}-byte answer"


async def test_a_soap_compression_bomb_is_refused_without_expanding_it(
    judicial: JudicialRecordsService, bombs: dict[str, bytes]
) -> None:
    with LiveServer(Coding(judicial.app, "gzip, gzip", bombs["gzip, gzip"])) as live:
        async with _soap(live.url) as connector:
            await connector.check()  # the WSDL is read before measuring
            error, peak = await _peak_while(lambda: connector.get(requests()[0]["so_ho_so"]))
    assert isinstance(error, UpstreamError) and error.reason == "protocol", error
    assert f"the answer is larger than {LIMIT} bytes" in error.message
    assert peak < 8 * LIMIT, f"{peak / 2**20:.0f} MiB held"


@pytest.mark.parametrize("coding", ["br", "compress", "gzip, gzip, gzip, gzip, gzip"])
async def test_a_content_coding_the_gateway_did_not_ask_for_is_refused(
    judicial: JudicialRecordsService, coding: str
) -> None:
    with LiveServer(Coding(judicial.app, coding, b"\x1f\x8b not what it says")) as live:
        async with _soap(live.url) as connector:
            with pytest.raises(UpstreamError) as info:
                await connector.get(requests()[0]["so_ho_so"])
    assert info.value.reason == "protocol"
    assert "content coding is not supported" in info.value.message


# -- tokens no header can carry --------------------------------------------------------------------------------


@dataclass
class TokenIssuer:
    """A sector API whose OAuth token endpoint issues ``token``; records the paths it is asked for."""

    token: str
    paths: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        self.paths.append(scope["path"])
        if scope["path"].endswith("/token"):
            body = json.dumps({"access_token": self.token, "token_type": "Bearer", "expires_in": 3600}).encode()
            await _send(send, 200, [(b"content-type", b"application/json")], body)
            return
        await _send(send, 404, [], b"")


@pytest.mark.parametrize(
    ("token", "engine"),
    [
        ("abc\r\nX-Injected: 1", "aiohttp"),
        ("abc\r\nX-Injected: 1", "httpx"),
        ("tökén", "httpx"),
        ("abc\x00def", "aiohttp"),
    ],
)
async def test_a_token_no_header_can_carry_is_no_token(token: str, engine: str) -> None:
    """Before: aiohttp's ``ValueError`` ("header injection") or httpx's ``UnicodeEncodeError`` left the connector
    (a 500 at the gateway), for every call while the token stayed cached."""
    issuer = TokenIssuer(token)
    with LiveServer(issuer) as live:
        config = rest_connector_config(live.url, auth="oauth2_client_credentials", http_transport=engine)
        async with RestConnector.from_config(config) as connector:
            for _ in range(2):
                with pytest.raises(UpstreamError) as info:
                    await connector.get("001099000001")
                assert info.value.reason == "protocol"
                assert "the token endpoint issued no token" in info.value.message
    assert issuer.paths and all(path.endswith("/token") for path in issuer.paths)  # nothing sent with it


async def test_a_platform_token_no_header_can_carry_is_a_protocol_failure(judicial: JudicialRecordsService) -> None:
    """The same through the platform's token endpoint (an SOAP connection: httpx)."""
    issuer = TokenIssuer("tökén")
    with LiveServer(issuer) as platform, LiveServer(Recorder(judicial.app)) as service:
        axis = {
            "auth": {
                "access_key": "ak",
                "secret_key": "sk",
                "app_name": "axis-gateway",
                "token_endpoint": {"url": f"{platform.url}/token"},
            },
        }
        options = {"axis": axis, "address": f"{service.url}{SERVICE_PATH}"}
        async with _soap(service.url, **options) as connector:
            with pytest.raises(UpstreamError) as info:
                await connector.get(requests()[0]["so_ho_so"])
    assert info.value.reason == "protocol" and not isinstance(info.value, UpstreamRefused)
    assert "issued a token that cannot be sent in an HTTP header" in info.value.message
    assert judicial.calls.get("TraCuuHoSo", 0) == 0


# -- JMESPath functions on answers of another shape ------------------------------------------------------------


@pytest.fixture
def citizen(population_sector: Any) -> dict[str, Any]:
    return to_api(population_sector.rows[0])


async def test_a_jmespath_function_failing_on_an_answer_is_a_contract_violation(citizen: dict[str, Any]) -> None:
    """``join(' ', ho_va_ten)`` over a name given as a list of words: a record whose name is something else is
    a contract violation naming the field (a search leaves it out of its page), not a ``JMESPathTypeError``."""
    good = citizen | {"ho_va_ten": citizen["ho_va_ten"].split(" ")}
    bad = citizen | {"ho_va_ten": 42}

    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        data: Any = [good, bad] if scope["path"].endswith("/vi-tri") else bad
        body = json.dumps({"ma_loi": "00", "du_lieu": data}).encode()
        await _send(send, 200, [(b"content-type", b"application/json")], body)

    with LiveServer(api) as live:
        config = rest_connector_config(live.url, pagination="offset")
        config["fields"] = config["fields"] | {"full_name": "join(' ', ho_va_ten)"}
        async with RestConnector.from_config(config) as connector:
            with pytest.raises(ContractViolation) as info:
                await connector.get(citizen["so_dinh_danh"])
            assert info.value.errors == ["full_name: its expression cannot be evaluated on this record"]
            page = await connector.search(CitizenQuery(old_id_number="012345678"), limit=10)
    assert [record.record_id() for record in page.items] == [citizen["so_dinh_danh"]]
    assert page.items[0].model_dump()["full_name"] == citizen["ho_va_ten"]
    assert len(page.skipped) == 1


# -- a WSDL naming another address -----------------------------------------------------------------------------


@dataclass
class Recorder:
    """The real service, counting the requests it gets."""

    app: App
    requests: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        self.requests += 1
        await self.app(scope, receive, send)


@pytest.fixture
def elsewhere(judicial: JudicialRecordsService) -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder(judicial.app)
    with LiveServer(recorder) as live:
        yield recorder, live.url


async def test_a_wsdl_naming_another_origin_does_not_get_the_credentials(
    elsewhere: tuple[Recorder, str],
) -> None:
    """A WSDL fetched over the network (altered, or naming an internal host) whose ``soap:address`` is on another
    port (or host, or scheme): the calls, their credentials (WS-Security, HTTP Basic) and the record's key, are not
    sent there. Before, the other address got every call."""
    recorder, other = elsewhere

    async def hostile_wsdl(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await _send(send, 200, [(b"content-type", b"text/xml")], wsdl_document(other))

    with LiveServer(hostile_wsdl) as live:
        async with _soap(live.url) as connector:
            with pytest.raises(UpstreamError) as info:
                await connector.get(requests()[0]["so_ho_so"])
            assert info.value.reason == "protocol"
            assert "set 'address'" in info.value.message
            assert not (await connector.check()).ok
        assert recorder.requests == 0
        # Named by the configuration, the other address is called, with the credentials.
        async with _soap(live.url, address=f"{other}{SERVICE_PATH}") as connector:
            key = requests()[0]["so_ho_so"]
            assert (await connector.get(key)).record_id() == key
    assert recorder.requests > 0


# -- a Retry-After no clock can hold ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_a_retry_after_date_past_any_calendar_is_no_wait(status: int) -> None:
    """Before: ``OverflowError`` (year 99999999999) left the connector, a 500 at the gateway."""
    asked = 0

    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal asked
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        asked += 1
        await _send(send, status, [(b"retry-after", b"Mon, 01 Jan 99999999999 00:00:00 GMT")], b"")

    with LiveServer(api) as live:
        config = rest_connector_config(live.url, retry={"max_attempts": 2, "backoff_base_seconds": 0.01})
        async with RestConnector.from_config(config) as connector:
            with pytest.raises(UpstreamError) as info:
                await connector.get("001099000001")
    assert f"(HTTP {status})" in info.value.message
    assert asked == 2  # retried after the policy's own backoff


# -- xs:boolean read as zeep reads it --------------------------------------------------------------------------


@dataclass
class Rewrite:
    """The real service, with what the pattern ``old`` matches replaced by ``new`` in its answers to calls."""

    app: App
    old: bytes
    new: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await _send(send, start["status"], headers, re.sub(self.old, self.new, body))


@pytest.mark.parametrize("written", ["True", "TRUE", "yes"])
async def test_a_boolean_outside_xsd_is_never_read_as_false(judicial: JudicialRecordsService, written: str) -> None:
    """A certificate request whose service states a criminal record (``CoAnTich``) in a form XSD does not define:
    zeep read anything but ``true`` and ``1`` as false, and the gateway served "no criminal record". Now the value
    is not read (the contract, which requires it on an issued certificate, refuses the record); XSD's own forms
    still are."""
    key = next(row["so_ho_so"] for row in requests() if row["co_an_tich"])
    rewrite = Rewrite(judicial.app, b"CoAnTich>true<", f"CoAnTich>{written}<".encode())
    with LiveServer(rewrite) as live:
        async with _soap(live.url, mapping="zeep") as connector:
            with pytest.raises(ContractViolation) as info:
                await connector.get(key)
            assert any(error.startswith("states_criminal_record") for error in info.value.errors), info.value.errors
            rewrite.new = b"CoAnTich>\n  1\n<"
            assert (await connector.get(key)).model_dump()["states_criminal_record"] is True


# -- SOAP-encoding references that never end -------------------------------------------------------------------

RPC_WSDL = """<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:lltp" targetNamespace="urn:lltp">
 <message name="TraCuuRequest"><part name="soHoSo" type="xsd:string"/></message>
 <message name="TraCuuResponse"><part name="ketQua" type="xsd:anyType"/></message>
 <portType name="P"><operation name="TraCuu"><input message="tns:TraCuuRequest"/>
  <output message="tns:TraCuuResponse"/></operation></portType>
 <binding name="B" type="tns:P"><soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
  <operation name="TraCuu"><soap:operation soapAction=""/>
   <input><soap:body use="literal" namespace="urn:lltp"/></input>
   <output><soap:body use="literal" namespace="urn:lltp"/></output></operation></binding>
 <service name="S"><port name="Port" binding="tns:B"><soap:address location="{address}"/></port></service>
</definitions>"""

DOUBLING = "".join(f'<m id="a{i}"><x href="#a{i + 1}"/><x href="#a{i + 1}"/></m>' for i in range(16)) + '<m id="a16"/>'


@pytest.mark.parametrize(
    ("references", "complaint"),
    [
        (DOUBLING, "expand to more than 10000 elements"),  # about 2**17 copies
        ('<m id="a0"><x href="#a0"/></m>', "refer to themselves"),
        ("".join(f'<m id="a{i}"><x href="#a{i + 1}"/></m>' for i in range(1000)) + '<m id="a1000"/>', "nest deeper"),
    ],
    ids=["doubling", "itself", "chain"],
)
async def test_references_of_an_rpc_answer_are_not_expanded_without_end(references: str, complaint: str) -> None:
    """An RPC-style service (zeep mapping) whose answer's ``href="#id"`` references double at each step, point
    at themselves, or chain a thousand deep: zeep copied them in the event loop (12 s for 1.5 KB, past the call's
    5 s deadline and blocking every other call), or failed with a ``RecursionError`` (a 500). The answer is refused
    first; one whose references expand reasonably still reaches the mapping."""
    answer = references

    async def rpc(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["method"] == "GET":
            host, port = scope["server"]
            body = RPC_WSDL.format(address=f"http://{host}:{port}/svc").encode()
        else:
            body = (
                '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                '<tns:TraCuuResponse xmlns:tns="urn:lltp"><ketQua href="#a0"/></tns:TraCuuResponse>'
                f"{answer}</soap:Body></soap:Envelope>"
            ).encode()
        await _send(send, 200, [(b"content-type", b"text/xml")], body)

    config = {
        "wsdl": "",
        "contract": "judicial_records.certificate_request",
        "mapping": "zeep",
        "get": {"operation": "TraCuu", "arguments": {"soHoSo": "{record_id}"}, "record": "@"},
        "fields": {"request_number": "soHoSo"},
        "timeout_seconds": 5,
    }
    with LiveServer(rpc) as live:
        async with SoapConnector.from_config(config | {"wsdl": f"{live.url}/svc?wsdl"}) as connector:
            await connector.check()  # the WSDL is read before the clock starts
            started = time.monotonic()
            with pytest.raises(UpstreamError) as info:
                await connector.get("LLTP-68-2023-000022")
            assert time.monotonic() - started < 2
            assert not isinstance(info.value, ContractViolation)
            assert info.value.reason == "protocol" and complaint in info.value.message, info.value.message
            answer = '<m id="a0"><x href="#a1"/><y href="#a1"/></m><m id="a1"><z>1</z></m>'
            with pytest.raises(ContractViolation):  # read, then judged by the contract (the record is not one)
                await connector.get("LLTP-68-2023-000022")


# -- a total int() cannot read ---------------------------------------------------------------------------------


@pytest.mark.parametrize("total", ["\u00b2", "9" * 5000], ids=["superscript-two", "5000-digits"])
async def test_a_total_that_is_no_number_is_a_protocol_error(judicial: JudicialRecordsService, total: str) -> None:
    """Before: ``str.isdigit()`` took both for digits and ``int()`` raised a ``ValueError`` (a 500)."""
    row = requests()[0]
    with LiveServer(Rewrite(judicial.app, rb"TongSo>[0-9]+<", f"TongSo>{total}<".encode())) as live:
        async with _soap(live.url) as connector:
            with pytest.raises(UpstreamError) as info:
                await connector.search(CertificateRequestQuery(applicant_personal_id=row["so_dinh_danh"]), limit=5)
    assert info.value.reason == "protocol" and "the service's total is not a number" in info.value.message
