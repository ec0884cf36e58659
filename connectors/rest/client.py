"""One pooled HTTP client per connector: deadlines, retries with backoff, authentication, TLS, size limits.

The client is the HTTP base's (:class:`connectors.http.HttpClient`), its engine chosen by configuration
(``aiohttp``, called directly, by default: measured faster in ``bench/``; or httpx's own). Every call runs under
one deadline that covers its retries, its backoff waits, a token fetch and reading the body. (With aiohttp, an
idempotent request whose reused keep-alive connection is closed by the server is resent once by aiohttp itself,
as RFC 9112 §9.3.1 allows; that resend is not counted as an attempt.)
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import aiohttp
import httpx

from connectors.context import current_context, forwarded_headers
from connectors.errors import UpstreamError, UpstreamRefused, UpstreamUnavailable
from connectors.http import (
    PLATFORM,
    SECTOR_SYSTEM,
    Answer,
    Failure,
    HttpClient,
    Retrier,
    call_deadline,
    deadline_passed,
    from_exception,
    from_response,
    from_status,
)
from connectors.platform import TokenUnavailable

from .auth import Authenticator, TokenRefused
from .config import RestConnectorConfig

__all__ = ["Answer", "Enveloped", "UpstreamClient"]

logger = logging.getLogger(__name__)

_IDEMPOTENT = frozenset({"GET", "HEAD"})


class Enveloped(Protocol):
    """How a platform in between wraps its answers (:class:`connectors.rest.platform.RestPlatform`): the statuses
    besides a call's own whose answers are its envelopes, and whether an answer is one."""

    statuses: frozenset[int]

    def carries(self, answer: Answer) -> bool:
        """Whether ``answer`` is the platform's envelope (it holds a result code)."""
        ...


class UpstreamClient:
    """Sends the connector's calls to the sector API; safe to share between concurrent tasks.

    :meth:`call` returns an :class:`Answer` for a status the caller accepts and raises a connector error for
    everything else, after retrying what may be retried.
    """

    def __init__(
        self,
        config: RestConnectorConfig,
        authenticator: Authenticator,
        *,
        label: str,
        envelope: Enveloped | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._auth = authenticator
        self._label = label
        # Whom the calls reach: the sector system, or the platform in between (errors name it).
        self._peer = PLATFORM if config.axis is not None else SECTOR_SYSTEM
        # Through a platform that wraps its answers: its envelopes, whatever their status, are the caller's to read;
        # an answer of another status without one (a maintenance page) is the platform's failure, retried as such.
        self._envelope = envelope
        self._retrier = Retrier(config.retry, label=label, rng=rng)
        self._retry_statuses = self._retrier.statuses
        self.http = HttpClient(
            config,
            label=label,
            engine=config.http_transport,
            base_url=config.base_url,
            headers={"Accept": "application/json", **config.headers},
        )
        self._context_headers = config.context_headers

    def open(self) -> None:
        """Create the pool (connections open on demand); in the event loop."""
        self.http.open()

    async def close(self) -> None:
        """Let go of a token request under way, then close the pooled connections."""
        try:
            await self._auth.aclose()
        finally:
            await self.http.aclose()

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
        ``accept`` or, through a platform, if it is one of its envelopes (the result code is the caller's to judge);
        else raise the connector error of the failure (an answer without the envelope is the platform's)."""
        deadline = call_deadline(seconds)
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
            if not idempotent:
                raise outcome.error
            await self._retrier.pause(outcome, attempt, deadline=deadline)

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
        used: Mapping[str, str] = {}
        try:
            async with asyncio.timeout_at(deadline):
                used = await self._auth.headers(self.http, deadline)
                # The request context (request id, trace...) as configured; credentials always win.
                context = forwarded_headers(current_context(), self._context_headers)
                headers = {**context, **used} if context else used
                answer = await self.http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    deadline=deadline,
                    read=accept if self._envelope is None else None,  # an envelope's status: any
                    under_deadline=True,
                )
        except TimeoutError:
            raise deadline_passed(self._label) from None
        except TokenRefused as exc:
            return self._token_failure(exc)
        except TokenUnavailable as exc:  # the platform's token endpoint (429, 503): try again after Retry-After
            return Failure(exc, True, exc.retry_after)
        except UpstreamError as exc:
            return Failure(exc, False)
        except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:  # the transport may let its own errors out
            logger.debug("%s: %s", self._label, type(exc).__name__)
            return from_exception(exc, self._label, peer=self._peer)
        status = answer.status
        if status in accept:
            return answer
        envelope = self._envelope
        if envelope is not None and status in envelope.statuses and envelope.carries(answer):
            return answer  # the platform's verdict, for the caller to read
        if status == 401 and self._auth.refreshable:
            self._auth.invalidate(used)
            return None
        if status in {401, 403} and (refusal := self._auth.refusal(status)) is not None:
            return Failure(refusal, False)  # an axis profile's platform refusing the gateway
        return from_response(status, answer.headers, self._label, retry=self._retry_statuses, peer=self._peer)

    def _token_failure(self, exc: TokenRefused) -> Failure:
        if exc.status == 429:  # throttled, not refused: the same request succeeds later
            message = f"{self._label}: the token endpoint is rate limiting the gateway (HTTP 429)"
            return Failure(UpstreamUnavailable(message, reason="rate_limited"), True, exc.retry_after)
        if exc.status >= 500:
            return from_status(exc.status, self._label, retry_after=exc.retry_after, retry=self._retry_statuses)
        if 400 <= exc.status < 500:  # the OAuth error of refused client credentials (invalid_client: 400 or 401)
            message = f"{self._label}: the token endpoint refused the gateway's credentials (HTTP {exc.status})"
            return Failure(UpstreamRefused(message), False)
        what = f"HTTP {exc.status}" if exc.status else "an unreadable answer"
        return Failure(
            UpstreamError(f"{self._label}: the token endpoint issued no token ({what})", reason="protocol"),
            False,
        )
