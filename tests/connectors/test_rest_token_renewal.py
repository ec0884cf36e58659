"""The REST adapter's OAuth 2.0 token renewed beside the calls: a token due for renewal (within its refresh margin
of expiry) still serves every call while one token request, for all of them, fetches its successor; a renewal that
fails holds no call up and is tried again after a pause; a token past its expiry is never sent.

The sector API is the simulated population API on 127.0.0.1, its token endpoint behind a front end of the test's
own that can hold a token request until the test lets it go, or fail it. The connector's clock (``time.monotonic``
in the modules that time tokens) is the test's to move forward: a token is made due for renewal without waiting
for it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support import LiveServer

import connectors.http.tokens
import connectors.rest.auth
from connectors.http import RENEWAL_PAUSE_SECONDS
from connectors.rest import RestConnector
from simulators.population_api import ApiServer, PopulationApi, rest_connector_config

pytestmark = pytest.mark.anyio

LIFETIME = 3600  # the tokens' stated lifetime, in seconds
MARGIN = 60  # the connector's refresh margin


class Clock:
    """``time.monotonic``, moved forward by the test."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    for module in (connectors.http.tokens, connectors.rest.auth):
        monkeypatch.setattr(module, "time", moved)
    return moved


@dataclass
class TokenFront:
    """The API's token endpoint behind a front end: while ``hold`` is set, a token request waits for ``release``;
    while ``fail`` is set, it is answered 500. ``issued`` are the tokens it passed on, in order."""

    api_url: str
    hold: bool = False
    fail: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0
    waiting: int = 0
    issued: list[str] = field(default_factory=list)

    async def token(self, request: Request) -> Response:
        self.requests += 1
        if self.hold:
            self.waiting += 1
            released = await asyncio.to_thread(self.release.wait, 30)
            self.waiting -= 1
            if not released:
                return Response(b"held too long", 500)
        if self.fail:
            return Response(b"internal error", 500)
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            answer = await http.post(
                f"{self.api_url}/oauth2/token",
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}},
            )
        body = orjson.loads(answer.content)
        self.issued.append(body["access_token"])
        body["expires_in"] = str(LIFETIME)  # as text, as many platforms send it
        return Response(orjson.dumps(body), answer.status_code, media_type="application/json")


@pytest.fixture
def front(api_server: ApiServer) -> Iterator[tuple[TokenFront, str]]:
    endpoint = TokenFront(api_server.url)
    with LiveServer(Starlette(routes=[Route("/token", endpoint.token, methods=["POST"])])) as live:
        try:
            yield endpoint, live.url
        finally:
            endpoint.release.set()


def _config(api_server: ApiServer, front_url: str) -> dict[str, Any]:
    config = rest_connector_config(api_server.url, auth="oauth2_client_credentials", timeout_seconds=5)
    config["auth"] |= {"token_url": f"{front_url}/token", "refresh_margin_seconds": MARGIN}
    return config


def _used(api: PopulationApi) -> list[str]:
    """The bearer tokens the API's record calls carried, oldest first."""
    return [
        request.headers.get("authorization", "").removeprefix("Bearer ")
        for request in api.middleware.received.requests()
        if request.path.startswith("/api/v1/cong-dan/")
    ]


async def _poll(condition: Any, what: str) -> None:
    """Wait (at most ten seconds) until ``condition()`` holds."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_token_due_for_renewal_serves_calls_while_its_renewal_runs(
    population_sector: Any, api: PopulationApi, api_server: ApiServer, front: tuple[TokenFront, str], clock: Clock
) -> None:
    """Within its refresh margin, the token still serves the calls: they are answered with it while the token
    request that renews it waits at the token endpoint; once that one is answered, the next calls carry the new
    token."""
    endpoint, url = front
    api.middleware.received.clear()
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:12]]
    async with RestConnector.from_config(_config(api_server, url)) as rest:
        await rest.get(ids[0])
        (first,) = endpoint.issued
        clock.ahead = LIFETIME - MARGIN / 2  # due for renewal, half the margin before it expires
        endpoint.hold = True
        for pid in ids[1:6]:  # one after another, the renewal held all along
            assert (await rest.get(pid)).record_id() == pid
        await _poll(lambda: endpoint.waiting == 1, "the renewal at the token endpoint")
        assert endpoint.requests == 2 and _used(api) == [first] * 6
        endpoint.release.set()
        deadline = time.monotonic() + 10
        while _used(api)[-1] == first:  # until the renewal's answer is in: meanwhile calls go on with the old one
            assert time.monotonic() < deadline, "the renewed token is never used"
            await rest.get(ids[6])
        for pid in ids[7:]:
            await rest.get(pid)
    used = _used(api)
    second = used[-1]
    assert second != first and endpoint.issued == [first, second]
    assert used == [first] * used.count(first) + [second] * used.count(second) and used[-6:] == [second] * 6
    assert endpoint.requests == 2 and api.count("unauthorized") == 0


async def test_many_concurrent_calls_share_one_renewal(
    population_sector: Any, api: PopulationApi, api_server: ApiServer, front: tuple[TokenFront, str], clock: Clock
) -> None:
    """Thirty calls at once while the token is due for renewal: all answered with the cached token, and one token
    request renews it for all of them (not one per call)."""
    endpoint, url = front
    api.middleware.received.clear()
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:31]]
    async with RestConnector.from_config(_config(api_server, url)) as rest:
        await rest.get(ids[0])
        (first,) = endpoint.issued
        clock.ahead = LIFETIME - MARGIN / 2
        endpoint.hold = True
        records = await asyncio.gather(*(rest.get(pid) for pid in ids[1:]))
        assert [record.record_id() for record in records] == ids[1:]
        await _poll(lambda: endpoint.waiting == 1, "the renewal at the token endpoint")
        assert endpoint.requests == 2 and _used(api) == [first] * 31
        endpoint.release.set()
        await _poll(lambda: len(endpoint.issued) == 2, "the renewal's answer")
    assert endpoint.requests == 2


async def test_a_failed_renewal_holds_no_call_and_is_tried_again_after_a_pause(
    population_sector: Any, api: PopulationApi, api_server: ApiServer, front: tuple[TokenFront, str], clock: Clock
) -> None:
    """The token endpoint fails the renewal: calls go on with the cached token (still valid), without a token
    request each; once the pause after the failure has passed, the next call starts another renewal, which
    brings the new token."""
    endpoint, url = front
    api.middleware.received.clear()
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:8]]
    async with RestConnector.from_config(_config(api_server, url)) as rest:
        await rest.get(ids[0])
        (first,) = endpoint.issued
        clock.ahead = LIFETIME - MARGIN / 2
        endpoint.fail = True
        await rest.get(ids[1])  # starts the renewal, which fails
        await _poll(lambda: endpoint.requests == 2, "the failed renewal")
        for pid in ids[2:5]:
            await rest.get(pid)
        assert endpoint.requests == 2 and _used(api) == [first] * 5  # within the pause: no other renewal
        endpoint.fail = False
        clock.ahead += RENEWAL_PAUSE_SECONDS
        await rest.get(ids[5])  # the pause has passed: another renewal, beside this call
        await _poll(lambda: len(endpoint.issued) == 2, "the second renewal's answer")
        deadline = time.monotonic() + 10
        while _used(api)[-1] == first:
            assert time.monotonic() < deadline, "the renewed token is never used"
            await rest.get(ids[6])
    assert endpoint.requests == 3 and _used(api)[-1] == endpoint.issued[1]
    assert api.count("unauthorized") == 0
