"""One pooled HTTP client per connector: deadlines, retries with backoff, authentication, TLS, size limits.

httpx is the API; the transport under it is chosen by configuration (``aiohttp`` by default, measured faster
in ``bench/rest_transport.py``). Every call runs under one deadline that covers its retries, its backoff waits,
a token fetch and reading the body. (Under the aiohttp transport, an idempotent request whose reused keep-alive
connection is closed by the server is resent once by aiohttp itself, as RFC 9112 §9.3.1 allows; that resend is
not counted as an attempt.)
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from connectors.context import current_context, forwarded_headers
from connectors.errors import UpstreamError, UpstreamTimeout
from connectors.http_failures import Failure, from_exception, from_status

from .auth import Authenticator, TokenRefused
from .config import RestConnectorConfig, RetryPolicy

__all__ = ["Answer", "UpstreamClient", "backoff_delay", "parse_retry_after"]

logger = logging.getLogger(__name__)


class _WithoutRequestLines(logging.Filter):
    """Drops httpx's per-request INFO lines: they quote the URL, and a URL may hold a record key (personal data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO


logging.getLogger("httpx").addFilter(_WithoutRequestLines())

_IDEMPOTENT = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Answer:
    """A response the caller interprets: a status it accepted, the headers, and the body."""

    status: int
    headers: httpx.Headers
    content: bytes
    links: Mapping[str | None, Mapping[str, str]]


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
    ``[0, min(cap, base * 2**(attempt - 1))]`` after failed attempt number ``attempt`` (1-based)."""
    ceiling = min(policy.backoff_max_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1))
    return rng.uniform(0, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def ssl_context(config: RestConnectorConfig) -> ssl.SSLContext:
    """Certificate and host name verification always on; the configured CA bundle, or the public CAs."""
    if config.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(config.ca_bundle))
    return httpx.create_ssl_context()


class UpstreamClient:
    """Sends the connector's calls to the sector API; safe to share between concurrent tasks.

    :meth:`call` returns an :class:`Answer` for a status the caller accepts and raises a connector error for
    everything else, after retrying what may be retried.
    """

    def __init__(
        self, config: RestConnectorConfig, authenticator: Authenticator, *, label: str, rng: random.Random | None = None
    ) -> None:
        self._config = config
        self._auth = authenticator
        self._label = label
        self._retry = config.retry
        self._retry_statuses = frozenset(config.retry.statuses)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._http: httpx.AsyncClient | None = None

    def _make_http(self) -> httpx.AsyncClient:
        config = self._config
        verify = ssl_context(config)
        limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
        transport: httpx.AsyncBaseTransport
        if config.http_transport == "aiohttp":
            transport = AiohttpTransport(verify=verify, limits=limits, trust_env=False)
        else:
            transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
        return httpx.AsyncClient(
            base_url=config.base_url,
            transport=transport,
            headers={"Accept": "application/json", **config.headers},
            follow_redirects=False,
            trust_env=False,
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled httpx client (created on first use)."""
        if self._http is None:
            self._http = self._make_http()
        return self._http

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def call(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        seconds: float,
        accept: Collection[int] = (200,),
    ) -> Answer:
        """Send one call with a deadline of ``seconds``, retries included; return the answer if its status is in
        ``accept``, else raise the connector error of the failure."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        idempotent = method in _IDEMPOTENT
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            outcome = await self._attempt(method, url, params=params, json=json, deadline=deadline, accept=accept)
            if isinstance(outcome, Answer):
                return outcome
            if outcome is None:  # a 401 answered to a cached token: fetch a new one, once, then try again
                if reauthenticated:
                    raise self._auth.refusal(401) or from_status(401, self._label, retry=self._retry_statuses).error
                reauthenticated = True
                attempt -= 1
                continue
            failure = outcome
            remaining = deadline - loop.time()
            if not (idempotent and failure.retryable and attempt < self._retry.max_attempts):
                raise failure.error
            wait = failure.retry_after
            if wait is None:
                wait = backoff_delay(self._retry, attempt, self._rng)
            if wait >= remaining:
                raise failure.error  # waiting would overrun the deadline
            logger.debug(
                "%s: attempt %d failed (%s); retrying in %.3f s", self._label, attempt, failure.error.reason, wait
            )
            await asyncio.sleep(wait)

    async def _attempt(  # noqa: PLR0911
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        deadline: float,
        accept: Collection[int],
    ) -> Answer | Failure | None:
        """One attempt: an accepted answer, a failure, or ``None`` for a 401 worth a new token."""
        loop = asyncio.get_running_loop()
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise self._timeout()
        timeout = httpx.Timeout(remaining, connect=min(self._config.connect_timeout_seconds, remaining))
        used: Mapping[str, str] = {}
        try:
            async with asyncio.timeout_at(deadline):
                used = await self._auth.headers(self.http, timeout)
                # The request context (request id, trace...) as configured; credentials always win.
                headers = {**forwarded_headers(current_context(), self._config.context_headers), **used}
                request = self.http.build_request(
                    method, url, params=params, json=json, headers=headers, timeout=timeout
                )
                response = await self.http.send(request, stream=True)
                try:
                    status = response.status_code
                    if status in accept:
                        content = await self._read(response)
                        return Answer(status, response.headers, content, response.links)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise self._timeout() from None
        except TokenRefused as exc:
            return self._token_failure(exc)
        except UpstreamError as exc:
            return Failure(exc, False)
        except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:  # the transport may let its own errors out
            logger.debug("%s: %s", self._label, type(exc).__name__)
            return from_exception(exc, self._label)
        if status == 401 and self._auth.refreshable:
            self._auth.invalidate(used)
            return None
        if status in {401, 403} and (refusal := self._auth.refusal(status)) is not None:
            return Failure(refusal, False)  # an axis profile's platform refusing the gateway
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in {429, 503} else None
        return from_status(status, self._label, retry_after=retry_after, retry=self._retry_statuses)

    async def _read(self, response: httpx.Response) -> bytes:
        limit = self._config.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise UpstreamError(f"{self._label}: the answer is larger than {limit} bytes", reason="protocol")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise UpstreamError(f"{self._label}: the answer is larger than {limit} bytes", reason="protocol")
            chunks.append(chunk)
        return b"".join(chunks)

    def _timeout(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"{self._label}: no answer within the deadline")

    def _token_failure(self, exc: TokenRefused) -> Failure:
        if exc.status >= 500:
            return from_status(exc.status, self._label, retry=self._retry_statuses)
        what = f"HTTP {exc.status}" if exc.status else "an unreadable answer"
        return Failure(
            UpstreamError(f"{self._label}: the token endpoint issued no token ({what})", reason="protocol"),
            False,
        )
