"""Helpers of the sector end-to-end tests: a gateway serving one sector database (its health checks deep: a canary
record declared), and a token for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from support import STATED, ClientCredentials, LiveServer, fetch_token

from connectors.discovery import discover_connectors
from gateway.app import create_app
from gateway.demo import declare_canary
from gateway.settings import Settings


@contextmanager
def sector_gateway(
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
    database: str,
    config: dict[str, Any],
    *,
    canary: str | None = None,
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A live gateway serving only ``database`` (configured with ``config``), an HTTP client on it, and the
    headers of a client allowed to read and search that database (token, purpose, actor).

    The connector's canary record is ``canary``, else the one ``config`` declares, else one sampled as the demo
    does (systems that can sample: the SQL ones)."""
    config = dict(config)
    if canary is not None:
        config["canary"] = canary
    assert asyncio.run(declare_canary(database, config)) is not None, f"no canary record for {database}"
    assert asyncio.run(canary_found(database, config)), f"the canary record of {database} is not found"
    settings = make_settings(connectors={"population": {"enabled": False}, database: {"config": config}})
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        credentials = make_client(f"{database}:read", f"{database}:search")
        token = fetch_token(http, credentials)
        yield http, {"Authorization": f"Bearer {token}", **STATED}


async def canary_found(connector_name: str, config: dict[str, Any]) -> bool:
    """Whether the connector configured with ``config`` finds its canary record, valid under the contract."""
    connector_class = discover_connectors(only={connector_name}).connectors[connector_name]
    async with connector_class.from_config(config) as connector:
        return await connector.canary()
