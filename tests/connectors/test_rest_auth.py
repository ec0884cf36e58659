"""Authenticating to the sector API: every scheme against the simulated API, wrong credentials, and the OAuth 2.0
token's cache, single flight, refresh before expiry and re-fetch after a 401."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support import LiveServer, free_port

from connectors.base import UpstreamError, UpstreamUnavailable
from connectors.errors import UpstreamRefused
from connectors.rest import RestConnector
from simulators.population_api import ApiCredentials, ApiServer, PopulationApi, rest_connector_config
from simulators.population_api.connector_config import AUTH_SCHEMES

pytestmark = pytest.mark.anyio

WRONG = ApiCredentials(
    bearer_token="wrong-bearer-token",
    api_key="wrong-api-key",
    app_name="axis-gateway",
    access_key="wrong-access-key",
    secret_key="wrong-secret-key",
    client_id="axis-gateway",
    client_secret="wrong-client-secret",
)


def connector(server: ApiServer, **options: Any) -> RestConnector:
    return RestConnector.from_config(rest_connector_config(server.url, **options))


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
async def test_each_scheme_is_accepted(
    scheme: str, population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    pid = population_sector.rows[0]["so_dinh_danh"]
    async with connector(api_server, auth=scheme) as rest:
        assert (await rest.check()).ok
        assert (await rest.get(pid)).record_id() == pid
    assert api.count("unauthorized") == 0
    assert api.count("tokens_issued") == (1 if scheme == "oauth2_client_credentials" else 0)


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
async def test_wrong_credentials_are_a_clear_error_that_quotes_none(
    scheme: str, population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    pid = population_sector.rows[0]["so_dinh_danh"]
    async with connector(api_server, auth=scheme, credentials=WRONG) as rest:
        result = await rest.check()
        with pytest.raises(UpstreamError) as info:
            await rest.get(pid)
    assert isinstance(info.value, UpstreamRefused)  # the credentials must change: down at once on the axis
    assert info.value.reason == "refused"
    assert "401" in info.value.message or "400" in info.value.message
    assert result.ok is False and "401" in result.message
    for secret in (WRONG.bearer_token, WRONG.api_key, WRONG.access_key, WRONG.secret_key, WRONG.client_secret):
        assert secret is not None
        assert secret not in info.value.message and secret not in result.message
    assert pid not in info.value.message
    if scheme == "oauth2_client_credentials":
        assert "token endpoint" in info.value.message
        assert api.count("requests") == 0  # no token, no data request
    else:
        assert api.count("unauthorized") == 2  # the check and the get, each once: a 401 is not retried


async def test_no_credentials_at_all(population_sector: Any, api: PopulationApi, api_server: ApiServer) -> None:
    config = rest_connector_config(api_server.url)
    config["auth"] = {"type": "none"}
    async with RestConnector.from_config(config) as rest:
        with pytest.raises(UpstreamError) as info:
            await rest.get(population_sector.rows[0]["so_dinh_danh"])
    assert "credentials" in info.value.message and api.count("unauthorized") == 1


async def test_client_secret_post(population_sector: Any, api: PopulationApi, api_server: ApiServer) -> None:
    config = rest_connector_config(api_server.url, auth="oauth2_client_credentials")
    config["auth"]["client_auth"] = "client_secret_post"
    async with RestConnector.from_config(config) as rest:
        await rest.get(population_sector.rows[0]["so_dinh_danh"])
    assert api.count("tokens_issued") == 1


async def test_the_token_is_cached(population_sector: Any, api: PopulationApi, api_server: ApiServer) -> None:
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:40]]
    async with connector(api_server, auth="oauth2_client_credentials") as rest:
        for pid in ids[:10]:
            await rest.get(pid)
        await asyncio.gather(*(rest.get(pid) for pid in ids))
    assert api.count("tokens_issued") == 1
    assert api.count("citizen") == 50


async def test_concurrent_callers_share_one_token_fetch(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    api.token_delay_seconds = 0.3  # the token endpoint is slow: every caller arrives before the token
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:50]]
    async with connector(api_server, auth="oauth2_client_credentials") as rest:
        records = await asyncio.gather(*(rest.get(pid) for pid in ids))
    assert [r.record_id() for r in records] == ids
    assert api.count("tokens_issued") == 1


async def test_a_refused_token_is_fetched_again_once(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    pid = population_sector.rows[0]["so_dinh_danh"]
    async with connector(api_server, auth="oauth2_client_credentials") as rest:
        await rest.get(pid)
        api.revoke_tokens()  # as after a key rotation at the sector: the cached token is now refused
        await asyncio.gather(*(rest.get(pid) for _ in range(10)))
    assert api.count("unauthorized") >= 1
    assert api.count("tokens_issued") == 2


@pytest.fixture
def short_lived(population_sector: Any) -> Iterator[ApiServer]:
    with ApiServer(PopulationApi(population_sector.rows, token_ttl_seconds=2)) as server:
        yield server


async def test_the_token_is_renewed_before_it_expires(population_sector: Any, short_lived: ApiServer) -> None:
    pid = population_sector.rows[0]["so_dinh_danh"]
    async with connector(short_lived, auth="oauth2_client_credentials") as rest:
        await rest.get(pid)
        await asyncio.sleep(1.2)  # past the refresh margin (half of 2 s), before the expiry
        await rest.get(pid)
    assert short_lived.api.count("tokens_issued") == 2
    assert short_lived.api.count("unauthorized") == 0


@pytest.fixture
def stillborn_tokens(population_sector: Any) -> Iterator[ApiServer]:
    """Tokens that are already expired when issued: every use is refused."""
    with ApiServer(PopulationApi(population_sector.rows, token_ttl_seconds=0)) as server:
        yield server


async def test_a_token_refused_twice_is_an_error_not_a_loop(
    population_sector: Any, stillborn_tokens: ApiServer
) -> None:
    async with connector(stillborn_tokens, auth="oauth2_client_credentials") as rest:
        started = time.perf_counter()
        with pytest.raises(UpstreamError) as info:
            await rest.get(population_sector.rows[0]["so_dinh_danh"])
    assert time.perf_counter() - started < 2
    assert "401" in info.value.message
    assert stillborn_tokens.api.count("tokens_issued") == 2
    assert stillborn_tokens.api.count("unauthorized") == 2


async def test_an_unreachable_token_endpoint(population_sector: Any, api: PopulationApi, api_server: ApiServer) -> None:
    config = rest_connector_config(api_server.url, auth="oauth2_client_credentials", timeout_seconds=2)
    config["auth"]["token_url"] = f"http://127.0.0.1:{free_port()}/oauth2/token"
    config["retry"] = {"backoff_base_seconds": 0.01}
    async with RestConnector.from_config(config) as rest:
        with pytest.raises(UpstreamUnavailable) as info:
            await rest.get(population_sector.rows[0]["so_dinh_danh"])
    assert info.value.reason == "connect"
    assert api.count("requests") == 0


async def test_an_absolute_token_url_on_another_origin(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    # The identity server is another process in real deployments; here it is the same API under another name.
    config = rest_connector_config(api_server.url.replace("127.0.0.1", "localhost"), auth="oauth2_client_credentials")
    config["auth"]["token_url"] = f"{api_server.url}/oauth2/token"
    async with RestConnector.from_config(config) as rest:
        await rest.get(population_sector.rows[0]["so_dinh_danh"])
    assert api.count("tokens_issued") == 1


def test_credentials_do_not_show_in_the_configuration() -> None:
    config = RestConnector.from_config(
        rest_connector_config("http://127.0.0.1:1", auth="oauth2_client_credentials", credentials=replace(WRONG))
    ).config
    text = repr(config) + str(config) + config.model_dump_json()
    assert "wrong-client-secret" not in text


class BusyTokenEndpoint:
    """A token endpoint in front of the API's own: it answers ``status`` (429 or 503) with ``Retry-After`` to the
    first ``busy`` requests, then passes them on."""

    def __init__(self, api_url: str, status: int, busy: int, retry_after: str) -> None:
        self.api_url, self.status, self.busy, self.retry_after = api_url, status, busy, retry_after
        self.requests = 0

    async def token(self, request: Request) -> Response:
        self.requests += 1
        if self.busy:
            self.busy -= 1
            return Response(b"busy", self.status, headers={"Retry-After": self.retry_after})
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            answer = await http.post(
                f"{self.api_url}/oauth2/token",
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}},
            )
        return Response(answer.content, answer.status_code, media_type=answer.headers.get("content-type"))


@pytest.mark.parametrize(("status", "reason"), [(429, "rate_limited"), (503, "status_5xx")])
async def test_a_busy_token_endpoint_is_waited_for_not_a_refusal(
    status: int, reason: str, population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    pid = population_sector.rows[0]["so_dinh_danh"]
    busy = BusyTokenEndpoint(api_server.url, status, busy=1, retry_after="1")
    with LiveServer(Starlette(routes=[Route("/token", busy.token, methods=["POST"])])) as front:
        config = rest_connector_config(api_server.url, auth="oauth2_client_credentials", timeout_seconds=5)
        config["auth"]["token_url"] = f"{front.url}/token"
        async with RestConnector.from_config(config) as rest:
            started = time.monotonic()
            assert (await rest.get(pid)).record_id() == pid  # after the wait the endpoint asked for
            assert time.monotonic() - started >= 0.9
        assert busy.requests == 2 and api.count("tokens_issued") == 1
        # A wait beyond the call's deadline: the call fails at once, the endpoint busy rather than refusing.
        busy.busy, busy.retry_after = 10, "30"
        async with RestConnector.from_config(config) as rest:
            started = time.monotonic()
            with pytest.raises(UpstreamUnavailable) as info:
                await rest.get(pid)
            assert time.monotonic() - started < 2
            check = await rest.check()
    assert not isinstance(info.value, UpstreamRefused) and info.value.reason == reason
    assert f"(HTTP {status})" in info.value.message and "credentials" not in info.value.message
    assert check.ok is False and "refused" not in check.message


class SlowFailingTokenEndpoint:
    """A token endpoint that takes its time to fail (HTTP 500), then issues tokens once ``failing`` is off."""

    def __init__(self, api_url: str) -> None:
        self.api_url, self.failing, self.requests = api_url, True, 0

    async def token(self, request: Request) -> Response:
        self.requests += 1
        await asyncio.sleep(0.2)
        if self.failing:
            return Response(b"internal error", 500)
        return await BusyTokenEndpoint(self.api_url, 200, busy=0, retry_after="0").token(request)


async def test_callers_waiting_on_a_failing_token_request_share_its_failure(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    """Twenty calls at once while the token endpoint fails: one token request, whose failure they all get, not
    twenty sent one after another (the last caller waiting for all of them); once it issues tokens, the next call
    asks again."""
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:20]]
    endpoint = SlowFailingTokenEndpoint(api_server.url)
    with LiveServer(Starlette(routes=[Route("/token", endpoint.token, methods=["POST"])])) as front:
        config = rest_connector_config(api_server.url, auth="oauth2_client_credentials", timeout_seconds=5)
        config["auth"]["token_url"] = f"{front.url}/token"
        config["retry"] = {"max_attempts": 1}
        async with RestConnector.from_config(config) as rest:
            started = time.monotonic()
            outcomes = await asyncio.gather(*(rest.get(pid) for pid in ids), return_exceptions=True)
            assert time.monotonic() - started < 2
            assert all(isinstance(outcome, UpstreamError) for outcome in outcomes), outcomes
            assert endpoint.requests == 1
            endpoint.failing = False
            assert (await rest.get(ids[0])).record_id() == ids[0]
    assert endpoint.requests == 2
