"""What a failed health probe says is shown to anyone (the gateway's unauthenticated ``/readyz``, the axis
registry): the credentials and query values of the URLs in it are masked, whatever the connector put there.

The sector system is a real server on 127.0.0.1 that answers 503; the connector is a third party's that probes it
with its API key in the query and lets httpx's error (which names the URL) escape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from support import LiveServer

from connectors.base import Capability, Connector, ConnectorConfig, HealthReport, HealthState
from connectors.context import RequestContext
from connectors.errors import UpstreamError
from connectors.secrets import MASK
from contracts.population import Citizen
from gateway.axis.health import check_connector

API_KEY = "k3y-0f-th3-s3ct0r"
PERSONAL_ID = "068099012345"


class ProbeConfig(ConnectorConfig):
    url: str = ""
    mode: str = "raise"


class LeakyProbe(Connector[ProbeConfig]):
    """Puts the URL it probed, key and all, into whatever it reports."""

    slug = "leaky_probe"
    title = "A connector whose errors name its URLs"
    contract = Citizen
    config_model = ProbeConfig
    capabilities = frozenset({Capability.READ})

    async def health(self) -> HealthReport:
        url = f"{self.config.url.replace('http://', f'http://agency:{API_KEY}@')}/status?api_key={API_KEY}&id={PERSONAL_ID}"
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
            if self.config.mode == "raise":
                response.raise_for_status()  # httpx.HTTPStatusError: "... for url '<url>'"
            if self.config.mode == "upstream":
                raise UpstreamError(f"{url} answered {response.status_code}", reason="status_5xx")
            return HealthReport(HealthState.DOWN, message=f"{url} answered {response.status_code}")

    async def get(self, record_id: str) -> Citizen:
        raise NotImplementedError


@pytest.fixture(scope="module")
def failing_sector() -> Iterator[str]:
    app = Starlette(routes=[Route("/status", lambda _request: PlainTextResponse("down", status_code=503))])
    with LiveServer(app) as live:
        yield live.url


@pytest.mark.parametrize("mode", ["raise", "upstream", "report"])
def test_a_failed_probe_names_no_credential_and_no_query_value(failing_sector: str, mode: str) -> None:
    connector = LeakyProbe.from_config({"url": failing_sector, "mode": mode})
    port = failing_sector.rsplit(":", 1)[1]

    report = asyncio.run(connector.check())
    outcome = asyncio.run(check_connector(connector, 5.0, RequestContext(request_id="probe")))

    assert report.state is HealthState.DOWN
    assert not outcome.ok
    for message in (report.message, outcome.error):
        assert message is not None
        assert API_KEY not in message and PERSONAL_ID not in message, message
        # What says where the failure is stays: the host, the port and the path; and that something was masked.
        assert f"127.0.0.1:{port}/status?api_key={MASK}&id={MASK}" in message, message
        assert f"agency:{MASK}@" in message, message
    if mode == "raise":
        assert "503" in (report.message or "")
