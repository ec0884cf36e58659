"""Per-client rate limits: requests per second and per day, counted with the ``limits`` library.

Each client has two windows, a second and a day: its own limits (``clients.rate_limit_per_second``,
``rate_limit_per_day``), or the gateway's defaults when those are null (``GATEWAY_RATE_LIMIT_PER_SECOND``,
``GATEWAY_RATE_LIMIT_PER_DAY``; unset, 50 and 100,000 in production and none in development). A limit of 0 means
no limit for that window; with no limit in either window the limiter does nothing at all.

A request is admitted only when every window has room, and then counts in every window; a refused request
counts in none (a client hammering past its per-second limit does not burn its day).

Counting uses the library's *sliding window counter* (the previous window's count, weighted by how much of it
still overlaps, plus the current window's count), in one of two stores:

* in process memory (``limits.aio.storage.MemoryStorage``), the default: every gateway process has its own
  budget, and no I/O is done;
* Redis (``GATEWAY_REDIS_URL``, through the library's ``RedisStorage`` and its coredis client): every process
  shares one budget. Both windows are checked and counted by one Lua script, so a request costs one Redis
  round trip. The script is the library's ``acquire_sliding_window.lua`` run over several windows at once,
  all-or-nothing, on the library's own keys (the library's limiter reads and clears the same counters).

When Redis cannot be reached the limiter fails closed by default (503 ``rate-limit-unavailable``): the limits
bound how much personal data a leaked credential can pull, and a control like that must not disappear with
its store. ``GATEWAY_RATE_LIMIT_FAIL_OPEN=true`` serves without counting instead. Either way the outage is
logged once when it starts and once when it ends, and counted in ``gateway_rate_limit_store_errors_total``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from gateway.core import metrics
from gateway.core.logs import get_logger
from gateway.core.problems import RateLimited, RateLimitUnavailable, TooManyFailures
from gateway.core.settings import Settings
from gateway.identity.access import ClientAccess

#: Namespace of the limits' keys (``<prefix>:{client/<client id>/<limit>/1/second}``).
NAMESPACE = "client"
SECOND = 1
DAY = 86_400
#: Retry-After answered while the rate-limit store is unreachable.
STORE_RETRY_AFTER_SECONDS = 5

log = get_logger(__name__)

# KEYS: the previous and current key of each window, in pairs; ARGV: the limit and length (seconds) of each.
# Per window this is the library's acquire_sliding_window.lua; a request is counted only if all windows admit it.
# Returns {admitted (0/1), then per window: previous count, previous ttl (ms), current count, current ttl (ms)}.
_ACQUIRE_WINDOWS = """
local windows = #ARGV / 2
local counts = {}
local admitted = 1
for i = 1, windows do
    local previous_key, current_key = KEYS[2 * i - 1], KEYS[2 * i]
    local limit, expiry = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i]) * 1000
    local current_ttl = tonumber(redis.call('pttl', current_key))
    if current_ttl > 0 and current_ttl < expiry then
        -- the current window is over: it becomes the previous one
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = math.max(tonumber(redis.call('pttl', previous_key)), 0)
    local current_count = tonumber(redis.call('get', current_key)) or 0
    current_ttl = math.max(tonumber(redis.call('pttl', current_key)), 0)
    if math.floor(previous_count * previous_ttl / expiry) + current_count + 1 > limit then
        admitted = 0
    end
    counts[i] = {previous_count, previous_ttl, current_count, current_ttl}
end
local result = {admitted}
for i = 1, windows do
    local window = counts[i]
    if admitted == 1 then
        local current_key, expiry = KEYS[2 * i], tonumber(ARGV[2 * i]) * 1000
        if redis.call('exists', current_key) == 1 then
            window[3] = redis.call('incrby', current_key, 1)
        else
            redis.call('set', current_key, 1, 'PX', expiry * 2)
            window[3], window[4] = 1, expiry * 2
        end
    end
    for _, value in ipairs(window) do
        result[#result + 1] = value
    end
end
return result
"""


@dataclass(frozen=True, slots=True)
class Window:
    """One window of a client's limit as the sliding window counter sees it (times in seconds)."""

    limit: int
    seconds: int
    previous: int
    previous_ttl: float
    current: int
    current_ttl: float

    @property
    def used(self) -> int:
        """Requests counted against the limit now."""
        return math.floor(self.previous * self.previous_ttl / self.seconds) + self.current

    @property
    def remaining(self) -> int:
        """Requests left now."""
        return max(0, self.limit - self.used)

    @property
    def admits(self) -> bool:
        """Whether one more request fits."""
        return self.used + 1 <= self.limit

    @property
    def closes_in(self) -> float:
        """Seconds until the current window ends and its count starts to fade out."""
        return max(0.0, self.current_ttl - self.seconds)

    def wait(self) -> float:
        """Seconds until one more request fits."""
        if self.admits:
            return 0.0
        if self.current >= self.limit or self.previous == 0:
            return self.closes_in
        # The previous window's weight fades linearly; it must fall below what the current one leaves.
        fades = self.previous_ttl - (self.limit - self.current) * self.seconds / self.previous
        return min(max(0.0, fades), self.closes_in)

    def counted(self) -> Window:
        """The window after one more request."""
        return Window(self.limit, self.seconds, self.previous, self.previous_ttl, self.current + 1, self.current_ttl)


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The outcome of one request against a client's windows, and the headers that describe it.

    ``RateLimit-Limit``, ``-Remaining`` and ``-Reset`` describe the window closest to refusing (the one with
    the fewest requests left; when refused, the one that refuses longest), ``RateLimit-Policy`` every window,
    as in the IETF draft ``RateLimit`` header fields.
    """

    admitted: bool
    windows: tuple[Window, ...]

    @property
    def retry_after(self) -> int:
        """Whole seconds until a request can be admitted (at least 1 when refused, 0 when admitted)."""
        if self.admitted:
            return 0
        return max(1, math.ceil(max(w.wait() for w in self.windows)))

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` headers (and ``Retry-After`` when refused)."""
        if self.admitted:
            window = min(self.windows, key=lambda w: (w.remaining, -w.closes_in))
            reset = max(1, math.ceil(window.closes_in))
        else:
            window = max(self.windows, key=lambda w: w.wait())
            reset = self.retry_after
        headers = {
            "RateLimit-Limit": str(window.limit),
            "RateLimit-Remaining": str(window.remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": ", ".join(f"{w.limit};w={w.seconds}" for w in self.windows),
        }
        if not self.admitted:
            headers["Retry-After"] = str(reset)
        return headers

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """:meth:`headers` as ASGI header pairs."""
        return [(name.lower().encode(), value.encode()) for name, value in self.headers().items()]


@lru_cache(maxsize=16_384)
def _key(item: RateLimitItem, client_id: str) -> str:
    return item.key_for(client_id)


@lru_cache(maxsize=4096)
def limit_item(limit: int, seconds: int) -> RateLimitItem:
    """The ``limits`` item of one window (``seconds`` is :data:`SECOND` or :data:`DAY`)."""
    kind = RateLimitItemPerDay if seconds == DAY else RateLimitItemPerSecond
    return kind(limit, namespace=NAMESPACE)


class WindowCounter(Protocol):
    """Where the windows are counted."""

    @property
    def storage(self) -> MemoryStorage | RedisStorage:
        """The ``limits`` storage the windows live in."""
        ...

    async def acquire(self, client_id: str, items: Sequence[RateLimitItem]) -> tuple[bool, tuple[Window, ...]]:
        """Admit and count one request in every window, or in none; and the windows' state."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    def errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions meaning the store cannot be reached."""
        ...


class MemoryCounter:
    """Counts in this process's memory with the library's sliding window counter."""

    def __init__(self) -> None:
        self.storage = MemoryStorage()

    async def acquire(self, client_id: str, items: Sequence[RateLimitItem]) -> tuple[bool, tuple[Window, ...]]:
        """See :class:`WindowCounter`. The memory storage never suspends between the reads and the counts below
        (its locks are uncontended within one event loop), so the check and the counting are atomic."""
        windows = []
        for item in items:
            counts = await self.storage.get_sliding_window(_key(item, client_id), item.get_expiry())
            windows.append(Window(item.amount, item.get_expiry(), *counts))
        if not all(w.admits for w in windows):
            return False, tuple(windows)
        now = time.time()
        for item in items:
            # What the library's acquire_sliding_window_entry does once it has checked the window, as above.
            expiry = item.get_expiry()
            _, current_key = self.storage.sliding_window_keys(_key(item, client_id), expiry, now)
            await self.storage.incr(current_key, 2 * expiry)
        return True, tuple(w.counted() for w in windows)

    async def close(self) -> None:
        """Nothing to release."""

    def errors(self) -> tuple[type[BaseException], ...]:
        """Memory does not fail."""
        return ()


def storage_uri(redis_url: str) -> str:
    """The ``limits`` storage URI of a Redis URL (``redis://``, ``rediss://`` or ``unix://``)."""
    scheme = urlsplit(redis_url).scheme.lower()
    schemes = {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}
    if scheme not in schemes:
        raise ValueError("GATEWAY_REDIS_URL must be a redis://, rediss:// or unix:// URL")
    return schemes[scheme] + redis_url[len(scheme) :]


class RedisCounter:
    """Counts in Redis, shared by every gateway process: one script call (one round trip) per request."""

    def __init__(self, redis_url: str, *, key_prefix: str, timeout_seconds: float) -> None:
        # Imported here: the Redis client costs a process about 13 MB, and a gateway without Redis never needs it.
        from coredis.exceptions import ConnectionError as RedisConnectionError
        from coredis.retry import ConstantRetryPolicy
        from limits.aio.storage.redis.coredis import CoredisBridge

        options: dict[str, Any] = {
            "connect_timeout": timeout_seconds,
            "stream_timeout": timeout_seconds,
            # Retry only when the command was not sent (a pooled connection closed by a Redis restart): a
            # timed-out script may have run, and running it again would count the request twice.
            "retry_policy": ConstantRetryPolicy((RedisConnectionError,), 1, 0.01),
        }
        self.storage = RedisStorage(storage_uri(redis_url), key_prefix=key_prefix, **options)
        bridge = self.storage.bridge
        if not isinstance(bridge, CoredisBridge):  # pragma: no cover - the default implementation
            raise TypeError("the Redis rate-limit store needs the coredis client")
        self._bridge = bridge
        self._script = bridge.get_connection().register_script(_ACQUIRE_WINDOWS)

    async def ping(self) -> None:
        """``PING`` the store; raises what the client raised when it cannot be reached (the library's own check
        answers ``False`` and keeps the reason)."""
        await self._bridge.get_connection().ping()

    def keys(self, client_id: str, item: RateLimitItem) -> tuple[str, str]:
        """The previous and current window keys of ``item``, as the library's ``RedisStorage`` names them."""
        current = self._bridge.prefixed_key(f"{{{_key(item, client_id)}}}")
        return f"{current}/-1", current

    async def acquire(self, client_id: str, items: Sequence[RateLimitItem]) -> tuple[bool, tuple[Window, ...]]:
        """See :class:`WindowCounter`."""
        keys: list[str | bytes] = []
        args: list[str | bytes | int | float] = []
        for item in items:
            keys.extend(self.keys(client_id, item))
            args.extend((item.amount, item.get_expiry()))
        result: Any = await self._script.execute(tuple(keys), tuple(args))
        values = [int(v) for v in result]
        windows = tuple(
            Window(
                limit=item.amount,
                seconds=item.get_expiry(),
                previous=values[1 + 4 * i],
                previous_ttl=values[2 + 4 * i] / 1000,
                current=values[3 + 4 * i],
                current_ttl=values[4 + 4 * i] / 1000,
            )
            for i, item in enumerate(items)
        )
        return values[0] == 1, windows

    async def close(self) -> None:
        """Close the connection pool."""
        self._bridge.get_connection().connection_pool.disconnect()

    def errors(self) -> tuple[type[BaseException], ...]:
        """Redis errors (connection refused, timeouts), and the OS errors beneath them."""
        base = self.storage.base_exceptions
        return (*(base if isinstance(base, tuple) else (base,)), OSError, TimeoutError)


class RateLimiter:
    """Admits or refuses each authenticated request of a client against its limits."""

    def __init__(self, counter: WindowCounter, *, per_second: int, per_day: int, fail_open: bool = False) -> None:
        self.counter = counter
        self.per_second = per_second
        self.per_day = per_day
        self.fail_open = fail_open
        self._errors = counter.errors()
        self._store_down = False

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter the settings describe: Redis when ``redis_url`` is set, else memory."""
        counter: WindowCounter
        if settings.redis_url:
            counter = RedisCounter(
                settings.redis_url,
                key_prefix=settings.rate_limit_key_prefix,
                timeout_seconds=settings.redis_timeout_seconds,
            )
        else:
            counter = MemoryCounter()
        return cls(
            counter,
            per_second=settings.rate_limit_per_second or 0,
            per_day=settings.rate_limit_per_day or 0,
            fail_open=settings.rate_limit_fail_open,
        )

    def items(self, access: ClientAccess) -> tuple[RateLimitItem, ...]:
        """The client's limited windows (none when it is unlimited)."""
        per_second = self.per_second if access.rate_limit_per_second is None else access.rate_limit_per_second
        per_day = self.per_day if access.rate_limit_per_day is None else access.rate_limit_per_day
        if per_second > 0 and per_day > 0:
            return (limit_item(per_second, SECOND), limit_item(per_day, DAY))
        if per_second > 0:
            return (limit_item(per_second, SECOND),)
        if per_day > 0:
            return (limit_item(per_day, DAY),)
        return ()

    async def admit(self, access: ClientAccess) -> RateLimitStatus | None:
        """Count one request of the client: its status (``None`` when it is unlimited, or when the store is
        down and the limiter fails open); 429 :class:`RateLimited` when refused, 503
        :class:`RateLimitUnavailable` when the store is down and the limiter fails closed."""
        items = self.items(access)
        if not items:
            return None
        refused = metrics.rate_limited(access.client_id)  # declares the client's series at zero
        try:
            admitted, windows = await self.counter.acquire(access.client_id, items)
        except self._errors as exc:
            self._store_failed(exc)
            return None
        if self._store_down:
            self._store_down = False
            log.warning("rate-limit store reachable again")
        status = RateLimitStatus(admitted, windows)
        if not admitted:
            refused.inc()
            raise RateLimited(
                f"Too many requests; retry in {status.retry_after} s.",
                headers=status.headers(),
            )
        return status

    def _store_failed(self, exc: BaseException) -> None:
        """Count and log (once per outage) a failure of the store; raise 503 unless failing open."""
        metrics.RATE_LIMIT_STORE_ERRORS.inc()
        if not self._store_down:
            self._store_down = True
            # The error's type only: a Redis message can carry the URL and its password.
            log.error("rate-limit store unreachable", error=type(exc).__name__, fail_open=self.fail_open)
        if not self.fail_open:
            raise RateLimitUnavailable(headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)})

    async def close(self) -> None:
        """Release the store's connections."""
        await self.counter.close()

    async def store_needed(self) -> str | None:
        """Whether the gateway can serve without the limiter's store: ``None`` when it can (memory counter, or a
        limiter failing open), else ``"ok"`` or why the store is unreachable (for ``/readyz``)."""
        if self.fail_open or not isinstance(self.counter, RedisCounter):
            return None
        try:
            await self.counter.ping()
        except Exception as exc:  # the error's type only: a Redis message can carry the URL
            return f"unreachable ({type(exc).__name__})"
        return "ok"


#: Namespace of the failed token requests' keys (``<prefix>:{token-failures/client/<id>/<limit>/<n>/second}``).
FAILURES_NAMESPACE = "token-failures"
#: The namespace of the tokens issued to each client (:meth:`TokenGuard.issued`).
ISSUED_NAMESPACE = "tokens-issued"


class TokenGuard:
    """Counts failed token requests per claimed client id from one source address, and per source address, in the
    rate limiter's store (memory, or Redis shared by every process), and refuses a client id from an address, or an
    address, that has failed too often within the window: 429 :class:`TooManyFailures` with ``Retry-After``, before
    its credentials are even checked.

    A client id's failures are counted per address: client ids are no secret, and a count of the id alone let
    anyone who knew one keep that client from its tokens with ten wrong secrets every window. Guessing from many
    addresses is bounded by each address's own count, and the secrets are not guessable anyway (below).

    The count is the ``limits`` library's sliding window counter; a success counts nothing, and the failures
    fade out as the window slides on. When the store cannot be reached the guard does as the rate limiter does
    (``rate_limit_fail_open``): it answers 503 :class:`RateLimitUnavailable` when the limiter fails closed (data
    requests are refused then too: a token would serve nothing, and no failure could be counted), and lets token
    requests through uncounted when it fails open (the secrets are 256-bit random values that no number of
    guesses finds). Either way the outage is counted (``gateway_rate_limit_store_errors_total``) and logged once.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        per_client: int,
        per_address: int,
        window_seconds: int,
        issued_per_minute: int = 0,
    ) -> None:
        self.limiter = limiter
        self._strategy = SlidingWindowCounterRateLimiter(limiter.counter.storage)
        self._store_down = False
        self._limits: dict[str, RateLimitItem] = {}
        for kind, amount in (("client", per_client), ("address", per_address)):
            if amount > 0:
                self._limits[kind] = RateLimitItemPerSecond(amount, window_seconds, namespace=FAILURES_NAMESPACE)
        self._issued = RateLimitItemPerSecond(issued_per_minute, 60, namespace=ISSUED_NAMESPACE)

    @classmethod
    def from_settings(cls, settings: Settings, limiter: RateLimiter) -> TokenGuard:
        """The guard the settings describe, counting where ``limiter`` counts."""
        return cls(
            limiter,
            per_client=settings.token_failures_per_client,
            per_address=settings.token_failures_per_address,
            window_seconds=settings.token_failure_window_seconds,
            issued_per_minute=settings.token_requests_per_minute,
        )

    def _subjects(self, client_id: str | None, address: str | None) -> list[tuple[str, str, RateLimitItem]]:
        subjects = []
        client = client_id[:MAX_SUBJECT] if client_id else None
        if client is not None and address:
            client = f"{client}@{address[:MAX_SUBJECT]}"
        for kind, value in (("client", client), ("address", address)):
            item = self._limits.get(kind)
            if item is not None and value:
                subjects.append((kind, value[: MAX_SUBJECT * 2 + 1], item))
        return subjects

    async def check(self, client_id: str | None, address: str | None) -> None:
        """Refuse (429) when the client id or the address has used up its failures."""
        storage = self.limiter.counter.storage
        try:
            for kind, value, item in self._subjects(client_id, address):
                counts = await storage.get_sliding_window(item.key_for(kind, value), item.get_expiry())
                window = Window(item.amount, item.get_expiry(), *counts)
                if not window.admits:
                    retry_after = max(1, math.ceil(window.wait()))
                    metrics.AUTH_FAILURES.labels(f"locked_{kind}").inc()
                    raise TooManyFailures(
                        f"Too many failed token requests for this "
                        f"{'client from this address' if kind == 'client' else 'address'}; retry in {retry_after} s.",
                        headers={"Retry-After": str(retry_after)},
                        reason=kind,
                    )
        except self.limiter.counter.errors() as exc:
            self._store_failed(exc)
            if not self.limiter.fail_open:
                raise RateLimitUnavailable(headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)}) from None
            return
        self._store_back()

    async def issued(self, client_id: str) -> None:
        """Count one token about to be issued to an authenticated client; 429 :class:`RateLimited` when the client
        has had ``token_requests_per_minute`` in the last minute. Each token is signed and audited, and a client
        reuses its token until it expires: a client asking for one per request would make the gateway sign and
        audit without bound (its data requests are bounded by its rate limit)."""
        item = self._issued
        if item.amount <= 0:
            return
        try:
            if await self._strategy.hit(item, client_id):
                self._store_back()
                return
            counts = await self.limiter.counter.storage.get_sliding_window(item.key_for(client_id), 60)
        except self.limiter.counter.errors() as exc:
            self._store_failed(exc)
            if not self.limiter.fail_open:
                raise RateLimitUnavailable(headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)}) from None
            return
        retry_after = max(1, math.ceil(Window(item.amount, 60, *counts).wait()))
        metrics.rate_limited(client_id).inc()
        raise RateLimited(
            f"This client has obtained {item.amount} tokens in the last minute: reuse a token until it expires "
            f"(expires_in); retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )

    async def failed(self, client_id: str | None, address: str | None) -> None:
        """Count one failed token request against the client id and the address."""
        try:
            for kind, value, item in self._subjects(client_id, address):
                await self._strategy.hit(item, kind, value)
        except self.limiter.counter.errors() as exc:
            self._store_failed(exc)

    def _store_failed(self, exc: BaseException) -> None:
        metrics.RATE_LIMIT_STORE_ERRORS.inc()
        if not self._store_down:
            self._store_down = True
            # The error's type only: a Redis message can carry the URL and its password.
            log.error(
                "token failure counts unavailable",
                error=type(exc).__name__,
                token_requests="refused (503)" if not self.limiter.fail_open else "served uncounted",
            )

    def _store_back(self) -> None:
        if self._store_down:
            self._store_down = False
            log.warning("token failure counts available again")


#: Longest client id or address counted (longer ones are cut: they are not valid anyway).
MAX_SUBJECT = 128
