"""The pooled HTTP client of an adapter, and what every call to a sector system needs around it.

:func:`http_client` builds the ``httpx.AsyncClient`` of one connector from its :class:`HttpConnectorConfig`:
TLS verification always on (:func:`ssl_context`), the connection pool's limit, no proxy or netrc from the
environment, no redirects followed. The transport under the httpx API is httpx's own or aiohttp's (measured
faster in ``bench/rest_transport.py``). :func:`read_limited` reads a streamed answer up to
``max_response_bytes``; :func:`call_deadline` and :func:`attempt_timeout` turn the call's deadline into httpx's
timeouts. Importing this module keeps httpx's per-request log lines out of the logs (:func:`without_request_lines`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any, Literal

import httpx
from httpx_aiohttp import AiohttpTransport

from connectors.errors import UpstreamError, UpstreamTimeout

from .config import HttpConnectorConfig

__all__ = [
    "Engine",
    "WithoutRequestLines",
    "attempt_timeout",
    "call_deadline",
    "deadline_passed",
    "http_client",
    "read_limited",
    "ssl_context",
    "without_request_lines",
]

Engine = Literal["aiohttp", "httpx"]
"""The HTTP/1.1 engine under the httpx API."""


class WithoutRequestLines(logging.Filter):
    """Drops the per-request INFO lines of an HTTP library: they quote URLs (and SOAP envelopes), and a URL may
    hold a record key (personal data). Warnings and errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep records above INFO."""
        return record.levelno > logging.INFO


def without_request_lines(*loggers: str) -> None:
    """Install :class:`WithoutRequestLines` on the named loggers (once each, however often it is called)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, WithoutRequestLines) for existing in logger.filters):
            logger.addFilter(WithoutRequestLines())


without_request_lines("httpx")


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Certificate and host name verification always on: the CAs of ``ca_bundle``, or the public CAs."""
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=str(ca_bundle))
    return httpx.create_ssl_context()


def http_client(
    config: HttpConnectorConfig,
    *,
    engine: Engine = "httpx",
    verify: ssl.SSLContext | None = None,
    **options: Any,
) -> httpx.AsyncClient:
    """A pooled ``httpx.AsyncClient`` to the sector system: ``config``'s CA bundle (or ``verify``, a context made
    by :func:`ssl_context`) and connection limit over ``engine``, nothing taken from the environment, redirects
    not followed. ``options`` are the client's other arguments (``base_url``, ``headers``, ``auth``...)."""
    verify = verify or ssl_context(config.ca_bundle)
    limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
    transport: httpx.AsyncBaseTransport
    if engine == "aiohttp":
        transport = AiohttpTransport(verify=verify, limits=limits, trust_env=False)
    else:
        transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, **options)


def call_deadline(seconds: float) -> float:
    """The deadline, on the running loop's clock, of a call that may last ``seconds`` (retries included)."""
    return asyncio.get_running_loop().time() + seconds


def deadline_passed(label: str) -> UpstreamTimeout:
    """The error of a call whose deadline passed before the sector system answered."""
    return UpstreamTimeout(f"{label}: no answer within the deadline")


def attempt_timeout(config: HttpConnectorConfig, deadline: float, label: str) -> httpx.Timeout:
    """httpx's timeout of an attempt made now: what is left of the call's deadline, connecting within
    ``connect_timeout_seconds`` of it; :func:`deadline_passed` raised when nothing is left."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        raise deadline_passed(label)
    return httpx.Timeout(remaining, connect=min(config.connect_timeout_seconds, remaining))


def _too_large(limit: int, label: str) -> UpstreamError:
    return UpstreamError(f"{label}: the answer is larger than {limit} bytes", reason="protocol")


async def read_limited(response: httpx.Response, limit: int, label: str) -> bytes:
    """The body of a streamed ``response``, refused (an :class:`UpstreamError`) when it declares or turns out to
    be larger than ``limit`` bytes. The caller closes the response."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, label)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, label)
        chunks.append(chunk)
    return b"".join(chunks)
