"""Trusted external token issuers: their key sets (JWKS), fetched with httpx and cached.

Each issuer's key set is fetched when the gateway starts and again every ``refresh_seconds`` in the background.
A token whose ``kid`` is not in the cached set makes the gateway fetch the set again, but at most once per
``min_refetch_seconds`` (counting every fetch, and sharing one fetch among concurrent callers), so a flood of
tokens with made-up key ids costs the identity provider at most one request per interval. A fetch that fails
keeps the keys already cached: the provider being down never locks out tokens signed by keys the gateway knows.

What a key set holds is parsed by a function given by the token service (the JWT library stays there).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import httpx
import orjson

from connectors.http import AsyncClient
from gateway.core import metrics
from gateway.core.logs import get_logger
from gateway.core.settings import TrustedIssuer

K = TypeVar("K")
#: A key set larger than this is refused (real ones are a few kilobytes).
MAX_JWKS_BYTES = 512 * 1024

log = get_logger(__name__)


class _UnusableKeySet(Exception):
    """The provider answered, but not with a usable key set; ``reason`` says why (for the logs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Throttled:
    """Runs an async action at most once per ``min_interval`` seconds; callers arriving while it runs wait for
    that run instead of starting another. The action must not raise."""

    def __init__(
        self,
        action: Callable[[], Coroutine[Any, Any, object]],
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._action = action
        self.min_interval = min_interval
        self._clock = clock
        self._last: float | None = None
        self._running: asyncio.Task[object] | None = None

    async def __call__(self) -> bool:
        """Run the action unless it ran less than ``min_interval`` ago; whether it ran (or was joined)."""
        if self._running is None:
            now = self._clock()
            if self._last is not None and now - self._last < self.min_interval:
                return False
        await self.force()
        return True

    async def force(self) -> None:
        """Run the action now (or join the run in progress), whatever the interval; it counts as a run."""
        if self._running is None:
            self._last = self._clock()
            task: asyncio.Task[object] = asyncio.create_task(self._action())
            self._running = task
            task.add_done_callback(self._finished)
        # Shielded: a cancelled caller does not cancel the run that others wait for.
        await asyncio.shield(self._running)

    def _finished(self, task: asyncio.Task[object]) -> None:
        if self._running is task:
            self._running = None

    async def cancel(self) -> None:
        """Cancel a run in progress (when shutting down)."""
        task = self._running
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class IssuerKeys(Generic[K]):
    """One trusted issuer's keys, by ``kid``, kept fresh from its JWKS URL."""

    def __init__(
        self,
        trusted: TrustedIssuer,
        *,
        http: httpx.AsyncClient,
        parse: Callable[[Mapping[str, Any]], K | None],
    ) -> None:
        self.trusted = trusted
        self._http = http
        self._parse = parse
        self._keys: dict[str, K] = {}
        self._throttle = Throttled(self.fetch, trusted.min_refetch_seconds)
        self._task: asyncio.Task[None] | None = None

    @property
    def issuer(self) -> str:
        """The ``iss`` of this provider's tokens."""
        return self.trusted.issuer

    @property
    def kids(self) -> frozenset[str]:
        """The key ids cached now."""
        return frozenset(self._keys)

    def get(self, kid: str) -> K | None:
        """The cached key with this id, without fetching."""
        return self._keys.get(kid)

    async def find(self, kid: str) -> K | None:
        """The key with this id, fetching the key set again when it is unknown (at most once per interval)."""
        key = self._keys.get(kid)
        if key is None and await self._throttle():
            key = self._keys.get(kid)
        return key

    async def refresh(self) -> None:
        """Fetch the key set now (joining a fetch in progress), whatever the interval."""
        await self._throttle.force()

    async def fetch(self) -> bool:
        """Fetch and parse the key set; on any failure keep the cached keys. Whether it succeeded."""
        label = self.trusted.issuer
        try:
            async with asyncio.timeout(self.trusted.timeout_seconds):
                document = await self._download()
            keys = self._parse_set(document)
        except Exception as exc:  # whatever the provider answers (or fails to) must not break verification
            reason = exc.reason if isinstance(exc, _UnusableKeySet) else type(exc).__name__
            metrics.JWKS_FETCHES.labels(label, "error").inc()
            log.warning("cannot fetch the key set of a trusted issuer", issuer=label, reason=reason)
            return False
        added = sorted(set(keys) - set(self._keys))
        self._keys = keys
        metrics.JWKS_FETCHES.labels(label, "ok").inc()
        if added:
            log.info("trusted issuer keys loaded", issuer=label, kids=sorted(keys), new=added)
        return True

    async def _download(self) -> Any:
        headers = {"Accept": "application/jwk-set+json, application/json"}
        async with self._http.stream("GET", self.trusted.jwks_url, headers=headers) as response:
            if response.status_code != 200:
                raise _UnusableKeySet(f"status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise _UnusableKeySet("key set too large")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _UnusableKeySet("not JSON") from None

    def _parse_set(self, document: Any) -> dict[str, K]:
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise _UnusableKeySet("no 'keys' list")
        keys: dict[str, K] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid or kid in keys:
                continue
            key = self._parse(entry)
            if key is not None:
                keys[kid] = key
        if not keys:
            # A provider never publishes an empty set on purpose: keep what is cached.
            raise _UnusableKeySet("no usable signature key")
        return keys

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.trusted.refresh_seconds)

    def start(self) -> None:
        """Fetch now and then every ``refresh_seconds``, in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"jwks:{self.issuer}")

    async def close(self) -> None:
        """Stop the background refresh, and a fetch in progress."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._throttle.cancel()


class ExternalIssuers(Generic[K]):
    """Every trusted issuer, by ``iss``, sharing one HTTP client."""

    def __init__(
        self,
        trusted: Sequence[TrustedIssuer],
        *,
        parse_for: Callable[[TrustedIssuer], Callable[[Mapping[str, Any]], K | None]],
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._own_http: httpx.AsyncClient | None = None
        if http is None and trusted:
            # No redirects: the configured URL is the one trusted.
            http = self._own_http = AsyncClient(follow_redirects=False, timeout=10.0)
        self._issuers: dict[str, IssuerKeys[K]] = {}
        if http is not None:
            self._issuers = {item.issuer: IssuerKeys(item, http=http, parse=parse_for(item)) for item in trusted}

    def __bool__(self) -> bool:
        return bool(self._issuers)

    def get(self, issuer: str) -> IssuerKeys[K] | None:
        """The trusted issuer with this ``iss``, if any."""
        return self._issuers.get(issuer)

    def __iter__(self) -> Iterator[IssuerKeys[K]]:
        return iter(self._issuers.values())

    def start(self) -> None:
        """Start fetching every issuer's keys in the background."""
        for issuer in self._issuers.values():
            metrics.declare_issuer(issuer.issuer)
            issuer.start()

    async def close(self) -> None:
        """Stop the background fetches and close the HTTP client (when it is ours)."""
        for issuer in self._issuers.values():
            await issuer.close()
        if self._own_http is not None:
            await self._own_http.aclose()
            self._own_http = None
