"""Passive health: a circuit breaker per connection, fed by the outcome of real requests.

``closed``: calls go through; consecutive failures or a high error ratio over a sliding window open it.
``open``: calls fail at once (503 with ``Retry-After``) until the cool-down is over. ``half_open``: one trial call
goes through; its success closes the circuit, its failure opens it again. Only failures of the sector system
count (timeouts, refused connections, protocol errors, 5xx, and a connector's unexpected exceptions); a record
not found is an answer. A failure about a record (or a search) that already failed within the window counts for
nothing: one client asking again and again for the one record that makes its sector system fail must not open the
circuit for every client, while an outage fails the calls about every record.

The breaker lives in each gateway process and is not shared: each process protects its own workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from enum import IntEnum

from gateway.core.settings import CircuitPolicy
from gateway.records.repeats import RecentKeys

#: The most records (or searches) whose failure within the window a breaker remembers.
MAX_REMEMBERED_FAILURES = 10_000

CONNECTOR_ERROR = "connector_error"
"""The reason of a connector's unexpected exception (not a :class:`~connectors.errors.ConnectorError`)."""
#: Upstream error reasons that count as the sector system failing.
FAILURE_REASONS = frozenset({"timeout", "connect", "rate_limited", "protocol", "status_5xx", CONNECTOR_ERROR})


class FailureRun:
    """How many calls in a row have failed: the count at which a :class:`CircuitBreaker` opens, and a quality scan
    stops asking a database (:data:`gateway.quality.lookups.GIVE_UP_AFTER`)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def record(self, *, failed: bool) -> int:
        """Count a call's outcome (an answer ends the run); the failures in a row now."""
        self.count = self.count + 1 if failed else 0
        return self.count

    def reset(self) -> None:
        """Start counting anew."""
        self.count = 0


class CircuitState(IntEnum):
    """Values of ``gateway_circuit_state``."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpenError(Exception):
    """A call was refused because the circuit is open; retry after ``retry_after`` seconds."""

    def __init__(self, database: str, retry_after: float) -> None:
        super().__init__(f"the circuit of {database} is open")
        self.database = database
        self.retry_after = retry_after


class CircuitBreaker:
    """The circuit of one connection. ``on_change`` is called with each new state (it sets the metric)."""

    __slots__ = (
        "_buckets",
        "_calls",
        "_clock",
        "_failed_keys",
        "_failing",
        "_failures",
        "_on_change",
        "_opened_at",
        "_trial_running",
        "database",
        "policy",
        "state",
    )

    def __init__(
        self,
        database: str,
        policy: CircuitPolicy,
        *,
        on_change: Callable[[CircuitState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.policy = policy
        self.state = CircuitState.CLOSED
        self._on_change = on_change
        self._clock = clock
        self._failing = FailureRun()
        self._failed_keys = RecentKeys(policy.window_seconds, MAX_REMEMBERED_FAILURES)
        self._opened_at = 0.0
        self._trial_running = False
        # One-second buckets over the window, oldest first (the clock is monotonic): second -> [calls, failures];
        # and their sums, kept as buckets come and go.
        self._buckets: dict[int, list[int]] = {}
        self._calls = self._failures = 0
        if on_change is not None:
            on_change(self.state)

    def before_call(self) -> bool:
        """Let a call through, or raise :class:`CircuitOpenError`. Returns whether the call is the trial call."""
        if self.state is CircuitState.CLOSED or not self.policy.enabled:
            return False
        now = self._clock()
        if self.state is CircuitState.OPEN:
            remaining = self._opened_at + self.policy.cooldown_seconds - now
            if remaining > 0:
                raise CircuitOpenError(self.database, remaining)
            self._set(CircuitState.HALF_OPEN)
        if self._trial_running:
            raise CircuitOpenError(self.database, min(self.policy.cooldown_seconds, 1.0))
        self._trial_running = True
        return True

    def record(self, *, failed: bool, trial: bool, about: Collection[str] = ()) -> None:
        """The outcome of a call let through by :meth:`before_call`; ``about``: what the call asked for (a record's
        key, a search's fingerprint), when known, so that a failure repeating one within the window is not counted."""
        if not self.policy.enabled:
            return
        if trial:
            self._trial_running = False
            if failed:
                self._open()
            else:
                self._close()
            return
        if self.state is not CircuitState.CLOSED:
            return
        if failed and not self._failed_keys.fresh(self._clock(), about):
            return
        in_a_row = self._failing.record(failed=failed)
        calls, failures = self._count(failed)
        policy = self.policy
        if in_a_row >= policy.consecutive_failures or (
            calls >= policy.min_calls and failures / calls >= policy.error_ratio
        ):
            self._open()

    def current(self) -> CircuitState:
        """The state as the axis sees it: an open circuit whose cool-down is over lets the next call through as a
        trial, so it counts as half-open."""
        if not self.policy.enabled:
            return CircuitState.CLOSED
        if self.state is CircuitState.OPEN and self._clock() >= self._opened_at + self.policy.cooldown_seconds:
            return CircuitState.HALF_OPEN
        return self.state

    def cooldown_ended_ago(self) -> float | None:
        """Seconds since the cool-down of the open circuit ended, ``None`` unless open with the cool-down over."""
        if self.state is not CircuitState.OPEN or not self.policy.enabled:
            return None
        ago = self._clock() - (self._opened_at + self.policy.cooldown_seconds)
        return ago if ago >= 0 else None

    def trial_by_check(self, *, failed: bool) -> None:
        """A health check that answered (or failed) serves as the trial call of a circuit whose cool-down is over,
        so that the circuit closes (or opens again) without waiting for a request."""
        if self.current() is not CircuitState.HALF_OPEN or self._trial_running:
            return
        try:
            trial = self.before_call()
        except CircuitOpenError:
            return
        if trial:
            self.record(failed=failed, trial=True)

    def release_trial(self) -> None:
        """The trial call ended without telling anything (cancelled, or a client error): allow another."""
        self._trial_running = False

    def _count(self, failed: bool) -> tuple[int, int]:
        """Count a call; the calls and failures of the window (in constant time: the sums are kept)."""
        second = math.floor(self._clock())
        buckets = self._buckets
        bucket = buckets.get(second)
        if bucket is None:
            horizon = second - math.ceil(self.policy.window_seconds)
            while buckets:
                oldest = next(iter(buckets))
                if oldest > horizon:
                    break
                calls, failures = buckets.pop(oldest)
                self._calls -= calls
                self._failures -= failures
            bucket = buckets[second] = [0, 0]
        bucket[0] += 1
        bucket[1] += failed
        self._calls += 1
        self._failures += failed
        return self._calls, self._failures

    def _forget(self) -> None:
        self._buckets.clear()
        self._calls = self._failures = 0
        self._failed_keys.clear()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._forget()
        self._failing.reset()
        self._set(CircuitState.OPEN)

    def _close(self) -> None:
        self._forget()
        self._failing.reset()
        self._set(CircuitState.CLOSED)

    def _set(self, state: CircuitState) -> None:
        if state is not self.state:
            self.state = state
            if self._on_change is not None:
                self._on_change(state)
