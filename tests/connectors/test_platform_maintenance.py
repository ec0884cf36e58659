"""A national platform under maintenance: its front end (or a proxy before it) answers 503, 502 or 504 with a plain
web page, not the platform's envelope, sometimes with a ``Retry-After`` in seconds or as an HTTP date. A read through
the platform (REST and SOAP) takes that for what it is, the platform unavailable for now: it tries again as after any
transient failure, within the call's deadline, and when the tries run out the error names the integration platform,
never the sector system behind it, and counts as a failed call in the axis evidence.

The platform is the simulated hub (:mod:`simulators.ndxp_hub`) behind a front end of the test's own on 127.0.0.1,
which answers the calls (never the token requests nor the WSDL) with maintenance pages while the test says so."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate

import pytest
from platform_world import PlatformWorld, forward, platform_fixtures
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support import LiveServer

from connectors.business import BusinessConnector
from connectors.context import RequestContext, use_context
from connectors.errors import UpstreamError, UpstreamRefused, UpstreamUnavailable
from contracts.business import EnterpriseQuery
from gateway.core.problems import from_connector_error
from gateway.core.settings import CircuitPolicy, HealthPolicy
from gateway.records.evidence import Evidence
from gateway.records.registry import Database, new_circuit
from gateway.records.service import read_record
from simulators.ndxp_hub import NdxpHub

pytestmark = pytest.mark.anyio

CONTEXT = RequestContext(
    request_id="req-068-0503", client_id="so-tu-phap", agency_code="000.00.11.H41", purpose="1.000001", actor="CB-1"
)
PAGE = b"<html><body><h1>H\xe1\xbb\x87 th\xe1\xbb\x91ng \xc4\x91ang b\xe1\xba\xa3o tr\xc3\xac</h1></body></html>"
#: What each status means when the platform answers it without its envelope: the error, its message, the problem
#: the gateway answers with.
SAID = {
    503: (UpstreamUnavailable, "the integration platform is unavailable (HTTP 503)", "upstream-unavailable"),
    502: (UpstreamError, "the integration platform failed (HTTP 502)", "upstream-error"),
    504: (UpstreamError, "the integration platform failed (HTTP 504)", "upstream-error"),
}


world, hub = platform_fixtures("platform-maintenance")


@dataclass
class Front:
    """The platform's front end: it passes everything on to the hub, but answers the next ``maintenance`` calls
    (token requests and WSDL downloads pass) with ``status`` and a web page, with ``retry_after`` if set. It
    records when each call arrived (``time.time()``) and with which method."""

    hub_url: str
    maintenance: int = 0
    status: int = 503
    retry_after: str | None = None
    arrivals: list[float] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])

    async def _forward(self, request: Request) -> Response:
        is_call = request.url.path.startswith("/ndxp/") and request.url.query != "wsdl"
        if is_call:
            self.arrivals.append(time.time())
            self.methods.append(request.method)
            if self.maintenance:
                self.maintenance -= 1
                headers = {"Retry-After": self.retry_after} if self.retry_after else {}
                return Response(PAGE, self.status, headers=headers, media_type="text/html; charset=utf-8")
        answer = await forward(request, self.hub_url)
        return Response(answer.content, answer.status_code, media_type=answer.headers.get("content-type") or None)


@pytest.fixture
def front(world: PlatformWorld) -> Iterator[tuple[Front, str]]:
    proxy = Front(world.hub_url)
    with LiveServer(proxy.app()) as live:
        yield proxy, live.url


def _http_date(seconds_ahead: float) -> tuple[str, float]:
    """An HTTP date (IMF-fixdate, GMT) at least ``seconds_ahead`` from now, on a whole second, and that instant."""
    instant = math.ceil(time.time() + seconds_ahead)
    return formatdate(instant, usegmt=True), float(instant)


@pytest.mark.parametrize("status", [503, 502, 504])
@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_maintenance_page_once_is_tried_again(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str, status: int
) -> None:
    """One maintenance page, then the platform is back: the read succeeds, the platform called twice, the sector
    system once."""
    proxy, url = front
    proxy.maintenance, proxy.status = 1, status
    config, connector = world.through(url, protocol, timeout_seconds=5)
    async with connector:
        with use_context(CONTEXT):
            record = await connector.get(config["canary"])
    assert record.record_id() == config["canary"]
    assert len(proxy.arrivals) == 2 and proxy.maintenance == 0
    assert [call.code for call in hub.calls()] == ["00"]


@pytest.mark.parametrize("form", ["seconds", "date"])
@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_maintenance_pages_retry_after_is_honoured(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str, form: str
) -> None:
    """A 503 page asking for a second's (or a date's) wait, within the deadline: the next try comes no earlier than
    it asked."""
    proxy, url = front
    if form == "seconds":
        proxy.retry_after, not_before = "1", None
    else:
        proxy.retry_after, not_before = _http_date(1)
    proxy.maintenance = 1
    config, connector = world.through(url, protocol, timeout_seconds=5)
    async with connector:
        with use_context(CONTEXT):
            record = await connector.get(config["canary"])
    assert record.record_id() == config["canary"]
    first, second = proxy.arrivals
    assert second >= (not_before if not_before is not None else first + 1) - 0.05, (first, second, not_before)


@pytest.mark.parametrize("status", [503, 502, 504])
@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_platform_staying_in_maintenance_fails_naming_the_platform(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str, status: int
) -> None:
    """Maintenance pages to every try: the read fails once the retry policy's attempts are spent, before its
    deadline, naming the integration platform (not the sector system, which never saw the call); the health check
    says the same."""
    proxy, url = front
    proxy.maintenance, proxy.status = 1000, status
    config, connector = world.through(url, protocol, timeout_seconds=5)
    error, said, problem = SAID[status]
    async with connector:
        started = time.monotonic()
        with use_context(CONTEXT), pytest.raises(UpstreamError) as info:
            await connector.get(config["canary"])
        assert time.monotonic() - started < 5
        tries = len(proxy.arrivals)
        check = await connector.check()
    assert type(info.value) is error and info.value.reason == "status_5xx"
    assert said in info.value.message and "sector system" not in info.value.message
    assert from_connector_error(info.value).slug == problem
    assert tries == connector.config.retry.max_attempts
    assert check.ok is False and check.message is not None and "integration platform" in check.message
    assert hub.calls() == []


@pytest.mark.parametrize("form", ["seconds", "date"])
@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str, form: str
) -> None:
    """A 503 page asking for a wait longer than what is left of the call's deadline: the call fails at once, naming
    the platform, rather than waiting for it (or past its deadline)."""
    proxy, url = front
    proxy.maintenance = 1000
    proxy.retry_after = "3600" if form == "seconds" else _http_date(3600)[0]
    config, connector = world.through(url, protocol, timeout_seconds=3)
    async with connector:
        started = time.monotonic()
        with use_context(CONTEXT), pytest.raises(UpstreamUnavailable) as info:
            await connector.get(config["canary"])
        assert time.monotonic() - started < 2  # not waited for: neither the hour nor the deadline
    assert info.value.reason == "status_5xx"
    assert "the integration platform is unavailable (HTTP 503)" in info.value.message
    assert len(proxy.arrivals) == 1 and hub.calls() == []


async def test_a_search_sent_as_post_is_not_tried_again(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str]
) -> None:
    """A REST call that is not idempotent (a ``POST``) is never sent twice: one maintenance page fails it at once,
    naming the platform."""
    proxy, url = front
    proxy.maintenance = 1
    config, connector = world.through(url, "rest", timeout_seconds=5)
    config["search"] = {**connector.config.search.model_dump(), "method": "POST"}
    async with BusinessConnector.from_config(config) as posting:
        with use_context(CONTEXT), pytest.raises(UpstreamUnavailable) as info:
            await posting.search(EnterpriseQuery(name="công ty"), limit=3)
    assert "the integration platform is unavailable (HTTP 503)" in info.value.message
    assert proxy.methods == ["POST"] and hub.calls() == []


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_platform_in_maintenance_is_a_failed_call_in_the_axis_evidence(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str
) -> None:
    """Through the gateway's call path: the read answered with maintenance pages only is one failed call of the
    window (the connection's error ratio, its circuit), not an answered one and not a refusal."""
    proxy, url = front
    proxy.maintenance = 1000
    config, connector = world.through(url, protocol, timeout_seconds=3)
    health = HealthPolicy()
    database = Database(
        "platform_maintenance",
        connector,
        health,
        new_circuit("platform_maintenance", CircuitPolicy()),
        Evidence.for_window(health.window_seconds, health.latency_window),
    )
    async with connector:
        with pytest.raises(UpstreamUnavailable) as info:
            await read_record(database, config["canary"], CONTEXT)
    assert not isinstance(info.value, UpstreamRefused)
    assert "integration platform" in info.value.message
    assert from_connector_error(info.value).status == 503
    window = database.evidence.summary(health.window_seconds)
    assert (window.calls, window.failures) == (1, 1)
    assert database.evidence.last_answered is None


@pytest.mark.parametrize("protocol", ["rest", "soap"])
async def test_a_page_answered_200_instead_of_the_envelope_names_the_platform(
    world: PlatformWorld, hub: NdxpHub, front: tuple[Front, str], protocol: str
) -> None:
    """A front end answering 200 with a web page (a portal, a maintenance page served as a success): the platform
    always wraps a sector system's answer in its envelope, so the page is the platform's answer, not the sector
    system's, and the error says so. Nothing reached the sector system."""
    proxy, url = front
    proxy.maintenance, proxy.status = 10, 200
    config, connector = world.through(url, protocol, timeout_seconds=5)
    async with connector:
        with use_context(CONTEXT), pytest.raises(UpstreamError) as failed:
            await connector.get(config["canary"])
    assert "integration platform" in str(failed.value) and "sector system" not in str(failed.value)
    assert hub.calls() == []
