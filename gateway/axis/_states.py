"""Connection states and how the evidence moves a connection from one to another.

The state is derived from evidence, never typed in: the active health checks (made deep by a connector's canary
record), the circuit breaker of the connection, and the passive evidence of real calls over a time window (error
ratio, contract-violation ratio, latency percentile). ``pending`` until a connector is configured and checked;
``connected`` and ``degraded`` (answering, but slow or partly failing) while it answers; ``down`` after
``failures_to_down`` failed checks before the connection has recovered from the first (``successes_to_connect``
good checks in a row), at once when the canary or the calls break the contract, while none of the window's calls
is answered (the checks answer, the clients' calls fail), and while the circuit is open;
``recovering`` while the circuit half-opens and after ``down`` until ``successes_to_connect`` good checks in a row
(a failed check's ``degraded`` lasts as long); ``maintenance`` when an operator says so; ``unknown`` when no check
has been recorded for longer than the checks' interval allows (:func:`stale_after`: no process is checking, or the
results cannot be written), whatever the last one said. The rules are tabled in ``docs/axis.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.core.settings import HealthPolicy
from gateway.records.circuit import CircuitState
from gateway.records.evidence import WindowSummary, p95

__all__ = [
    "CALLS_FAILING",
    "DEFINITIVE_REASONS",
    "STALE",
    "STATES",
    "UP_STATES",
    "CheckOutcome",
    "ConnectionState",
    "Tracker",
    "after_check",
    "overdue_since",
    "p95",
    "stale_after",
]


class ConnectionState(StrEnum):
    """The state of a catalogued database's connection through the axis."""

    PENDING = "pending"
    CONNECTED = "connected"
    DEGRADED = "degraded"
    RECOVERING = "recovering"
    DOWN = "down"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


STATES: tuple[ConnectionState, ...] = tuple(ConnectionState)
UP_STATES = frozenset({ConnectionState.CONNECTED, ConnectionState.DEGRADED})
#: The cause of ``unknown``: the checks stopped.
STALE = "stale"
#: The cause of ``down`` when none of the window's calls (at least ``min_calls``) was answered well.
CALLS_FAILING = "calls-failing"


def stale_after(policy: HealthPolicy, lease_seconds: float) -> float:
    """Seconds without a recorded check after which a connection's state is ``unknown``: three intervals (or one
    and the lease, for another process to take the checks over), at the longest jitter, and a check's timeout."""
    interval = max(3 * policy.interval_seconds, policy.interval_seconds + lease_seconds)
    return interval * (1 + policy.jitter) + policy.timeout_seconds


def overdue_since(last_check: datetime | None, bound: float, now: datetime) -> datetime | None:
    """When the checks of a connection last checked at ``last_check`` became overdue (``bound`` seconds after it,
    :func:`stale_after`), if that is before ``now``: from then on its state was not known."""
    if last_check is None:
        return None
    overdue = last_check + timedelta(seconds=bound)
    return overdue if overdue < now else None


#: Failed checks that are a wrong answer rather than no answer (records breaking the contract, a body that cannot
#: be read, the canary record gone, the integration platform refusing the gateway): one is enough for ``down``.
DEFINITIVE_REASONS = frozenset({"contract_violation", "protocol", "canary_missing", "refused"})


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
    """What the state machine remembers of a connection between checks; ``cause`` names the evidence behind the
    state (``None`` when connected)."""

    state: ConnectionState
    since: datetime
    failures: int = 0
    successes: int = 0
    last_check: datetime | None = None
    last_success: datetime | None = None
    latency_ms: float | None = None
    error: str | None = None
    cause: str | None = None


def _check_cause(reason: str | None) -> str:
    if reason in {"contract_violation", "canary_missing"}:
        return reason.replace("_", "-")
    return f"check-{(reason or 'error').replace('_', '-')}"


def _failing_calls(window: WindowSummary, policy: HealthPolicy) -> str | None:
    """What fails of the window's calls, past ``degraded_error_ratio`` (of at least ``min_calls``): all of them
    together, or one operation (searches failing while many reads answer are not connected for their callers)."""
    seconds = f"{policy.window_seconds:g}"
    if window.calls >= policy.min_calls and window.error_ratio >= policy.degraded_error_ratio:
        return f"{window.failures} of {window.calls} calls in {seconds} s failed"
    failing = window.failing_operation(policy.min_calls, policy.degraded_error_ratio)
    if failing is None:
        return None
    return f"{failing.failures} of {failing.calls} {failing.operation} calls in {seconds} s failed"


def _unanswered_calls(window: WindowSummary, policy: HealthPolicy) -> str | None:
    """Why none of the window's calls (at least ``min_calls``) was answered well, if none was: each failed or
    answered records breaking the contract."""
    if window.calls < policy.min_calls or window.failures + window.violations < window.calls:
        return None
    error = f"none of the {window.calls} calls in {policy.window_seconds:g} s was answered"
    if window.violations:
        error += f" ({window.failures} failed, {window.violations} answered records that break the contract)"
    return error


def after_check(  # noqa: PLR0912, PLR0915
    tracker: Tracker,
    outcome: CheckOutcome,
    policy: HealthPolicy,
    window: WindowSummary,
    now: datetime,
    *,
    circuit: CircuitState = CircuitState.CLOSED,
) -> Tracker:
    """The tracker after ``outcome``, given the circuit's state and the window of passive evidence (whose latency
    percentile includes this check when it answered)."""
    latency_ms = None if outcome.latency_seconds is None else round(outcome.latency_seconds * 1000, 3)
    never_checked = tracker.last_check is None
    enough_calls = window.calls >= policy.min_calls
    if outcome.ok:
        successes, failures = tracker.successes + 1, tracker.failures
        last_success: datetime | None = now
        was_failing = tracker.state in {ConnectionState.DOWN, ConnectionState.RECOVERING} and not never_checked
        # A failed check is a fault until ``successes_to_connect`` good checks in a row: its failures count towards
        # ``down`` until then, so a connection failing two checks of three (never three in a row) goes down.
        recovered = successes >= policy.successes_to_connect or failures == 0
        if recovered:
            failures = 0
        if circuit is CircuitState.OPEN:
            # Good checks while calls are refused do not count towards recovery: that starts when it closes.
            state, cause, successes = ConnectionState.DOWN, "circuit-open", 0
            error = "the circuit is open: calls are refused until its cool-down is over"
        elif circuit is CircuitState.HALF_OPEN:
            state, cause = ConnectionState.RECOVERING, "circuit-half-open"
            error = "the circuit is half-open: a trial call decides"
        elif enough_calls and window.violation_ratio >= policy.down_violation_ratio:
            state, cause = ConnectionState.DOWN, "contract-violation"
            error = (
                f"{window.violations} of {window.calls} calls in {policy.window_seconds:g} s answered records that "
                "break the contract"
            )
        elif (unanswered := _unanswered_calls(window, policy)) is not None:
            # The checks answer (a canary, a status route), the clients' calls do not: not connected, whatever the
            # checks say, until a call is answered (or the failed ones leave the window).
            state, cause, error = ConnectionState.DOWN, CALLS_FAILING, unanswered
        elif was_failing and successes < policy.successes_to_connect:
            state, cause = ConnectionState.RECOVERING, "recovering"
            error = f"{successes} of {policy.successes_to_connect} checks answered"
        elif not recovered:
            state, cause = ConnectionState.DEGRADED, tracker.cause or "recovering"
            error = (
                f"{successes} of {policy.successes_to_connect} checks answered since a failed one ({failures} of "
                f"{policy.failures_to_down} failures before down)"
            )
        elif outcome.degraded:
            state, cause = ConnectionState.DEGRADED, "self-reported"
            error = outcome.error or "the sector system reports itself degraded"
        elif (failing_calls := _failing_calls(window, policy)) is not None:
            state, cause, error = ConnectionState.DEGRADED, "error-ratio", failing_calls
        elif window.p95_seconds is not None and window.p95_seconds > policy.degraded_latency_seconds:
            state, cause = ConnectionState.DEGRADED, "slow"
            error = (
                f"p95 latency {window.p95_seconds * 1000:.0f} ms over "
                f"{policy.degraded_latency_seconds * 1000:.0f} ms in the last {policy.window_seconds:g} s"
            )
        else:
            state, cause, error = ConnectionState.CONNECTED, None, None
    else:
        successes, failures = 0, tracker.failures + 1
        last_success = tracker.last_success
        error = outcome.error or "the health check failed"
        cause = _check_cause(outcome.reason)
        if circuit is CircuitState.OPEN:
            state, cause = ConnectionState.DOWN, "circuit-open"
        elif (
            failures >= policy.failures_to_down
            or outcome.reason in DEFINITIVE_REASONS
            or tracker.state not in UP_STATES
        ):
            state = ConnectionState.DOWN
        else:
            state = ConnectionState.DEGRADED
            error = f"{error} ({failures} of {policy.failures_to_down} failures before down)"
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
        cause=cause,
    )
