"""How the gateway survives the platform's tokens and what it sends the platform, against a platform of the test's
own on 127.0.0.1: a token endpoint that is slow, down, unreachable, under maintenance or answering odd lifetimes
while calls go on, many calls needing one token at once, a token that no header can carry, a token refused inside
an HTTP 200 envelope before its stated expiry, a ``Retry-After`` written as an HTTP date on a host whose local time
is Vietnam's; the request metadata each call carries once, and never a header of a value's making."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support import LiveServer

from connectors.business import BusinessConnector
from connectors.context import RequestContext, use_context
from connectors.errors import (
    ConnectorConfigError,
    RecordNotFound,
    UpstreamError,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import parse_retry_after
from connectors.soap import SoapConnector
from simulators.judicial_records_soap import SERVICE_PATH as SOAP_SERVICE_PATH
from simulators.judicial_records_soap import soap_connector_config
from simulators.ndxp_hub import axis_profile
from simulators.sectors import SectorContext, load_sector_system

pytestmark = pytest.mark.anyio

CONTEXT = RequestContext(request_id="req-1", client_id="c", agency_code="000.00.11.H41", purpose="1.000001", actor="A")
SECRET = "platform-client-secret-68"  # a test credential, checked to stay out of messages


@dataclass
class Platform:
    """A national platform in front of the business registry: ``POST /token`` issues tokens (the platform keeps
    each for ``ttl`` seconds, whatever ``expires_in`` it states), ``/svc/...`` checks them and forwards to the
    registry, answering in the NDXP envelope; a token it no longer takes is answered ``expired_status`` with
    result code ``10``. Every switch is the test's to turn."""

    sector_url: str
    sector_headers: dict[str, str]
    ttl: float = 300.0
    expires_in: Any = 300
    token_status: int = 200
    token_delay: float = 0.0
    token_value: str | None = None  # the token the answer states, instead of the one issued
    token_body: dict[str, Any] | None = None  # the whole token answer (HTTP 200), instead of a token
    expired_status: int = 401
    call_status: int | None = None  # answer calls with this status (and call_headers), once
    call_headers: dict[str, str] = field(default_factory=dict)
    token_requests: int = 0
    valid: dict[str, float] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)
    received: list[tuple[list[tuple[str, str]], dict[str, str]]] = field(default_factory=list)  # headers, query

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/svc/{path:path}", self._call, methods=["GET"]),
            ]
        )

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        await asyncio.sleep(self.token_delay)
        if self.token_status != 200:
            return JSONResponse({"error": "server_error"}, self.token_status)
        if self.token_body is not None:
            return JSONResponse(self.token_body)
        token = secrets.token_urlsafe(16)
        self.valid[token] = time.monotonic() + self.ttl
        stated = token if self.token_value is None else self.token_value
        return JSONResponse({"access_token": stated, "token_type": "Bearer", "expires_in": self.expires_in})

    async def _call(self, request: Request) -> Response:
        raw = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in request.scope["headers"]]
        self.received.append((raw, dict(request.query_params)))
        if self.call_status is not None:
            status, self.call_status = self.call_status, None
            self.codes.append(str(status))
            return Response(b"busy", status, headers=self.call_headers)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if time.monotonic() >= self.valid.get(token, 0.0):
            self.codes.append("10")
            return JSONResponse(
                {"MaKetQua": "10", "ThongDiep": "Token hết hạn", "MaGiaoDich": "g1"}, self.expired_status
            )
        async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
            answer = await http.get(f"{self.sector_url}/{request.path_params['path']}", headers=self.sector_headers)
        code = "00" if answer.status_code == 200 else "01" if answer.status_code == 404 else "99"
        self.codes.append(code)
        payload = answer.json() if code == "00" else None
        return JSONResponse({"MaKetQua": code, "ThongDiep": "", "MaGiaoDich": "g2", "DuLieu": payload})


@dataclass
class Sector:
    url: str
    headers: dict[str, str]
    canary: str


@pytest.fixture(scope="module")
def sector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sector]:
    data_dir: Path = tmp_path_factory.mktemp("platform-tokens")
    with ExitStack() as stack:
        context = SectorContext(data_dir=data_dir, citizens=60, seed=68, stack=stack)
        business = asyncio.run(load_sector_system("business").start(context))
        auth = business["auth"]
        yield Sector(business["base_url"], {auth["header"]: auth["key"]}, business["canary"])


@pytest.fixture
def platform(sector: Sector) -> Iterator[tuple[Platform, str]]:
    own = Platform(sector.url, sector.headers)
    with LiveServer(own.app()) as live:
        yield own, live.url


def _config(url: str, sector: Sector, **envelope: Any) -> dict[str, Any]:
    codes = {
        "success_codes": ["00"],
        "not_found_codes": ["01"],
        "refused_codes": ["10", "11", "12"],
        "unavailable_codes": ["97"],
        "timeout_codes": ["98"],
    }
    return {
        "base_url": f"{url}/svc",
        "canary": sector.canary,
        "timeout_seconds": 2,
        "axis": {
            "platform": "LGSP (test)",
            "auth": {
                "access_key": "ak",
                "secret_key": "sk",
                "app_name": "axis-gateway",
                "token_endpoint": {"url": f"{url}/token", "client_id": "axis-gateway", "client_secret": SECRET},
            },
            "metadata": {"constants": {"MaTichHop": "DKDN"}},
            "envelope": codes | envelope,
        },
    }


async def _get(connector: BusinessConnector, key: str) -> None:
    with use_context(CONTEXT):
        record = await connector.get(key)
    assert record.record_id() == key


async def test_a_lifetime_stated_as_text_is_the_tokens_lifetime(sector: Sector, platform: tuple[Platform, str]) -> None:
    """``"expires_in": "1"`` (.NET platforms send numbers as text): the token is renewed before it expires, not kept
    for the default five minutes and refused by the platform on the next call."""
    own, url = platform
    own.ttl, own.expires_in = 1.0, "1"
    async with BusinessConnector.from_config(_config(url, sector)) as connector:
        await _get(connector, sector.canary)
        await asyncio.sleep(1.1)
        await _get(connector, sector.canary)
    assert own.codes == ["00", "00"]  # never a call with an expired token
    assert own.token_requests == 2


@pytest.mark.parametrize("expires_in", [0, -60, "soon", True, None, {"seconds": 60}, 1e300, "NaN"])
async def test_an_odd_lifetime_is_survived(sector: Sector, platform: tuple[Platform, str], expires_in: Any) -> None:
    """A lifetime that is no positive number is the default one (five minutes); a huge one is taken as it is: the
    token serves the calls, one token request for all."""
    own, url = platform
    own.expires_in = expires_in
    async with BusinessConnector.from_config(_config(url, sector)) as connector:
        await _get(connector, sector.canary)
        await _get(connector, sector.canary)
    assert own.codes == ["00", "00"] and own.token_requests == 1


@pytest.mark.parametrize("trouble", ["slow", "down"])
async def test_a_token_endpoint_in_trouble_holds_no_call_while_the_token_is_valid(
    sector: Sector, platform: tuple[Platform, str], trouble: str
) -> None:
    """The token is due for renewal (half its two seconds have passed) but still valid: while the token endpoint
    hangs or fails, calls go on with it rather than waiting for, or failing with, the renewal."""
    own, url = platform
    own.ttl, own.expires_in = 2.0, 2
    config = _config(url, sector) | {"timeout_seconds": 0.5}
    async with BusinessConnector.from_config(config) as connector:
        await _get(connector, sector.canary)
        await asyncio.sleep(1.1)
        if trouble == "slow":
            own.token_delay = 1.0
        else:
            own.token_status = 500
        started = time.monotonic()
        await _get(connector, sector.canary)
        await _get(connector, sector.canary)
        assert time.monotonic() - started < 0.5
    assert own.codes == ["00", "00", "00"]
    assert own.token_requests == 2  # one renewal under way for both calls


async def test_a_token_endpoint_failing_once_is_asked_once_by_concurrent_calls(
    sector: Sector, platform: tuple[Platform, str]
) -> None:
    """Twenty calls needing a token while the token endpoint fails: they share its one answer (a thundering herd
    of token requests would hit a platform already in trouble twenty times)."""
    own, url = platform
    own.token_status, own.token_delay = 500, 0.05
    async with BusinessConnector.from_config(_config(url, sector)) as connector:
        with use_context(CONTEXT):
            outcomes = await asyncio.gather(*(connector.get(sector.canary) for _ in range(20)), return_exceptions=True)
    assert all(type(outcome) is UpstreamError and outcome.reason == "status_5xx" for outcome in outcomes), outcomes
    assert own.token_requests == 1
    assert own.codes == []


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "tökén-68", 123456])
async def test_a_token_no_header_can_carry_is_a_protocol_error_not_a_refusal(
    sector: Sector, platform: tuple[Platform, str], token: Any
) -> None:
    """The platform took the gateway's credentials but issued a token with a line break, a letter outside ASCII
    or a number: its mistake, reported as such (``check-protocol``), never "refused" (which sends
    operators after the credentials) and never sent."""
    own, url = platform
    own.token_value = token
    async with BusinessConnector.from_config(_config(url, sector)) as connector:
        with use_context(CONTEXT), pytest.raises(UpstreamError) as info:
            await connector.get(sector.canary)
        check = await connector.check()
    assert not isinstance(info.value, UpstreamRefused) and info.value.reason == "protocol"
    assert "issued a token that cannot be sent in an HTTP header" in info.value.message
    assert check.ok is False and "refused" not in check.message
    assert SECRET not in info.value.message + check.message and "X-Injected" not in check.message
    assert own.codes == []  # nothing sent with it


async def test_a_token_refused_in_an_http_200_envelope_is_renewed(
    sector: Sector, platform: tuple[Platform, str]
) -> None:
    """A platform that answers a revoked token with HTTP 200 and result code ``10`` (as many LGSPs do) rather than
    401: with ``10`` among ``token_codes`` the cached token is dropped, so that the next call fetches a new one
    instead of being refused until the token's stated expiry."""
    own, url = platform
    own.expired_status = 200
    codes = {"refused_codes": ["11", "12"], "token_codes": ["10"]}
    async with BusinessConnector.from_config(_config(url, sector, **codes)) as connector:
        await _get(connector, sector.canary)
        own.valid.clear()  # revoked, long before its stated expiry
        with use_context(CONTEXT), pytest.raises(UpstreamRefused) as info:
            await connector.get(sector.canary)
        await _get(connector, sector.canary)
    assert "the platform refused the gateway's token (result code 10, correlation id g1)" in info.value.message
    assert own.codes == ["00", "10", "00"] and own.token_requests == 2


@pytest.mark.parametrize(
    ("code", "error", "said"),
    [
        ("97", UpstreamUnavailable, "the platform's token endpoint is unavailable"),
        ("98", UpstreamTimeout, "the platform's token endpoint did not answer in time"),
        ("99", UpstreamError, "the platform's token endpoint failed"),
        ("01", UpstreamRefused, "the platform refused the token request"),
        ("11", UpstreamRefused, "the platform refused the token request"),
    ],
)
async def test_a_token_answer_in_the_platforms_envelope_is_judged_by_its_code(
    sector: Sector, platform: tuple[Platform, str], code: str, error: type[UpstreamError], said: str
) -> None:
    """A token endpoint answering HTTP 200 with an envelope and no token (``97``: under maintenance): what the code
    says, as for a call, not "refused" whatever it says (which takes the connection down at once as though its
    credentials were wrong); never "no such record" (``01``) either: no record was asked for."""
    own, url = platform
    own.token_body = {"MaKetQua": code, "ThongDiep": "Hệ thống đang bảo trì", "MaGiaoDich": "m-68"}
    async with BusinessConnector.from_config(_config(url, sector)) as connector:
        with use_context(CONTEXT), pytest.raises(UpstreamError) as info:
            await connector.get(sector.canary)
        check = await connector.check()
    assert type(info.value) is error and not isinstance(info.value, RecordNotFound)
    assert f"{said} (result code {code}, correlation id m-68)" in info.value.message
    assert ("refused" in check.message) == (error is UpstreamRefused) and check.ok is False
    assert "bảo trì" not in info.value.message + check.message  # the platform's text stays out
    assert own.codes == []


async def test_an_unreachable_token_endpoint_is_named_not_the_sector_system(
    sector: Sector, platform: tuple[Platform, str]
) -> None:
    """The platform's token endpoint on another host, down: the error says so (operators look at the platform's
    token service, not at the sector system), and it stays a transient failure."""
    own, url = platform
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = _config(url, sector)
    config["axis"]["auth"]["token_endpoint"]["url"] = f"http://127.0.0.1:{port}/token"
    async with BusinessConnector.from_config(config) as connector:
        with use_context(CONTEXT), pytest.raises(UpstreamUnavailable) as info:
            await connector.get(sector.canary)
    assert info.value.reason == "connect"
    assert "the platform's token endpoint cannot be reached (" in info.value.message
    assert "sector system" not in info.value.message and own.codes == []


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_platform_that_cannot_be_reached_is_named_not_the_sector_system(
    sector: Sector, platform: tuple[Platform, str], protocol: str
) -> None:
    """Through a platform, the gateway reaches the platform alone: when nothing answers there, the error names the
    platform (whose operator to call), never the sector system behind it, which may be fine."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = f"http://127.0.0.1:{port}"
    if protocol == "rest":
        config = _config(down, sector)
        config["axis"]["auth"]["token_endpoint"]["url"] = f"{platform[1]}/token"
        connector: Any = BusinessConnector.from_config(config)
    else:
        config = soap_connector_config(down, ping=False) | {
            "address": f"{down}{SOAP_SERVICE_PATH}",
            "axis": axis_profile(platform[1], "LLTP", protocol="soap"),
        }
        connector = SoapConnector.from_config(config)
    async with connector:
        with use_context(CONTEXT), pytest.raises(UpstreamUnavailable) as info:
            await connector.get(sector.canary)
    assert info.value.reason == "connect"
    assert "the integration platform cannot be reached (" in info.value.message, info.value.message
    assert "sector system" not in info.value.message


@pytest.fixture
def vietnam_local_time() -> Iterator[None]:
    """The process's local time is Vietnam's (UTC+7), as on the gateway's hosts."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "ICT-7"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def _asctime(seconds_ahead: float) -> str:
    """An HTTP date in asctime's form (RFC 9110 §5.6.7: recipients accept it), which states no zone: GMT."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(time.time() + seconds_ahead))


@pytest.mark.usefixtures("vietnam_local_time")
def test_a_retry_after_date_without_a_zone_is_gmt_not_local_time() -> None:
    for value in (_asctime(30), formatdate(time.time() + 30, usegmt=False).replace("+0000", "-0000")):
        wait = parse_retry_after(value)
        assert wait is not None and 28 <= wait <= 31, (value, wait)


@pytest.mark.usefixtures("vietnam_local_time")
async def test_a_rate_limited_call_waits_for_the_dates_retry_after(
    sector: Sector, platform: tuple[Platform, str]
) -> None:
    """A 429 whose ``Retry-After`` is an asctime date a second and a half ahead, on a host at UTC+7: the call waits
    for it (read as local time it was seven hours past, and the platform was called again at once)."""
    own, url = platform
    own.call_status, own.call_headers = 429, {"Retry-After": _asctime(1.5)}
    async with BusinessConnector.from_config(_config(url, sector) | {"timeout_seconds": 3}) as connector:
        started = time.monotonic()
        await _get(connector, sector.canary)
        waited = time.monotonic() - started
    assert own.codes == ["429", "00"]
    assert waited >= 0.4, waited  # the date's whole seconds: it waited, rather than calling again at once


async def test_a_rate_limited_call_beyond_its_deadline_is_unavailable(
    sector: Sector, platform: tuple[Platform, str]
) -> None:
    own, url = platform
    own.call_status, own.call_headers = 429, {"Retry-After": formatdate(time.time() + 60, usegmt=True)}
    async with BusinessConnector.from_config(_config(url, sector)) as connector:
        with use_context(CONTEXT), pytest.raises(UpstreamUnavailable) as info:
            await connector.get(sector.canary)
    assert info.value.reason == "rate_limited" and own.codes == ["429"]


# -- the request metadata ----------------------------------------------------------------------------------------


def _named(raw: list[tuple[str, str]], name: str) -> list[str]:
    return [value for header, value in raw if header == name.lower()]


@pytest.mark.parametrize("engine", ["aiohttp", "httpx"])
async def test_each_metadata_header_is_sent_once(sector: Sector, platform: tuple[Platform, str], engine: str) -> None:
    """A platform that wants the request id as ``X-Request-ID`` while the connection forwards it as ``X-Request-Id``
    (the default context header): one header, whatever the engine (two would be read as ``"req-1, req-1"``)."""
    own, url = platform
    config = _config(url, sector) | {"http_transport": engine}
    config["axis"]["metadata"]["fields"] = {"X-Request-ID": "request_id", "MaDVC": "purpose", "MaDonVi": "agency_code"}
    async with BusinessConnector.from_config(config) as connector:
        await _get(connector, sector.canary)
    ((raw, _),) = own.received
    assert _named(raw, "x-request-id") == ["req-1"]
    assert _named(raw, "madvc") == ["1.000001"] and _named(raw, "matichhop") == ["DKDN"]
    assert len(_named(raw, "authorization")) == 1 and len(_named(raw, "lgspaccesstoken")) == 1


@pytest.mark.parametrize("location", ["header", "fields"])
async def test_unusual_context_values_never_make_headers(
    sector: Sector, platform: tuple[Platform, str], location: str
) -> None:
    """An officer id with a line break and a header after it, a procedure code with accents: as headers, the first
    is left out and no header of its making arrives, the second too (header values are ASCII); as request fields,
    the accented text goes as it is, the line break still not."""
    own, url = platform
    config = _config(url, sector)
    config["axis"]["metadata"]["location"] = location
    context = RequestContext(
        request_id="req-2", agency_code="000.00.11.H41", purpose="Cấp phiếu 1.000001", actor="CB-1\r\nX-Injected: 1"
    )
    async with BusinessConnector.from_config(config) as connector:
        with use_context(context):
            await connector.get(sector.canary)
    ((raw, query),) = own.received
    assert not _named(raw, "x-injected") and all("\n" not in value and "\r" not in value for _, value in raw)
    assert not _named(raw, "macanbo") and "MaCanBo" not in query
    if location == "header":
        assert not _named(raw, "madvc") and _named(raw, "mayeucau") == ["req-2"]
    else:
        assert query["MaDVC"] == "Cấp phiếu 1.000001" and query["MaYeuCau"] == "req-2"


@pytest.mark.parametrize("engine", ["aiohttp", "httpx"])
async def test_credentials_stay_out_of_logs_and_errors(
    sector: Sector, platform: tuple[Platform, str], engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every way a token request or a call fails, logged at DEBUG: neither the client secret, nor
    ``lgspaccesstoken`` (the base64 of the secret key), nor an issued token appears in a log line or an error."""
    own, url = platform
    config = _config(url, sector) | {"http_transport": engine}
    config["axis"]["auth"]["secret_key"] = "lgsp-secret-key-68"
    said: list[str] = []
    caplog.set_level("DEBUG")
    async with BusinessConnector.from_config(config) as connector:
        await _get(connector, sector.canary)
        issued = list(own.valid)
        for change in ({"token_status": 500}, {"token_status": 401}, {"token_body": {"MaKetQua": "97"}}):
            own.valid.clear()
            own.token_status, own.token_body = 200, None
            for name, value in change.items():
                setattr(own, name, value)
            with use_context(CONTEXT), pytest.raises(UpstreamError) as info:
                await connector.get(sector.canary)
            said += [info.value.message, (await connector.check()).message]
    ((raw, _), *_) = own.received
    (access,) = _named(raw, "lgspaccesstoken")
    text = caplog.text + "\n".join(said)
    for secret in (SECRET, "lgsp-secret-key-68", access, *issued):
        assert secret not in text


@pytest.mark.parametrize("scheme", ["Bearer\r\nX-Injected: 1", "Bearer ", "Bảo mật", ""])
def test_a_token_scheme_no_header_can_carry_is_refused_at_load(
    sector: Sector, platform: tuple[Platform, str], scheme: str
) -> None:
    """The scheme goes in the header before the token: one with a line break (a header of its own), a space or a
    letter outside ASCII is refused when the configuration is loaded, naming it, rather than failing every call."""
    _, url = platform
    config = _config(url, sector)
    config["axis"]["auth"]["token_endpoint"]["scheme"] = scheme
    with pytest.raises(ConnectorConfigError, match="is not an authentication scheme"):
        BusinessConnector.from_config(config)
    for usable in ("Bearer", "Token", None):
        config["axis"]["auth"]["token_endpoint"]["scheme"] = usable
        BusinessConnector.from_config(config)
