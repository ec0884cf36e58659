"""A token one connector's concurrent calls share: the REST adapter's OAuth 2.0 client-credentials token
(:mod:`connectors.rest.auth`) and the integration platform's (:mod:`connectors.platform.session`).

:class:`SharedToken` holds it and fetches it with the fetch function its owner gives:

* **One request for all.** Calls that need a token (none is cached, or it has expired) wait for the one token
  request under way, and share its outcome, its failure included: twenty calls meeting a failing token endpoint
  ask it once, not twenty times. A call that waits less long than the one that started the request (whose
  deadline is the request's) starts another when that one ran out of time before the call's own deadline.
* **Renewal beside the calls.** A token is due for renewal ``refresh_margin`` seconds before it expires (at most
  half its lifetime: :func:`issued_token`); while it is due but not yet expired, calls go on with it and a new one
  is fetched in the background, so that a slow or failing token endpoint holds up no call while the token lasts.
  After a failed renewal, the next is tried :data:`RENEWAL_PAUSE_SECONDS` later.
* **Dropped when refused.** :meth:`SharedToken.drop` forgets the cached token (a 401 to it, a platform's result
  code saying it was revoked), only if it is still the one the refused call used: the next call fetches another.
* **Cheap when valid.** :meth:`SharedToken.usable` is synchronous and allocates nothing while the cached token is
  not due for renewal: the owner calls it first, and awaits :meth:`SharedToken.get` only without a usable token.

:func:`token_lifetime` reads a token answer's ``expires_in``: a number of seconds or the text of one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from connectors.errors import UpstreamUnavailable

from .client import HttpClient, deadline_passed

__all__ = ["RENEWAL_PAUSE_SECONDS", "SharedToken", "Token", "issued_token", "token_lifetime"]

logger = logging.getLogger(__name__)

#: After a renewal made while the cached token was still valid failed, the wait before another is started.
RENEWAL_PAUSE_SECONDS = 1.0

#: How long closing waits for a token request under way before cancelling it.
_CLOSE_GRACE_SECONDS = 1.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Token(Generic[T]):
    """A token as its owner sends it (``value``: a header's value, or the headers), and when it is due for renewal
    and when it expires, on the ``time.monotonic()`` clock."""

    value: T
    refresh_at: float
    expires_at: float


def token_lifetime(value: Any, default: float) -> float:
    """The lifetime in seconds a token answer's ``expires_in`` states: a positive finite number, or the text of
    one (``"3600"``, as many platforms send it); ``default`` for anything else (missing, zero, negative, a
    boolean, text that is no number)."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    lifetime = float(value)
    return lifetime if math.isfinite(lifetime) and lifetime > 0 else default


def issued_token(value: T, *, requested: float, lifetime: float, refresh_margin: float) -> Token[T]:
    """The token ``value`` asked for at ``requested`` (``time.monotonic()``) and valid ``lifetime`` seconds from
    then: due for renewal ``refresh_margin`` seconds before it expires, at most half its lifetime."""
    margin = min(refresh_margin, lifetime / 2)
    return Token(value, requested + lifetime - margin, requested + lifetime)


@dataclass(frozen=True, slots=True)
class _Fetch(Generic[T]):
    """A token request under way, shared by every call that needs its token."""

    task: asyncio.Task[Token[T]]
    deadline: float  # on the running loop's clock


class SharedToken(Generic[T]):
    """One connector's token, shared by its concurrent calls; see the module's description.

    ``fetch(http, deadline)`` requests a token through ``http`` before ``deadline`` (on the running loop's clock)
    and returns it (:func:`issued_token`), or raises the error every call waiting for it gets. ``label`` names the
    connector in errors, ``what`` the token in log lines (``"the platform's token"``).
    """

    def __init__(
        self, fetch: Callable[[HttpClient, float], Awaitable[Token[T]]], *, label: str, what: str = "the token"
    ) -> None:
        self._fetch = fetch
        self._label = label
        self._what = what
        self._token: Token[T] | None = None
        self._fetching: _Fetch[T] | None = None
        self._renew_after = 0.0  # time.monotonic() before which no renewal starts in the background

    @property
    def cached(self) -> Token[T] | None:
        """The cached token, whether valid or not (``None`` when there is none)."""
        return self._token

    def usable(self, http: HttpClient) -> Token[T] | None:
        """The cached token if it has not expired, else ``None`` (then :meth:`get` waits for a new one). One due
        for renewal is returned all the same, and its renewal started in the background through ``http``
        (unless one is under way, or the last failed less than :data:`RENEWAL_PAUSE_SECONDS` ago)."""
        token = self._token
        if token is None:
            return None
        now = time.monotonic()
        if now < token.refresh_at:
            return token
        if now >= token.expires_at:
            return None
        if now >= self._renew_after:
            loop = asyncio.get_running_loop()
            if self._under_way(loop) is None:
                self._start(http, loop.time() + (token.expires_at - now), background=True)
        return token

    async def get(self, http: HttpClient, deadline: float) -> Token[T]:
        """The token of the next call: :meth:`usable`'s, else the one the token request under way brings (one is
        started through ``http`` if none is), waited for until ``deadline`` (then
        :func:`connectors.http.deadline_passed`); its failure is raised to every call that waited for it."""
        token = self.usable(http)
        if token is not None:
            return token
        loop = asyncio.get_running_loop()
        while True:
            fetching = self._under_way(loop) or self._start(http, deadline, background=False)
            try:
                async with asyncio.timeout_at(deadline):
                    return await asyncio.shield(fetching.task)
            except TimeoutError:
                raise deadline_passed(self._label) from None
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if fetching.task.cancelled() and current is not None and not current.cancelling():
                    # The request was cancelled, not this call: the connection is closing (aclose).
                    raise UpstreamUnavailable(
                        f"{self._label}: the connection closed while its token was fetched"
                    ) from None
                raise
            except Exception:
                # A request started by a call with less time than this one ran out of it: this one tries again.
                if loop.time() >= fetching.deadline and loop.time() < deadline:
                    continue
                raise

    def drop(self, token: Token[T] | None = None) -> None:
        """Forget the cached token: any (``token`` unset), or only if it is ``token`` (not a newer one)."""
        if token is None or self._token is token:
            self._token = None

    async def aclose(self) -> None:
        """Let a token request under way end (it may be about to bring a token the connection's next use
        needs), for at most a second, then cancel it: none goes on over a closed connection pool."""
        fetching = self._under_way(asyncio.get_running_loop())  # one of another, closed, loop is forgotten
        if fetching is None or fetching.task.done():
            return
        task = fetching.task
        await asyncio.wait({task}, timeout=_CLOSE_GRACE_SECONDS)
        if not task.done():
            task.cancel()
            await asyncio.wait({task})

    def _under_way(self, loop: asyncio.AbstractEventLoop) -> _Fetch[T] | None:
        """The token request under way in ``loop``, if any (one left by another, closed, loop is forgotten)."""
        fetching = self._fetching
        if fetching is not None and fetching.task.get_loop() is not loop:
            self._fetching = fetching = None
        return fetching

    def _start(self, http: HttpClient, deadline: float, *, background: bool) -> _Fetch[T]:
        """Start a token request (within ``deadline``) that calls share."""
        task = asyncio.get_running_loop().create_task(self._request(http, deadline))
        fetching = self._fetching = _Fetch(task, deadline)

        def done(finished: asyncio.Task[Token[T]]) -> None:
            if self._fetching is fetching:
                self._fetching = None
            if finished.cancelled():
                return
            failure = finished.exception()  # retrieved, whether a call still waits for it or not
            if failure is not None and background:
                self._renew_after = time.monotonic() + RENEWAL_PAUSE_SECONDS
                logger.debug("%s: renewing %s failed (%s)", self._label, self._what, type(failure).__name__)

        task.add_done_callback(done)
        return fetching

    async def _request(self, http: HttpClient, deadline: float) -> Token[T]:
        token = await self._fetch(http, deadline)
        self._token = token
        return token
