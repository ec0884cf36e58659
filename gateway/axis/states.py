"""Connection states and how a health check moves a connection from one to another.

The state is derived from evidence, never typed in: ``pending`` until a connector is configured and checked,
``connected`` and ``degraded`` (answering, but slow or partly failing) while it answers, ``down`` after
``failures_to_down`` failed checks in a row, back to ``connected`` after ``successes_to_connect`` good ones;
``maintenance`` when an operator says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from ..settings import HealthPolicy


class ConnectionState(StrEnum):
    """The state of a catalogued database's connection through the axis."""

    PENDING = "pending"
    CONNECTED = "connected"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"


STATES: tuple[ConnectionState, ...] = tuple(ConnectionState)
UP_STATES = frozenset({ConnectionState.CONNECTED, ConnectionState.DEGRADED})


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One health check: whether it answered, how fast, whether the connector called itself degraded, why not."""

    ok: bool
    latency_seconds: float | None
    degraded: bool = False
    reason: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Tracker:
    """What the state machine remembers of a connection between checks."""

    state: ConnectionState
    since: datetime
    failures: int = 0
    successes: int = 0
    last_check: datetime | None = None
    last_success: datetime | None = None
    latency_ms: float | None = None
    error: str | None = None


def p95(latencies: Sequence[float]) -> float | None:
    """The 95th percentile (nearest rank) of ``latencies``, ``None`` when there are none."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def after_check(
    tracker: Tracker, outcome: CheckOutcome, policy: HealthPolicy, recent: Sequence[float], now: datetime
) -> Tracker:
    """The tracker after ``outcome``; ``recent`` are the latencies (seconds) of the recent good checks, this one
    included."""
    latency_ms = None if outcome.latency_seconds is None else round(outcome.latency_seconds * 1000, 3)
    never_checked = tracker.last_check is None
    if outcome.ok:
        successes, failures = tracker.successes + 1, 0
        error = None
        slow = p95(recent)
        if tracker.state is ConnectionState.DOWN and not never_checked and successes < policy.successes_to_connect:
            state = ConnectionState.DOWN
            error = f"recovering: {successes} of {policy.successes_to_connect} checks answered"
        elif outcome.degraded:
            state, error = ConnectionState.DEGRADED, outcome.error or "the sector system reports itself degraded"
        elif slow is not None and slow > policy.degraded_latency_seconds:
            state = ConnectionState.DEGRADED
            error = f"slow: p95 latency {slow * 1000:.0f} ms over {policy.degraded_latency_seconds * 1000:.0f} ms"
        else:
            state = ConnectionState.CONNECTED
        last_success: datetime | None = now
    else:
        successes, failures = 0, tracker.failures + 1
        error = outcome.error or "the health check failed"
        if failures >= policy.failures_to_down or tracker.state not in UP_STATES:
            state = ConnectionState.DOWN
        else:
            state = ConnectionState.DEGRADED
            error = f"{error} ({failures} of {policy.failures_to_down} failures before down)"
        last_success = tracker.last_success
    since = tracker.since if state is tracker.state else now
    return replace(
        tracker,
        state=state,
        since=since,
        failures=failures,
        successes=successes,
        last_check=now,
        last_success=last_success,
        latency_ms=latency_ms,
        error=error,
    )
