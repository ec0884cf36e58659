"""Turning HTTP failures into the connector errors the gateway maps to answers.

Messages name the kind of failure and the exception class, never the upstream's text, body or URL: they may
hold record keys or other personal data.

=====================================  ===========================  ===============  =========
failure                                error                        reason           retried
=====================================  ===========================  ===============  =========
connection refused, DNS failure        ``UpstreamUnavailable``      ``connect``      yes
connect timeout                        ``UpstreamUnavailable``      ``connect``      yes
TLS certificate not trusted            ``UpstreamUnavailable``      ``connect``      no
no answer before the deadline          ``UpstreamTimeout``          ``timeout``      no time
connection reset, malformed HTTP       ``UpstreamUnavailable``      ``connect``      yes
429 Too Many Requests                  ``UpstreamUnavailable``      ``rate_limited`` yes
401, 403                               ``UpstreamRefused``          ``refused``      no
other 4xx (400, 405, 410...)           ``UpstreamError``            ``protocol``     no
503                                    ``UpstreamUnavailable``      ``status_5xx``   yes
other 5xx                              ``UpstreamError``            ``status_5xx``   500/502/504
malformed JSON, redirect, too large    ``UpstreamError``            ``protocol``     no
=====================================  ===========================  ===============  =========
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import aiohttp
import httpx

from connectors.errors import UpstreamError, UpstreamRefused, UpstreamTimeout, UpstreamUnavailable

__all__ = ["Failure", "from_exception", "from_response", "from_status", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt: the error to raise if it is the last, and whether another attempt may help."""

    error: UpstreamError
    retryable: bool
    retry_after: float | None = None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# What went wrong, by the first class found in an exception's chain: (kind, retryable); aiohttp's errors (the
# REST adapter's client) and httpx's (the SOAP adapter's, or REST with ``http_transport: httpx``).
#: What a connection calls, as failures name it: the sector system itself...
SECTOR_SYSTEM = "the sector system"
#: ...or the integration platform (NDXP, a province's LGSP) the connection goes through, the only peer the gateway
#: reaches then: it is what cannot be reached, or answers a status without its envelope.
PLATFORM = "the integration platform"

_KINDS: tuple[tuple[tuple[type[BaseException], ...], str, bool], ...] = (
    ((ssl.SSLCertVerificationError, aiohttp.ClientConnectorCertificateError), "untrusted", False),
    ((ssl.SSLError, aiohttp.ClientConnectorSSLError), "tls", False),
    ((aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError), "unreachable", True),
    ((aiohttp.ServerTimeoutError,), "timeout", True),
    ((aiohttp.ClientError,), "broken", True),
    ((httpx.ConnectError, httpx.ConnectTimeout), "unreachable", True),
    ((httpx.TimeoutException,), "timeout", True),
    ((httpx.NetworkError, httpx.RemoteProtocolError), "broken", True),
)


def from_exception(exc: BaseException, label: str, *, peer: str = SECTOR_SYSTEM) -> Failure:
    """The failure of an attempt that raised ``exc`` (an aiohttp or httpx error, or an ``OSError``); ``peer`` is what
    the gateway called (:data:`SECTOR_SYSTEM`, or :data:`PLATFORM` for a connection through one), named in the
    message so that an operator knows whom to call."""
    chain = list(_chain(exc))
    name = type(chain[-1]).__name__
    kind, retryable = next(
        ((kind, retryable) for classes, kind, retryable in _KINDS for cause in chain if isinstance(cause, classes)),
        ("failed", False),
    )
    error: UpstreamError
    match kind:
        case "untrusted":
            error = UpstreamUnavailable(f"{label}: {peer}'s TLS certificate is not trusted")
        case "tls":
            error = UpstreamUnavailable(f"{label}: TLS handshake with {peer} failed ({name})")
        case "unreachable":
            error = UpstreamUnavailable(f"{label}: {peer} cannot be reached ({name})")
        case "timeout":
            error = UpstreamTimeout(f"{label}: {peer} did not answer in time ({name})")
        case "broken":
            error = UpstreamUnavailable(f"{label}: the connection to {peer} broke ({name})")
        case _:
            error = UpstreamError(f"{label}: the call to {peer} failed ({name})", reason="protocol")
    return Failure(error, retryable)


def from_status(
    status: int, label: str, *, retry_after: float | None = None, retry: frozenset[int], peer: str = SECTOR_SYSTEM
) -> Failure:
    """The failure of an attempt answered with ``status`` (neither a success nor a 404) by ``peer`` (see
    :func:`from_exception`)."""
    retryable = status in retry
    if status == 429:
        return Failure(
            UpstreamUnavailable(f"{label}: {peer} is rate limiting calls (HTTP 429)", reason="rate_limited"),
            retryable,
            retry_after,
        )
    if status == 503:
        return Failure(
            UpstreamUnavailable(f"{label}: {peer} is unavailable (HTTP 503)", reason="status_5xx"),
            retryable,
            retry_after,
        )
    if status >= 500:
        return Failure(UpstreamError(f"{label}: {peer} failed (HTTP {status})", reason="status_5xx"), retryable)
    if status in {401, 403}:
        message = f"{label}: {peer} refused the gateway's credentials (HTTP {status})"
        return Failure(UpstreamRefused(message), False)
    if 300 <= status < 400:
        return Failure(UpstreamError(f"{label}: unexpected redirect (HTTP {status})", reason="protocol"), False)
    else:
        message = f"{label}: {peer} rejected the call (HTTP {status})"
    return Failure(UpstreamError(message, reason="protocol"), False)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # asctime's form, or "-0000": HTTP dates are in GMT (RFC 9110 §5.6.7), never local
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):  # a year no date holds: no wait to honour
        return None


def from_response(
    status: int, headers: Mapping[str, str], label: str, *, retry: frozenset[int], peer: str = SECTOR_SYSTEM
) -> Failure:
    """:func:`from_status` for an answer with its headers: a 429's or 503's ``Retry-After`` becomes the failure's
    wait before another attempt."""
    retry_after = parse_retry_after(headers.get("Retry-After")) if status in {429, 503} else None
    return from_status(status, label, retry_after=retry_after, retry=retry, peer=peer)
