"""A SOAP connection through an integration platform that answers in ways the simulated hub never does: its
health probe (no ``ping`` operation) against revoked tokens, refusals, web pages and endless answers, and error
envelopes whose result code or correlation id is free text. The platform is a real server on 127.0.0.1, scripted
per test; the gateway's health check is the one the gateway runs."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support import LiveServer

from connectors.base import UpstreamError, UpstreamRefused, UpstreamTimeout
from connectors.context import RequestContext, use_context
from connectors.soap import SoapConnector
from gateway.axis.health import check_connector
from simulators.judicial_records_soap import SERVICE_PATH, soap_connector_config
from simulators.judicial_records_soap.wsdl import wsdl_document
from simulators.ndxp_hub import axis_profile

pytestmark = pytest.mark.anyio

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
PERSONAL = ("Nguyễn Văn A", "001099000123")


def envelope(code: str, correlation: str = "9f1c2d") -> bytes:
    """The platform's SOAP answer: its result block in the Header, a fault in the Body unless it is a success."""
    fault = (
        ""
        if code == "00"
        else "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>x</faultstring></soap:Fault>"
    )
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header><p:KetQua xmlns:p="urn:platform">'
        f"<p:MaKetQua>{escape(code)}</p:MaKetQua><p:ThongDiep>Lỗi: {PERSONAL[0]}</p:ThongDiep>"
        f"<p:MaGiaoDich>{escape(correlation)}</p:MaGiaoDich></p:KetQua></soap:Header>"
        f"<soap:Body>{fault}</soap:Body></soap:Envelope>"
    ).encode()


@dataclass
class Platform:
    """An LGSP-like platform: a token endpoint, the service's WSDL, and the service's address, whose answers to a
    GET (the probe) and to a POST (a call) each test scripts."""

    probe: str = "envelope"  # envelope, html, reject, forbidden, endless, refused_code
    call: tuple[int, bytes] = (500, b"")
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    probes: int = 0
    hung_up: threading.Event = field(default_factory=threading.Event)
    #: The raw headers of each call (POST) the service received.
    received: list[list[tuple[bytes, bytes]]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route(SERVICE_PATH, self._service, methods=["GET", "POST"]),
            ]
        )

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 300})

    async def _service(self, request: Request) -> Response:
        if request.method == "GET" and request.url.query == "wsdl":
            return Response(wsdl_document(str(request.base_url)), media_type="text/xml")
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or authorization[7:] not in self.tokens:
            return Response(b"token expired", 401)
        if request.method == "POST":
            self.received.append(list(request.scope["headers"]))
            status, content = self.call
            return Response(content, status, media_type="text/xml; charset=utf-8")
        self.probes += 1
        match self.probe:
            case "envelope":
                return Response(envelope("00"), media_type="text/xml; charset=utf-8")
            case "refused_code":
                return Response(envelope("13"), 400, media_type="text/xml; charset=utf-8")
            case "html":
                return Response(b"<html><body>LGSP portal: please log in</body></html>", media_type="text/html")
            case "reject":
                return Response(b"token expired", 401)
            case "forbidden":
                return Response(b"forbidden", 403)
        return StreamingResponse(self._endless(), media_type="text/xml")

    async def _endless(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"<!--" + b"x" * 65_000 + b"-->"
                await asyncio.sleep(0)
        finally:
            self.hung_up.set()

    def revoke(self) -> None:
        self.tokens.clear()


@pytest.fixture
def platform() -> Iterator[tuple[Platform, str]]:
    scripted = Platform()
    with LiveServer(scripted.app()) as live:
        yield scripted, live.url


def _config(url: str, *, through_platform: bool = True, **options: Any) -> dict[str, Any]:
    config = soap_connector_config(url, ping=False, **options)
    if through_platform:
        config |= {"address": f"{url}{SERVICE_PATH}", "axis": axis_profile(url, "LLTP", protocol="soap")}
    return config


async def _checked(connector: SoapConnector) -> tuple[bool, str | None, str | None]:
    outcome = await check_connector(connector, 5.0, RequestContext(request_id="health-check"))
    return outcome.ok, outcome.reason, outcome.error


# -- the health probe without a ping operation ---------------------------------------------------------------


async def test_the_probe_fetches_a_new_token_once_after_a_401(platform: tuple[Platform, str]) -> None:
    scripted, url = platform
    async with SoapConnector.from_config(_config(url)) as connector:
        assert (await connector.check()).ok
        scripted.revoke()  # the platform forgets the token: the probe's next GET is answered 401
        assert (await connector.check()).ok
    assert scripted.token_requests == 2 and scripted.probes == 2


@pytest.mark.parametrize(("probe", "status", "tokens"), [("reject", 401, 3), ("forbidden", 403, 1)])
async def test_a_platform_refusing_the_probe_puts_the_connection_down_as_refused(
    platform: tuple[Platform, str], probe: str, status: int, tokens: int
) -> None:
    scripted, url = platform
    scripted.probe = probe
    async with SoapConnector.from_config(_config(url)) as connector:
        with pytest.raises(UpstreamRefused) as info:
            await connector.health()
        ok, reason, error = await _checked(connector)
    assert f"the platform refused the gateway's token (HTTP {status})" in info.value.message
    # "refused" is definitive: the connection is down at once, with cause check-refused (docs/axis-platform.md).
    assert ok is False and reason == "refused" and error is not None and f"(HTTP {status})" in error
    # A 401 is worth one new token per check (the first token, then one more for each of the two checks); a 403
    # is a refusal at once.
    assert scripted.token_requests == tokens


async def test_an_error_code_in_the_probes_answer_is_the_error_it_means(platform: tuple[Platform, str]) -> None:
    scripted, url = platform
    scripted.probe = "refused_code"
    async with SoapConnector.from_config(_config(url)) as connector:
        with pytest.raises(UpstreamRefused, match="refused the call \\(result code 13, correlation id 9f1c2d\\)"):
            await connector.health()


async def test_a_web_page_where_the_platform_answers_is_not_up(platform: tuple[Platform, str]) -> None:
    scripted, url = platform
    scripted.probe = "html"
    async with SoapConnector.from_config(_config(url)) as connector:
        ok, reason, error = await _checked(connector)
    assert ok is False and reason == "protocol"
    assert error is not None and "not the platform's (HTTP 200 without its result code)" in error
    assert "portal" not in error
    # Direct, without a platform to expect an answer from, the service answering at all is up.
    direct_config = _config(url, through_platform=False) | {"auth": {"type": "bearer", "token": "the-services-own"}}
    scripted.tokens.add("the-services-own")
    async with SoapConnector.from_config(direct_config) as direct:
        report = await direct.check()
    assert report.ok, report.message


@pytest.mark.parametrize("through_platform", [True, False])
async def test_an_endless_probe_answer_is_cut_at_the_size_limit(
    platform: tuple[Platform, str], through_platform: bool
) -> None:
    scripted, url = platform
    scripted.probe = "endless"
    config = _config(url, through_platform=through_platform, max_response_bytes=256 * 1024, timeout_seconds=10)
    if not through_platform:
        config["auth"] = {"type": "bearer", "token": "a-token-of-the-service"}
        scripted.tokens.add("a-token-of-the-service")
    async with SoapConnector.from_config(config) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.health()
    assert not isinstance(info.value, UpstreamTimeout)
    assert "larger than 262144 bytes" in info.value.message
    assert await asyncio.to_thread(scripted.hung_up.wait, 5)


# -- the platform's text never reaches a message -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "correlation", "shown"),
    [
        ("ERR-42", "TX.2025:0001-ab", "result code ERR-42, correlation id TX.2025:0001-ab"),
        (
            f"Lỗi hệ thống khi tra cứu {PERSONAL[0]}",
            f"{PERSONAL[0]} {PERSONAL[1]}\n{{'x': 1}}",
            "result code unreadable, correlation id unreadable",
        ),
        ("99", "x" * 65, "result code 99, correlation id unreadable"),
    ],
)
async def test_only_codes_of_the_platform_are_quoted(
    platform: tuple[Platform, str], code: str, correlation: str, shown: str
) -> None:
    scripted, url = platform
    scripted.call = (500, envelope(code, correlation))
    async with SoapConnector.from_config(_config(url)) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.get("LLTP-68-2020-000001")
    assert info.value.reason == "status_5xx"
    assert f"the platform answered an error ({shown})" in info.value.message, info.value.message
    assert all(value not in info.value.message for value in PERSONAL)


async def test_each_metadata_header_is_sent_once(platform: tuple[Platform, str]) -> None:
    """A platform that wants the request id as ``X-Request-ID`` while the connection forwards it as ``X-Request-Id``
    (the default context header): one header, not two that the platform would read as ``"req-1, req-1"``."""
    own, url = platform
    own.call = (200, envelope("00"))
    config = _config(url)
    config["axis"]["metadata"]["fields"] = {"X-Request-ID": "request_id"}
    async with SoapConnector.from_config(config) as connector:
        with use_context(RequestContext(request_id="req-1", purpose="1.000001")), contextlib.suppress(UpstreamError):
            await connector.get(PERSONAL[1])
    (raw,) = own.received
    assert [value for name, value in raw if name == b"x-request-id"] == [b"req-1"]
