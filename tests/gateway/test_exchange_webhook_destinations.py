"""Where webhook posts may go: IPv6 addresses that carry or stand for internal IPv4 addresses are refused like those
addresses (classified by resolution only, never contacted), and a post goes to the address checked, not through a
proxy named by the gateway's environment (receivers and proxy served by uvicorn on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from support import LiveServer

from gateway.core.db import create_sessionmaker
from gateway.core.problems import ValidationFailed
from gateway.core.settings import Settings
from gateway.exchange.models import WebhookSubscription
from gateway.exchange.webhooks import RefusedDestination, WebhookSender, parse_webhook_url, resolve_destination
from gateway.identity.access import AccessControl
from gateway.identity.datakeys import DataKeys, new_key


@pytest.mark.parametrize(
    "url",
    [
        "http://[fec0::1]:8741/",  # site-local (deprecated, still routed inside some networks)
        "http://[fed0::5]/",
        "http://[2002:7f00:1::]:6379/",  # 6to4 carrying 127.0.0.1
        "http://[2002:a9fe:a9fe::1]/latest/meta-data/",  # 6to4 carrying 169.254.169.254
        "http://[2002:a00:1::1]/",  # 6to4 carrying 10.0.0.1
        "http://[2002:c0a8:101::1]/",  # 6to4 carrying 192.168.1.1
    ],
)
def test_ipv6_addresses_standing_for_internal_ones_are_refused(url: str) -> None:
    with pytest.raises((RefusedDestination, ValidationFailed)):
        asyncio.run(resolve_destination(parse_webhook_url(url), []))


def test_a_6to4_address_carrying_a_public_ipv4_address_passes_and_an_allow_list_still_applies() -> None:
    carried_public = asyncio.run(resolve_destination(parse_webhook_url("http://[2002:808:808::1]/"), []))
    assert carried_public == [ipaddress.ip_address("2002:808:808::1")]  # resolved, not contacted
    allowed = [ipaddress.ip_network("fec0::/10")]
    assert asyncio.run(resolve_destination(parse_webhook_url("http://[fec0::1]/"), allowed)) == [
        ipaddress.ip_address("fec0::1")
    ]


class Recorder:
    """An HTTP server on 127.0.0.1 that records the request lines it is sent and answers 204."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        self.requests.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def test_a_post_goes_to_the_checked_address_not_through_a_proxy_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy in the gateway's environment (set for other traffic) would receive the posts, and the personal data
    in them, and connect wherever it resolves the name: the sender ignores it."""
    receiver, proxy = Recorder(), Recorder()
    with LiveServer(receiver) as aimed, LiveServer(proxy) as proxied:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxied.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)

        async def post() -> str | None:
            engine = create_async_engine("sqlite+aiosqlite://")
            sessionmaker = create_sessionmaker(engine)
            sender = WebhookSender(
                settings=Settings(database_url="sqlite+aiosqlite://"),
                sessionmaker=sessionmaker,
                access=AccessControl(sessionmaker),
                data_keys=DataKeys(keys=[new_key()]),
            )
            subscription = WebhookSubscription(
                id=str(uuid.uuid4()), client_id="c", database_id="population", url=f"{aimed.url}/hook", secret="s"
            )
            try:
                return await sender._post(
                    subscription, httpx.URL(f"{aimed.url}/hook"), "127.0.0.1", b"{}", {"X-Axis-Delivery": "d"}, ()
                )
            finally:
                await sender.close()
                await engine.dispose()

        assert asyncio.run(post()) is None
    assert proxy.requests == []
    assert receiver.requests == ["POST /hook"]


def test_allow_listing_an_ipv4_network_does_not_allow_the_6to4_addresses_carrying_it() -> None:
    """A 6to4 address is reached through a relay, not on the allow-listed network: the demo's loopback allowance
    must not send posts to ``2002:7f00:1::`` (off the machine)."""
    loopback = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    with pytest.raises(RefusedDestination):
        asyncio.run(resolve_destination(parse_webhook_url("http://[2002:7f00:1::]:6379/"), loopback))
    mapped = asyncio.run(resolve_destination(parse_webhook_url("http://[::ffff:127.0.0.1]:6379/"), loopback))
    assert mapped == [ipaddress.ip_address("::ffff:127.0.0.1")]
