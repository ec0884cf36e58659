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
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from connectors.context import current_context, forwarded_headers
from connectors.errors import UpstreamError
from connectors.http import (
    Failure,
    Retrier,
    attempt_timeout,
    call_deadline,
    deadline_passed,
    from_exception,
    from_response,
    from_status,
    http_client,
    read_limited,
)

from .auth import Authenticator, TokenRefused
from .config import RestConnectorConfig

__all__ = ["Answer", "UpstreamClient"]

logger = logging.getLogger(__name__)

_IDEMPOTENT = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Answer:
    """A response the caller interprets: a status it accepted, the headers, and the body."""

    status: int
    headers: httpx.Headers
    content: bytes
    links: Mapping[str | None, Mapping[str, str]]


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
        self._retrier = Retrier(config.retry, label=label, rng=rng)
        self._retry_statuses = self._retrier.statuses
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled httpx client (created on first use)."""
        if self._http is None:
            config = self._config
            self._http = http_client(
                config,
                engine=config.http_transport,
                base_url=config.base_url,
                headers={"Accept": "application/json", **config.headers},
            )
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
        timeout = attempt_timeout(self._config, deadline, self._label)
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
                        content = await read_limited(response, self._config.max_response_bytes, self._label)
                        return Answer(status, response.headers, content, response.links)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise deadline_passed(self._label) from None
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
        return from_response(status, response.headers, self._label, retry=self._retry_statuses)

    def _token_failure(self, exc: TokenRefused) -> Failure:
        if exc.status >= 500:
            return from_status(exc.status, self._label, retry=self._retry_statuses)
        what = f"HTTP {exc.status}" if exc.status else "an unreadable answer"
        return Failure(
            UpstreamError(f"{self._label}: the token endpoint issued no token ({what})", reason="protocol"),
            False,
        )
