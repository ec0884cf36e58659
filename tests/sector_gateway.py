"""Helpers of the sector end-to-end tests: a gateway serving one sector database, and a token for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from support import STATED, ClientCredentials, LiveServer, fetch_token

from gateway.app import create_app
from gateway.settings import Settings


@contextmanager
def sector_gateway(
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
    database: str,
    config: dict[str, Any],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A live gateway serving only ``database`` (configured with ``config``), an HTTP client on it, and the
    headers of a client allowed to read and search that database (token, purpose, actor)."""
    settings = make_settings(connectors={"population": {"enabled": False}, database: {"config": config}})
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        credentials = make_client(f"{database}:read", f"{database}:search")
        token = fetch_token(http, credentials)
        yield http, {"Authorization": f"Bearer {token}", **STATED}
