"""The axis profile of the REST and SOAP adapters, over real sockets: the business registry (REST) and the judicial
records service (SOAP) reached through the simulated national platform (:mod:`simulators.ndxp_hub`), with LGSP
authentication, the request metadata of the call's context, and the platform's envelope; its refusals and failures
as the connector errors the gateway answers with."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from judicial_records_fixtures import requests
from platform_world import PlatformWorld, forward, platform_fixtures
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support import LiveServer

from connectors.base import Connector
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
from connectors.judicial_records import JudicialRecordsConnector
from connectors.platform import AxisProfile
from connectors.rest import RestConnectorConfig
from connectors.soap import SoapConnector, SoapConnectorConfig
from contracts.business import EnterpriseQuery
from simulators.http import SimulatorServer
from simulators.judicial_records_soap import JudicialRecordsService, soap_connector_config
from simulators.judicial_records_soap.wsdl import wsdl_document
from simulators.ndxp_hub import HubCredentials, NdxpHub, via_hub

pytestmark = pytest.mark.anyio

CONTEXT = RequestContext(
    request_id="req-068-0001", client_id="so-tu-phap", agency_code="000.00.11.H41", purpose="1.000001", actor="CB-1"
)


world, hub = platform_fixtures("axis-profile")


def _lgsp_document(value: str) -> dict[str, Any]:
    document = json.loads(base64.b64decode(value))
    assert isinstance(document, dict)
    return document


async def test_a_rest_connector_reads_through_the_platform_with_lgsp_auth_and_metadata(
    world: PlatformWorld, hub: NdxpHub
) -> None:
    config = world.rest()
    async with (
        BusinessConnector.from_config(config) as connector,
        BusinessConnector.from_config(world.business) as direct,
    ):
        with use_context(CONTEXT):
            record = await connector.get(config["canary"])
            page = await connector.search(EnterpriseQuery(name="công ty"), limit=3)
        assert record == await direct.get(config["canary"])
        assert page.items and len(page.items) <= 3
    (token, *_) = [r for r in hub.received if r.kind == "token"]
    assert token.code == "00"
    calls = hub.calls("DKDN")
    assert [call.code for call in calls] == ["00", "00"]
    for call in calls:
        assert call.metadata == {
            "MaYeuCau": "req-068-0001",
            "MaDVC": "1.000001",
            "MaDonVi": "000.00.11.H41",
            "MaCanBo": "CB-1",
            "MaTichHop": "DKDN",
        }
        assert call.headers["authorization"].startswith("Bearer ")
        assert _lgsp_document(call.headers["lgspaccesstoken"]) == {
            "AccessKey": "sim-lgsp-access-key",
            "SecretKey": "sim-lgsp-secret-key",
            "AppName": "axis-gateway",
            "PartnerCode": "000.00.00.H41",
            "PartnerCodeCus": "000.00.00.H41",
        }
    assert _lgsp_document(token.headers["lgspaccesstoken"])["AppName"] == "axis-gateway"


async def test_a_soap_connector_reads_through_the_platform(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.soap()
    async with JudicialRecordsConnector.from_config(config) as connector:
        with use_context(CONTEXT):
            record = await connector.get(config["canary"])
            with pytest.raises(RecordNotFound):
                await connector.get("LLTP-68-1999-999999")
        assert (await connector.check()).ok
    async with JudicialRecordsConnector.from_config(world.judicial) as direct:
        assert record == await direct.get(config["canary"])
    calls = hub.calls("LLTP")
    assert len(calls) == 3 and all(call.code == "00" for call in calls)
    assert calls[0].metadata["MaDVC"] == "1.000001" and calls[0].metadata["MaCanBo"] == "CB-1"
    assert calls[0].metadata["MaTichHop"] == "LLTP"
    # The health check runs outside any request: it states the configured fallback procedure and agency.
    assert calls[2].metadata["MaDVC"] == "1.001612.000.00.00.H41" and "MaCanBo" not in calls[2].metadata
    assert calls[2].metadata["MaYeuCau"]  # a request id of its own
    assert hub.count("tokens_issued") == 1


async def test_the_token_is_cached_and_fetched_again_after_a_401(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.rest()
    async with BusinessConnector.from_config(config) as connector:
        with use_context(CONTEXT):
            await asyncio.gather(*(connector.get(config["canary"]) for _ in range(8)))
            assert hub.count("tokens_issued") == 1  # one token for concurrent calls
            hub.revoke_tokens()  # the platform forgets it: the next call is answered 401, once
            await connector.get(config["canary"])
    assert hub.count("tokens_issued") == 2
    assert [call.code for call in hub.calls()][-2:] == ["10", "00"]


async def test_the_token_is_renewed_before_it_expires(tmp_path: Path, world: PlatformWorld) -> None:
    credentials = HubCredentials(token_ttl_seconds=1)  # renewed half a second before it expires
    hub = NdxpHub(credentials=credentials)
    with SimulatorServer(hub) as server:
        config = via_hub(hub, server.url, "DKDN", world.business, protocol="rest", credentials=credentials)
        async with BusinessConnector.from_config(config) as connector:
            with use_context(CONTEXT):
                await connector.get(config["canary"])
                await asyncio.sleep(0.6)
                # Due for renewal but still valid: the call goes with it while a new one is fetched beside it.
                await connector.get(config["canary"])
                for _ in range(500):  # the renewal's answer, within 5 s
                    if hub.count("tokens_issued") == 2:
                        break
                    await asyncio.sleep(0.01)
                await connector.get(config["canary"])
    assert hub.count("tokens_issued") == 2
    assert [call.code for call in hub.calls()] == ["00", "00", "00"]  # never a 401


async def test_a_get_token_endpoint_and_a_bare_token_header(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.rest(token_method="GET", token_header="X-Authentication-Token", location="fields")
    async with BusinessConnector.from_config(config) as connector:
        with use_context(CONTEXT):
            await connector.get(config["canary"])
    (token,) = [r for r in hub.received if r.kind == "token"]
    assert token.method == "GET"
    (call,) = hub.calls()
    assert "authorization" not in call.headers and call.headers["x-authentication-token"]
    # The metadata went in the query, not in headers.
    assert call.query["MaDVC"] == "1.000001" and call.query["MaTichHop"] == "DKDN"
    assert "madvc" not in call.headers


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_refused_token_is_a_refusal_and_the_health_check_says_so(
    world: PlatformWorld, hub: NdxpHub, protocol: str
) -> None:
    connector: Connector[Any]
    if protocol == "rest":
        config = world.rest()
        connector = BusinessConnector.from_config(config)
    else:
        config = world.soap()
        connector = JudicialRecordsConnector.from_config(config)
    hub.misbehave(mode="refuse_token")
    async with connector:
        with use_context(CONTEXT), pytest.raises(UpstreamRefused) as info:
            await connector.get(config["canary"])
        check = await connector.check()
        with pytest.raises(UpstreamRefused) as probed:
            await connector.health()
    assert info.value.reason == "refused" and probed.value.reason == "refused"
    assert "refused the token request (HTTP 401)" in info.value.message
    assert check.ok is False and "the platform refused the token request" in check.message
    assert "sim-lgsp-secret-key" not in check.message + info.value.message + probed.value.message
    assert hub.calls() == []  # no call without a token


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_calls_the_platform_keeps_refusing_after_a_new_token(
    world: PlatformWorld, hub: NdxpHub, protocol: str
) -> None:
    connector: Connector[Any]
    if protocol == "rest":
        config = world.rest()
        connector = BusinessConnector.from_config(config)
    else:
        config = world.soap()
        connector = JudicialRecordsConnector.from_config(config)
    hub.misbehave(mode="reject_calls")
    async with connector:
        with use_context(CONTEXT), pytest.raises(UpstreamRefused) as info:
            await connector.get(config["canary"])
    assert "refused the gateway's token (HTTP 401)" in info.value.message
    assert hub.count("tokens_issued") == 2  # the token was fetched again, once
    assert [call.code for call in hub.calls()] == ["10", "10"]


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_call_without_a_procedure_code_is_refused(world: PlatformWorld, hub: NdxpHub, protocol: str) -> None:
    connector: Connector[Any]
    if protocol == "rest":
        config = world.rest(fallback={})
        connector = BusinessConnector.from_config(config)
    else:
        config = world.soap(fallback={})
        connector = JudicialRecordsConnector.from_config(config)
    async with connector:
        with (
            use_context(RequestContext(request_id="r1", agency_code="000.00.11.H41")),
            pytest.raises(UpstreamRefused) as info,
        ):
            await connector.get(config["canary"])
        check = await connector.check()  # outside any request, and nothing to fall back on
    assert "the platform refused the call (result code 12, correlation id " in info.value.message
    assert check.ok is False and "result code 12" in check.message
    (refused, _) = hub.calls()
    assert refused.code == "12" and "MaDVC" not in refused.metadata and refused.metadata["MaYeuCau"] == "r1"


async def test_dropped_metadata_is_a_refusal(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.rest()
    hub.misbehave(mode="drop_metadata", times=1)
    async with BusinessConnector.from_config(config) as connector:
        with use_context(CONTEXT):
            with pytest.raises(UpstreamRefused, match="result code 12"):
                await connector.get(config["canary"])
            await connector.get(config["canary"])  # the next call gets through


@pytest.mark.parametrize(
    ("code", "error", "reason"),
    [
        ("99", UpstreamError, "status_5xx"),
        ("97", UpstreamUnavailable, "connect"),
        ("98", UpstreamTimeout, "timeout"),
        ("13", UpstreamRefused, "refused"),
    ],
)
@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_error_envelopes_are_the_errors_they_mean(
    world: PlatformWorld, hub: NdxpHub, protocol: str, code: str, error: type[UpstreamError], reason: str
) -> None:
    connector: Connector[Any]
    if protocol == "rest":
        config = world.rest()
        connector = BusinessConnector.from_config(config)
    else:
        config = world.soap()
        connector = JudicialRecordsConnector.from_config(config)
    hub.misbehave(mode="error_envelope", code=code)
    async with connector:
        with use_context(CONTEXT), pytest.raises(error) as info:
            await connector.get(config["canary"])
        check = await connector.check()
    assert type(info.value) is error and info.value.reason == reason
    assert f"result code {code}" in info.value.message and check.ok is False
    # An error envelope answered with HTTP 200 means the same.
    hub.misbehave(mode="error_envelope", code=code, status=200)
    async with connector:
        with use_context(CONTEXT), pytest.raises(error):
            await connector.get(config["canary"])


async def test_not_found_through_the_platform(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.rest()
    async with BusinessConnector.from_config(config) as connector:
        with use_context(CONTEXT), pytest.raises(RecordNotFound):
            await connector.get("0100233488")
    assert [call.code for call in hub.calls()] == ["01"]


async def test_a_slow_platform_times_out(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.rest() | {"timeout_seconds": 0.3}
    hub.misbehave(mode="slow", delay_ms=5000)
    async with BusinessConnector.from_config(config) as connector:
        started = time.perf_counter()
        with use_context(CONTEXT), pytest.raises(UpstreamTimeout):
            await connector.get(config["canary"])
        assert time.perf_counter() - started < 4  # the deadline, not the platform's delay


def test_profile_configuration_is_checked(world: PlatformWorld) -> None:
    rest, soap = world.rest(), world.soap()
    with pytest.raises(ConnectorConfigError, match="location: header"):
        JudicialRecordsConnector.from_config(soap | {"axis": {**soap["axis"], "metadata": {"location": "fields"}}})
    bad_envelopes = [
        {"statuses": [401]},
        {"result_code": "[?"},
        {"success_codes": ["00"], "refused_codes": ["00"]},
    ]
    for envelope in bad_envelopes:
        with pytest.raises(ConnectorConfigError):
            BusinessConnector.from_config(rest | {"axis": {**rest["axis"], "envelope": envelope}})
    bad_metadata = [{"fields": {"MaDVC": "nothing"}}, {"fallback": {"deadline": "1"}}, {"fields": {"Ma DVC": "actor"}}]
    for metadata in bad_metadata:
        with pytest.raises(ConnectorConfigError):
            BusinessConnector.from_config(rest | {"axis": {**rest["axis"], "metadata": metadata}})
    # Every part of the profile is in the adapters' JSON Schema.
    for model in (RestConnectorConfig, SoapConnectorConfig):
        schema = json.dumps(model.model_json_schema())
        assert all(name in schema for name in ("AxisProfile", "LgspAuth", "RequestMetadata", "EnvelopeProfile"))


async def test_a_health_probe_of_a_missing_record_through_the_platform(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.rest()
    probe = {"path": "/api/doanh-nghiep/0100233488"}
    async with BusinessConnector.from_config(config | {"ping": {**probe, "expect_status": [200, 404]}}) as connector:
        assert (await connector.check()).ok
    async with BusinessConnector.from_config(config | {"ping": probe}) as connector:
        check = await connector.check()
    assert check.ok is False and "the health endpoint was not found" in check.message
    assert [call.code for call in hub.calls()] == ["01", "01"]


def test_the_hub_is_controlled_over_http(world: PlatformWorld, hub: NdxpHub) -> None:

    with httpx.Client(base_url=world.hub_url, timeout=10) as http:
        set_ = http.post("/_simulator/misbehave", json={"mode": "error_envelope", "code": "98", "times": 1})
        assert set_.status_code == 200 and set_.json()["code"] == "98"
        assert http.post("/_simulator/misbehave", json={"mode": "error_envelope", "code": "42"}).status_code == 400
        config = world.rest()
        asyncio.run(_get_once(config, expect=UpstreamTimeout))
        asyncio.run(_get_once(config, expect=None))  # only once
        stats = http.get("/_simulator/stats").json()
        assert stats["stats"]["98"] == 1 and stats["stats"]["00"] == 1
        assert [call["code"] for call in stats["recent_calls"]] == ["98", "00"]
        assert stats["recent_calls"][0]["metadata"]["MaDVC"] == "1.000001"
        assert http.post("/_simulator/reset").json() == {"ok": True}
    assert hub.calls() == []


async def _get_once(config: dict[str, Any], *, expect: type[Exception] | None) -> None:
    async with BusinessConnector.from_config(config) as connector:
        with use_context(CONTEXT):
            if expect is None:
                await connector.get(config["canary"])
            else:
                with pytest.raises(expect):
                    await connector.get(config["canary"])


def test_the_hub_answers_502_for_a_service_description_it_cannot_fetch(world: PlatformWorld, hub: NdxpHub) -> None:
    """A platform whose sector system is gone (a demo stopping, its simulators first) answers the public WSDL's
    fetch with a gateway error, not with an error of its own."""

    from simulators.ndxp_hub import HubRoute

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    hub.register(HubRoute("LLTP-GONE", f"http://127.0.0.1:{port}", "soap"))
    answer = httpx.get(f"{world.hub_url}/ndxp/LLTP-GONE/ws/ly-lich-tu-phap?wsdl", timeout=10)
    assert answer.status_code == 502, answer.text
    assert answer.text == "the sector system cannot be reached"


# -- what the platform answers, and what it is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error", "reason"),
    [
        ("98", 504, UpstreamTimeout, "timeout"),
        ("97", 503, UpstreamUnavailable, "connect"),
        ("99", 502, UpstreamError, "status_5xx"),
        ("13", 403, UpstreamRefused, "refused"),
    ],
)
async def test_a_soap_error_envelope_under_the_platforms_own_status(
    world: PlatformWorld, hub: NdxpHub, code: str, status: int, error: type[UpstreamError], reason: str
) -> None:
    """A platform answers its SOAP envelope with the status of what happened (504: the sector system did not answer
    it in time) rather than SOAP's 500: the result code decides, as in REST, for every status in ``statuses``."""
    config = world.soap()
    envelope = AxisProfile.model_validate(config["axis"]).envelope
    assert envelope is not None and status in envelope.statuses
    hub.misbehave(mode="error_envelope", code=code, status=status)
    async with JudicialRecordsConnector.from_config(config) as connector:
        with use_context(CONTEXT), pytest.raises(error) as info:
            await connector.get(config["canary"])
    assert type(info.value) is error and info.value.reason == reason
    assert f"result code {code}, correlation id " in info.value.message
    assert [call.code for call in hub.calls()] == [code]  # judged by its code: a 504 that says 98 is not retried


async def test_a_soap_connection_through_the_platform_calls_its_address_only(
    world: PlatformWorld, hub: NdxpHub, tmp_path: Path
) -> None:
    """The platform's credentials (its token, ``lgspaccesstoken`` and its secret key) go to the platform's endpoint
    the configuration names, never to the address a WSDL names: without ``address`` the configuration is refused."""
    soap = world.soap()
    without = {key: value for key, value in soap.items() if key != "address"}
    with pytest.raises(ConnectorConfigError, match="'address' is required with 'axis'"):
        JudicialRecordsConnector.from_config(without)
    seen: list[dict[str, str]] = []

    async def collect(request: Request) -> Response:
        seen.append(dict(request.headers))
        return Response(b"", 500)

    with LiveServer(Starlette(routes=[Route("/{path:path}", collect, methods=["GET", "POST"])])) as elsewhere:
        local = tmp_path / "lltp.wsdl"
        local.write_bytes(wsdl_document(elsewhere.url))  # a WSDL naming another server
        async with JudicialRecordsConnector.from_config(soap | {"wsdl": str(local)}) as connector:
            with use_context(CONTEXT):
                await connector.get(soap["canary"])
            assert (await connector.check()).ok
    assert seen == []
    assert [call.code for call in hub.calls("LLTP")] == ["00", "00"]


@pytest.mark.parametrize("protocol", ["rest", "soap"])
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (
            {"constants": {"MaTichHop": "X", "TenDonVi": "Sở Tư pháp"}},
            "constants.TenDonVi: the value goes in an HTTP header",
        ),
        ({"fallback": {"purpose": "Cấp phiếu lý lịch tư pháp"}}, "fallback.purpose: the value goes in an HTTP header"),
        ({"fallback": {"purpose": "1.001612\n{}"}}, "the value of 'purpose' is not printable text"),
    ],
)
def test_metadata_a_header_cannot_carry_is_refused_at_load(
    world: PlatformWorld, protocol: str, change: dict[str, Any], complaint: str
) -> None:
    config = world.rest() if protocol == "rest" else world.soap()
    connector = BusinessConnector if protocol == "rest" else JudicialRecordsConnector
    metadata = {**config["axis"]["metadata"], **change}
    with pytest.raises(ConnectorConfigError) as info:
        connector.from_config(config | {"axis": {**config["axis"], "metadata": metadata}})
    assert complaint in info.value.message
    if protocol == "rest" and "constants" in change:  # request fields carry any text
        fields = {**metadata, "location": "fields"}
        BusinessConnector.from_config(config | {"axis": {**config["axis"], "metadata": fields}})


async def test_a_context_value_a_header_cannot_carry_is_left_out(world: PlatformWorld, hub: NdxpHub) -> None:
    config = world.soap()
    async with JudicialRecordsConnector.from_config(config) as connector:
        with use_context(replace(CONTEXT, actor="Cán bộ Nguyễn Văn A")):
            await connector.get(config["canary"])
    (call,) = hub.calls("LLTP")
    assert call.code == "00" and "MaCanBo" not in call.metadata and call.metadata["MaDVC"] == "1.000001"


def test_own_credentials_and_the_platforms_token_in_one_header_are_refused(world: PlatformWorld) -> None:
    soap, rest = world.soap(), world.rest()
    for auth in ({"type": "basic", "username": "axis", "password": "pw"}, {"type": "bearer", "token": "t"}):
        with pytest.raises(ConnectorConfigError, match="would both use the Authorization header"):
            JudicialRecordsConnector.from_config(soap | {"auth": auth})
    with pytest.raises(ConnectorConfigError, match="would both set the header 'authorization'"):
        BusinessConnector.from_config(rest | {"auth": {"type": "bearer", "token": "t"}})
    elsewhere = {"header": "X-Authentication-Token", "scheme": None}
    for config, connector in ((soap, JudicialRecordsConnector), (rest, BusinessConnector)):
        token = {**config["axis"]["auth"]["token_endpoint"], **elsewhere}
        axis = {**config["axis"], "auth": {**config["axis"]["auth"], "token_endpoint": token}}
        connector.from_config(config | {"axis": axis, "auth": {"type": "bearer", "token": "t"}})


_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class Front:
    """A proxy in front of the hub, standing for a platform's front end: it passes everything on, but can throttle
    or redirect token requests and put a byte-order mark before JSON answers (as .NET platforms do); it records
    the headers of the token requests."""

    hub_url: str
    throttle: int = 0
    throttle_status: int = 429
    retry_after: str | None = None
    redirect: bool = False
    bom: bool = False
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])

    async def _forward(self, request: Request) -> Response:
        if request.url.path == "/token":
            self.token_requests.append({name.lower(): value for name, value in request.headers.items()})
            if self.throttle:
                self.throttle -= 1
                return Response(
                    b"slow down",
                    self.throttle_status,
                    headers={"Retry-After": self.retry_after} if self.retry_after else {},
                )
            if self.redirect:
                return Response(b"", 302, headers={"Location": "https://login.example.gov.vn/"})
        answer = await forward(request, self.hub_url)
        content, media = answer.content, answer.headers.get("content-type", "")
        if self.bom and "json" in media:
            content = _UTF8_BOM + content
        return Response(content, answer.status_code, media_type=media or None)


@pytest.fixture
def front(world: PlatformWorld) -> Iterator[tuple[Front, str]]:
    proxy = Front(world.hub_url)
    with LiveServer(proxy.app()) as live:
        yield proxy, live.url


@pytest.mark.parametrize(
    ("status", "reason", "said"),
    [(429, "rate_limited", "is rate limiting the gateway"), (503, "status_5xx", "is unavailable")],
)
@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_throttled_token_endpoint_is_waited_for_not_a_refusal(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str, status: int, reason: str, said: str
) -> None:
    proxy, url = front
    proxy.throttle, proxy.throttle_status, proxy.retry_after = 1, status, "1"
    config, connector = world.through(url, protocol)
    async with connector:
        started = time.monotonic()
        with use_context(CONTEXT):
            await connector.get(config["canary"])  # after the wait the token endpoint asked for
        assert time.monotonic() - started >= 0.9
    assert len(proxy.token_requests) == 2 and hub.count("tokens_issued") == 1
    # A wait beyond the call's deadline: the call fails at once, the platform busy rather than refusing.
    proxy.throttle, proxy.retry_after = 10, "30"
    config, connector = world.through(url, protocol)
    async with connector:
        started = time.monotonic()
        with use_context(CONTEXT), pytest.raises(UpstreamUnavailable) as info:
            await connector.get(config["canary"])
        assert time.monotonic() - started < 2
        check = await connector.check()
    assert info.value.reason == reason
    assert f"the platform's token endpoint {said} (HTTP {status})" in info.value.message
    assert check.ok is False and "refused" not in check.message


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_redirected_token_request_is_a_protocol_error(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str
) -> None:
    proxy, url = front
    proxy.redirect = True
    config, connector = world.through(url, protocol)
    async with connector:
        with use_context(CONTEXT), pytest.raises(UpstreamError) as info:
            await connector.get(config["canary"])
    assert not isinstance(info.value, UpstreamRefused) and info.value.reason == "protocol"
    assert "the platform's token endpoint answered a redirect (HTTP 302)" in info.value.message
    assert len(proxy.token_requests) == 1  # neither followed nor retried


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_json_after_a_byte_order_mark_is_read(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str
) -> None:
    proxy, url = front
    proxy.bom = True  # the token answer, and the REST envelope
    config, connector = world.through(url, protocol)
    async with connector:
        with use_context(CONTEXT):
            record = await connector.get(config["canary"])
    assert record.record_id() == config["canary"]
    assert [call.code for call in hub.calls()] == ["00"]


async def test_a_soap_connections_own_credentials_never_go_to_the_token_endpoint(
    hub: NdxpHub, front: tuple[Front, str]
) -> None:
    """A sector service with HTTP Basic of its own, through the platform, whose token travels in another header:
    each credential goes where it belongs, and the token request carries only the platform's."""
    proxy, url = front
    row = requests()[0]
    with SimulatorServer(JudicialRecordsService(requests(), auth="basic")) as sector:
        direct = soap_connector_config(sector.url, auth="basic")
        config = via_hub(
            hub, url, "LLTP-BASIC", direct, protocol="soap", token_method="GET", token_header="X-Authentication-Token"
        )
        async with SoapConnector.from_config(config) as connector:
            with use_context(CONTEXT):
                record = await connector.get(row["so_ho_so"])
    assert record.record_id() == row["so_ho_so"]
    (token_request,) = proxy.token_requests
    assert "authorization" not in token_request and token_request["lgspaccesstoken"]
    (call,) = hub.calls("LLTP-BASIC")
    assert call.code == "00" and call.headers["authorization"].startswith("Basic ")
    assert call.headers["x-authentication-token"]
