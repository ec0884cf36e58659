"""Active health checks of the connected databases, run by one gateway process at a time.

Every process runs a :class:`HealthRunner`; only the one holding the ``axis-health`` lease (a row of the
``leases`` table, taken with a conditional update, renewed while held, taken over when it expires) checks the
sector systems and writes the connection states to the shared database, so checks do not multiply with processes
or hosts. The same holder periodically verifies the whole audit chain and records the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.base import Connector, HealthState
from connectors.context import RequestContext
from connectors.errors import ConnectorError, RecordNotFound, UpstreamError
from connectors.secrets import mask_urls
from gateway.axis._history import TICK, count_check, prune_history, record_transition
from gateway.axis._states import (
    STALE,
    CheckOutcome,
    ConnectionState,
    Tracker,
    after_check,
    overdue_since,
    stale_after,
)
from gateway.axis.catalogue import Catalogue
from gateway.axis.models import AxisCheck, AxisConnection, AxisEvidence, OpsStatus
from gateway.axis.overview import AUDIT_CHAIN, shared_operations, stale_bound, static_state
from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.leases import Lease, holder_id, stop_task
from gateway.core.logs import get_logger
from gateway.core.outages import LoopErrors, database_outage, database_unavailable
from gateway.core.settings import Settings
from gateway.records.circuit import FAILURE_REASONS, CircuitState
from gateway.records.context import connector_call, system_context
from gateway.records.evidence import WindowSummary, operation_windows
from gateway.records.registry import ConnectorRegistry, Database

LEASE = "axis-health"
STATIC_STATES_EVERY_SECONDS = 10.0
#: How often the lease holder prunes the axis history past its retention.
PRUNE_HISTORY_EVERY_SECONDS = 3600.0
#: How long closing waits for a round under way to finish its database writes.
CLOSE_GRACE_SECONDS = 2.0
#: How far ahead of a process's clock a moment recorded by another process may be and still be believed (clocks of
#: replicas differ by seconds; one that was hours ahead wrote moments that have not come).
CLOCK_SKEW_SECONDS = 60.0

log = get_logger(__name__)

#: The checks' jitter, from a generator of its own: the global ``random`` state is the application's.
#: What a process shares of one connection: circuit, calls, failures, violations, p95 (ms), when a call was last
#: answered well, and (operation, calls, failures) of each operation.
_Shared = tuple[int, int, int, int, float | None, float | None, tuple[tuple[str, int, int], ...]]

_JITTER = random.Random()  # noqa: S311 - jitter, not a secret


async def check_connector(  # noqa: PLR0911
    connector: Connector,  # type: ignore[type-arg]
    deadline: float,
    context: RequestContext,
) -> CheckOutcome:
    """Check one connector within ``deadline`` seconds, its canary record included when it declares one, in
    ``context`` (:func:`gateway.records.context.system_context`); never raises."""
    started = time.perf_counter()
    try:
        with connector_call(context):
            async with asyncio.timeout(deadline):
                report = await connector.health()
                if report.state is not HealthState.DOWN:
                    await connector.canary()
    except TimeoutError:
        return CheckOutcome(
            False, time.perf_counter() - started, reason="timeout", error=f"no answer in {deadline:g} s"
        )
    except UpstreamError as exc:
        return CheckOutcome(False, time.perf_counter() - started, reason=exc.reason, error=mask_urls(exc.message))
    except RecordNotFound:
        return CheckOutcome(
            False,
            time.perf_counter() - started,
            reason="canary_missing",
            error=f"the canary record {connector.canary_id!r} is not found",
        )
    except ConnectorError as exc:
        return CheckOutcome(False, time.perf_counter() - started, reason="error", error=mask_urls(exc.message))
    except Exception as exc:  # a check must never take the runner down, whatever the connector does
        error = mask_urls(f"{type(exc).__name__}: {exc}")
        return CheckOutcome(False, time.perf_counter() - started, reason="error", error=error)
    elapsed = time.perf_counter() - started
    latency = report.latency_seconds if report.latency_seconds is not None else elapsed
    message = mask_urls(report.message) if report.message else None
    if report.state is HealthState.DOWN:
        return CheckOutcome(False, latency, reason="down", error=message or "the connector reports down")
    return CheckOutcome(True, latency, degraded=report.state is HealthState.DEGRADED, error=message)


class HealthRunner:
    """Checks every configured, catalogued database on its own interval while this process holds the lease."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ConnectorRegistry,
        catalogue: Catalogue,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.catalogue = catalogue
        self.holder = holder_id()
        self.leader = False
        self._lease_until = 0.0
        self._reached_database = False
        self._task: asyncio.Task[None] | None = None
        self._due: dict[str, float] = {}
        self._audit_due = 0.0
        self._static_due = 0.0
        self._prune_due = 0.0
        self._audit_task: asyncio.Task[None] | None = None
        self._shared: dict[str, _Shared] = {}
        self._share_due = 0.0
        self._share_refresh = 0.0
        self._stopping = asyncio.Event()
        intervals = [self._database(db_id).health.interval_seconds for db_id in self.checked()] or [1.0]
        self.tick = max(0.05, min(1.0, min(intervals) / 2, settings.axis_lease_seconds / 4))

    def _database(self, db_id: str) -> Database:
        return self.registry.databases[db_id]

    def checked(self) -> list[str]:
        """The databases this runner checks: catalogued, enabled, with a loaded connector serving their records."""
        return [
            entry.id
            for entry in self.catalogue.databases
            if entry.enabled and entry.id in self.registry.databases and static_state(entry, self.registry) is None
        ]

    async def start(self) -> None:
        """Start the background loop."""
        for db_id in self.checked():
            metrics.declare_health(db_id)
        self._task = asyncio.create_task(self._run(), name="axis-health")

    async def close(self) -> None:
        """Stop checking and hand the lease over at once. A round under way may finish its database writes (for
        up to ``CLOSE_GRACE_SECONDS``); a check still waiting for a sector system after that is cancelled."""
        self._stopping.set()
        for task in (self._task, self._audit_task):
            await stop_task(task, CLOSE_GRACE_SECONDS)
        with contextlib.suppress(Exception):
            async with self.sessionmaker() as session:
                await session.exec(delete(AxisEvidence).where(col(AxisEvidence.holder) == self.holder))
                await session.commit()
        if self.leader:
            try:
                async with self.sessionmaker() as session:
                    await session.exec(
                        update(Lease)
                        .where(col(Lease.name) == LEASE, col(Lease.holder) == self.holder)
                        .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
                    )
                    await session.commit()
            except Exception:
                log.warning("could not release the health-check lease", exc_info=True)
            self.leader = False

    async def _run(self) -> None:
        errors = LoopErrors("health-check", database_outage(self.settings.database_url))
        while not self._stopping.is_set():
            try:
                self._reached_database = False
                leader = await self._hold_lease()
                try:
                    await self.share_evidence()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # sharing is best effort: the checks go on without it
                    if database_unavailable(exc):
                        database_outage(self.settings.database_url).failed("axis-evidence", exc)
                    else:
                        log.warning("could not share the passive evidence", exc_info=True)
                if leader:
                    await self._maybe_store_static_states()
                    await self._maybe_prune_history()
                    await self.run_due_checks()
                    self._maybe_verify_audit()
                # A round of a leader between its checks may not use the database: it says nothing of it.
                errors.succeeded(reached_database=self._reached_database)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors.failed(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.tick)

    async def _hold_lease(self) -> bool:
        now = time.monotonic()
        lease = self.settings.axis_lease_seconds
        if self.leader and self._lease_until - now > lease / 2:
            return True
        expires = utcnow() + timedelta(seconds=lease)
        self._reached_database = True
        async with self.sessionmaker() as session:
            result = await session.exec(
                update(Lease)
                .where(
                    col(Lease.name) == LEASE,
                    or_(col(Lease.holder) == self.holder, col(Lease.expires_at) < utcnow()),
                )
                .values(holder=self.holder, expires_at=expires)
            )
            await session.commit()
        won = result.rowcount == 1
        if won and not self.leader:
            log.info("running the axis health checks", holder=self.holder)
            self._due.clear()
            self._static_due = 0.0
        elif self.leader and not won:
            log.warning("lost the health-check lease", holder=self.holder)
        self.leader = won
        self._lease_until = now + lease if won else 0.0
        return won

    async def share_evidence(self) -> None:
        """Write this process's passive evidence (circuit state, calls of the window) for the lease holder to
        combine, when it changed or before it goes stale; and let a good health check of the holder made after the
        cool-down of this process's open circuit be its trial call, so that every process's circuit closes with
        the axis."""
        now = time.monotonic()
        if now < self._share_due:
            return
        self._share_due = now + self.tick
        lease = self.settings.axis_lease_seconds
        snapshot: dict[str, _Shared] = {}
        waiting: dict[str, float] = {}
        for db_id in self.checked():
            database = self._database(db_id)
            policy = database.health
            window = database.evidence.summary(policy.window_seconds, max_latencies=policy.latency_window)
            p95_ms = None if window.p95_seconds is None else round(window.p95_seconds * 1000, 3)
            circuit = database.circuit.current()
            answered = database.evidence.last_answered
            operations = tuple((op.operation, op.calls, op.failures) for op in window.operations)
            snapshot[db_id] = (
                int(circuit),
                window.calls,
                window.failures,
                window.violations,
                p95_ms,
                answered,
                operations,
            )
            if not self.leader and (ago := database.circuit.cooldown_ended_ago()) is not None:
                waiting[db_id] = ago
        refresh = now >= self._share_refresh
        changed = {db_id: values for db_id, values in snapshot.items() if refresh or self._shared.get(db_id) != values}
        if not changed and not waiting:
            return
        written = utcnow()
        async with self.sessionmaker() as session:
            if changed:
                found = await session.exec(
                    select(AxisEvidence).where(
                        col(AxisEvidence.holder) == self.holder, col(AxisEvidence.database_id).in_(changed)
                    )
                )
                rows = {row.database_id: row for row in found.all()}
                for db_id, (circuit_value, calls, failures, violations, p95_ms, answered, ops) in changed.items():
                    row = rows.get(db_id) or AxisEvidence(database_id=db_id, holder=self.holder)
                    row.circuit, row.calls, row.failures, row.violations = circuit_value, calls, failures, violations
                    row.p95_ms, row.updated_at = p95_ms, written
                    row.operations = {operation: [op_calls, op_failures] for operation, op_calls, op_failures in ops}
                    session.add(row)
                    if answered is not None:
                        await session.exec(_answered_at(db_id, answered))
                await session.commit()
                self._shared.update(changed)
                if refresh:
                    self._share_refresh = now + lease / 3
            if waiting:
                found_states = await session.exec(
                    select(AxisConnection).where(col(AxisConnection.database_id).in_(waiting))
                )
                for state in found_states.all():
                    ended_at = written - timedelta(seconds=waiting[state.database_id])
                    last_check, last_success = state.last_check, state.last_success
                    if last_check is not None and last_success == last_check and last_check >= ended_at:
                        self._database(state.database_id).circuit.trial_by_check(failed=False)

    async def _shared_evidence(self, due: list[str]) -> dict[str, list[AxisEvidence]]:
        """The other processes' fresh evidence of ``due``; stale rows (of stopped processes) are deleted."""
        fresh_after = utcnow() - timedelta(seconds=self.settings.axis_lease_seconds * 1.5)
        async with self.sessionmaker() as session:
            found = await session.exec(
                select(AxisEvidence).where(
                    col(AxisEvidence.database_id).in_(due),
                    col(AxisEvidence.holder) != self.holder,
                    col(AxisEvidence.updated_at) >= fresh_after,
                )
            )
            shared: dict[str, list[AxisEvidence]] = {}
            for row in found.all():
                shared.setdefault(row.database_id, []).append(row)
            stale = utcnow() - timedelta(seconds=self.settings.axis_lease_seconds * 10)
            await session.exec(delete(AxisEvidence).where(col(AxisEvidence.updated_at) < stale))
            await session.commit()
        return shared

    async def run_due_checks(self) -> None:
        """Check the databases whose time has come (all of them on the first round) and store the outcomes."""
        now = time.monotonic()
        due = [db_id for db_id in self.checked() if self._due.get(db_id, 0.0) <= now]
        if not due:
            return
        self._reached_database = True
        async with self.sessionmaker() as session:
            found = await session.exec(select(AxisConnection).where(col(AxisConnection.database_id).in_(due)))
            rows = {row.database_id: row for row in found.all()}
        due = [db_id for db_id in due if not (rows.get(db_id) and rows[db_id].maintenance)]
        databases = [self._database(db_id) for db_id in due]
        outcomes = await asyncio.gather(
            *(
                check_connector(
                    database.connector,
                    database.health.timeout_seconds,
                    system_context(self.settings, deadline_seconds=database.health.timeout_seconds),
                )
                for database in databases
            )
        )
        shared = await self._shared_evidence(due)
        round_at = utcnow()
        async with self.sessionmaker() as session:
            for db_id, outcome in zip(due, outcomes, strict=True):
                policy = self._database(db_id).health
                self._due[db_id] = now + policy.interval_seconds * (1 + _JITTER.uniform(-policy.jitter, policy.jitter))
                self._observe(db_id, outcome)
                row = rows.get(db_id)
                checked_at = _after_recorded(row, round_at)
                tracker = _tracker(row, checked_at)
                database = self._database(db_id)
                if outcome.ok and outcome.latency_seconds is not None:
                    database.evidence.record_check(outcome.latency_seconds)
                database.circuit.trial_by_check(failed=not outcome.ok and outcome.reason in FAILURE_REASONS)
                window, circuit = _combine(
                    database.evidence.summary(policy.window_seconds, max_latencies=policy.latency_window),
                    database.circuit.current(),
                    shared.get(db_id, []),
                )
                new = after_check(tracker, outcome, policy, window, checked_at, circuit=circuit)
                if new.state is not tracker.state:
                    log.info(
                        "connection state changed",
                        database=db_id,
                        previous=tracker.state.value,
                        state=new.state.value,
                        cause=new.cause,
                        error=new.error,
                    )
                if not await _store(session, row, db_id, new):
                    continue  # put under maintenance while the check ran: the operator's state stands
                # A gap in the checks longer than they allow (no process checked, or none could write) was time
                # in which the state was not known: the history says so, and the report does not count it as
                # the state before (connected, say).
                gap = _gap(row, checked_at, stale_after(policy, self.settings.axis_lease_seconds))
                if gap is not None:
                    await record_transition(session, db_id, gap, ConnectionState.UNKNOWN.value, STALE)
                if row is None or gap is not None or new.state is not tracker.state:
                    cause = f"{new.cause}: {new.error}" if new.cause and new.error else (new.cause or new.error)
                    await record_transition(session, db_id, checked_at, new.state.value, cause)
                await count_check(session, db_id, checked_at, outcome.ok)
                session.add(
                    AxisCheck(
                        database_id=db_id,
                        checked_at=checked_at,
                        ok=outcome.ok,
                        latency_ms=new.latency_ms,
                        state=new.state.value,
                        error=_clip(outcome.error if not outcome.ok else new.error),
                        cause=new.cause,
                    )
                )
            await session.commit()
            for db_id in due:
                await _prune(session, db_id, self.settings.axis_history)
            await session.commit()

    async def _maybe_store_static_states(self) -> None:
        now = time.monotonic()
        if now < self._static_due:
            return
        self._static_due = now + STATIC_STATES_EVERY_SECONDS
        await self.store_static_states()

    async def _maybe_prune_history(self) -> None:
        now = time.monotonic()
        if now < self._prune_due:
            return
        self._prune_due = now + PRUNE_HISTORY_EVERY_SECONDS
        async with self.sessionmaker() as session:
            transitions, counts = await prune_history(session, utcnow(), self.settings.axis_history_retention_days)
        if transitions or counts:
            log.info("pruned the axis history", transitions=transitions, check_counts=counts)

    async def store_static_states(self) -> None:
        """Write the states that need no check (pending: no connector; down: its connector failed to load;
        maintenance: disabled in the catalogue), so that readers without connectors (the CLI) see them."""
        fixed = {
            entry.id: known
            for entry in self.catalogue.databases
            if (known := static_state(entry, self.registry)) is not None
        }
        if not fixed:
            return
        now = utcnow()
        async with self.sessionmaker() as session:
            found = await session.exec(select(AxisConnection).where(col(AxisConnection.database_id).in_(fixed)))
            rows = {row.database_id: row for row in found.all()}
            for db_id, (known_state, error, cause) in fixed.items():
                row = rows.get(db_id)
                if row is not None and row.maintenance:
                    continue  # the operator's state stands (shown as maintenance in every view)
                value = known_state.value
                if row is None or row.state != value:
                    # Checks recorded until a while ago (the gateway stopped, then came back without this
                    # connector): the time since they were overdue was not known, not the last check's state.
                    gap = _gap(row, now, stale_bound(self.settings, db_id))
                    if gap is not None:
                        await record_transition(session, db_id, gap, ConnectionState.UNKNOWN.value, STALE)
                    await record_transition(session, db_id, now, value, error)
                if row is None:
                    session.add(AxisConnection(database_id=db_id, state=value, since=now, error=error, cause=cause))
                elif row.state != value or row.error != error or row.cause != cause:
                    if row.state != value:
                        row.since, row.last_check, row.latency_ms = now, None, None
                    row.state, row.error, row.failures, row.successes = value, error, 0, 0
                    row.cause = cause
                    row.updated_at = now
                    session.add(row)
            await session.commit()

    @staticmethod
    def _observe(db_id: str, outcome: CheckOutcome) -> None:
        if outcome.latency_seconds is not None:
            metrics.HEALTH_CHECK_DURATION.labels(db_id).observe(outcome.latency_seconds)
        if not outcome.ok:
            reason = outcome.reason if outcome.reason in metrics.HEALTH_CHECK_FAILURE_REASONS else "error"
            metrics.HEALTH_CHECK_FAILURES.labels(db_id, reason).inc()

    def _maybe_verify_audit(self) -> None:
        now = time.monotonic()
        if (
            self._stopping.is_set()
            or now < self._audit_due
            or (self._audit_task is not None and not self._audit_task.done())
        ):
            return
        self._audit_due = now + self.settings.audit_verify_interval_seconds
        self._audit_task = asyncio.create_task(self.verify_audit_chain(), name="audit-verify")

    async def verify_audit_chain(self) -> None:
        """Verify the whole audit chain (in a child process, with its own connection) and record the outcome."""
        from gateway.audit.verify import VerificationUnavailable, verify_in_child

        url = self.settings.database_url
        began = time.monotonic()
        try:
            ok, summary = await verify_in_child(url, settings=self.settings)
        except VerificationUnavailable as exc:
            # Nothing was verified: the chain is neither good nor broken, and the next round tries again.
            database_outage(url).failed("audit verification", exc, began=began)
            self._audit_due = time.monotonic() + min(60.0, self.settings.audit_verify_interval_seconds)
            return
        except Exception as exc:
            log.error("audit chain verification failed to run", error=str(exc))
            ok, summary = False, f"verification failed to run: {exc}"
        if not ok:
            log.error("the audit chain is broken", detail=summary)
        now = utcnow()
        try:
            async with self.sessionmaker() as session:
                status = await session.get(OpsStatus, AUDIT_CHAIN)
                if status is None:
                    status = OpsStatus(name=AUDIT_CHAIN, ok=ok, checked_at=now)
                status.ok, status.checked_at, status.detail = ok, now, _clip(summary, 1000)
                if ok:
                    status.good_at = now
                session.add(status)
                await session.commit()
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            database_outage(url).failed("audit verification", exc)
            self._audit_due = time.monotonic() + min(60.0, self.settings.audit_verify_interval_seconds)


def _answered_at(database_id: str, answered: float, now: datetime | None = None) -> Any:
    """Move the connection's last answered call forward to ``answered`` (seconds since the epoch), never back: each
    process writes its own, and the latest stays. A moment recorded more than :data:`CLOCK_SKEW_SECONDS` after
    ``now`` (this process's clock) is no evidence: written by a clock that was ahead, it would hide every real
    answer until that moment came, so it is replaced."""
    at = datetime.fromtimestamp(answered, UTC)
    future = (now or utcnow()) + timedelta(seconds=CLOCK_SKEW_SECONDS)
    last = col(AxisConnection.last_answered_at)
    return (
        update(AxisConnection)
        .where(col(AxisConnection.database_id) == database_id, or_(last.is_(None), last < at, last > future))
        .values(last_answered_at=min(at, future))
    )


def _combine(
    own: WindowSummary, circuit: CircuitState, others: list[AxisEvidence]
) -> tuple[WindowSummary, CircuitState]:
    """This process's window and circuit with the other processes' evidence: calls add up, the highest p95 and
    the most open circuit count."""
    calls, failures, violations, slowest = own.calls, own.failures, own.violations, own.p95_seconds
    worst = circuit
    operations = shared_operations(others, {op.operation: [op.calls, op.failures] for op in own.operations})
    for row in others:
        calls, failures, violations = calls + row.calls, failures + row.failures, violations + row.violations
        if row.p95_ms is not None and (slowest is None or row.p95_ms / 1000 > slowest):
            slowest = row.p95_ms / 1000
        if row.circuit in set(CircuitState) and CircuitState(row.circuit) > worst:
            worst = CircuitState(row.circuit)
    return WindowSummary(calls, failures, violations, slowest, operation_windows(operations)), worst


def _after_recorded(row: AxisConnection | None, now: datetime) -> datetime:
    """``now``, or just after the last moment recorded for ``row`` when that is later: a process whose clock is
    behind the one that checked before it (a replica taking the checks over) records its checks after those, never
    before, so the connection's history keeps the order in which things happened. A moment more than
    :data:`CLOCK_SKEW_SECONDS` ahead of ``now`` is not believed."""
    if row is None:
        return now
    recorded = max(moment for moment in (row.last_check, row.since, row.updated_at) if moment is not None)
    if recorded > now + timedelta(seconds=CLOCK_SKEW_SECONDS):
        # Recorded by a clock that was far ahead, not seconds: stamping after it would keep every check in the
        # future (and a stop of the checks unseen) until that moment came.
        return now
    return now if now > recorded else recorded + TICK


def _gap(row: AxisConnection | None, now: datetime, bound: float) -> datetime | None:
    """When the state became unknown, if the last check recorded for ``row`` is older than ``bound`` seconds."""
    return overdue_since(None if row is None else row.last_check, bound, now)


def _clip(text: str | None, size: int = 500) -> str | None:
    return None if text is None else text[:size]


def _tracker(row: AxisConnection | None, now: datetime) -> Tracker:
    if row is None:
        return Tracker(state=ConnectionState.PENDING, since=now)
    return Tracker(
        state=ConnectionState(row.state),
        # A moment still to come (recorded by a clock that was ahead, see _after_recorded) is not when it began.
        since=min(row.since, now),
        failures=row.failures,
        successes=row.successes,
        last_check=row.last_check,
        last_success=row.last_success,
        latency_ms=row.latency_ms,
        error=row.error,
        cause=row.cause,
    )


async def _store(session: AsyncSession, row: AxisConnection | None, db_id: str, tracker: Tracker) -> bool:
    """Write the state a check derived; ``False`` (nothing written) when the connection was put under maintenance
    while the check ran."""
    values: dict[str, Any] = {
        "state": tracker.state.value,
        "since": tracker.since,
        "failures": tracker.failures,
        "successes": tracker.successes,
        "last_check": tracker.last_check,
        "last_success": tracker.last_success,
        "latency_ms": tracker.latency_ms,
        "error": _clip(tracker.error),
        "cause": tracker.cause,
        "updated_at": utcnow(),
    }
    if row is None:
        session.add(AxisConnection(database_id=db_id, maintenance=False, **values))
        return True
    # Maintenance is the operator's: a check that started before it was set writes neither over the flag nor the
    # state (nor, by the caller, a transition into the maintenance period).
    result = await session.exec(
        update(AxisConnection)
        .where(col(AxisConnection.database_id) == db_id, col(AxisConnection.maintenance).is_(False))
        .values(**values)
    )
    return bool(result.rowcount)


async def _prune(session: AsyncSession, db_id: str, keep: int) -> None:
    newest = (
        select(AxisCheck.id)
        .where(col(AxisCheck.database_id) == db_id)
        .order_by(col(AxisCheck.id).desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    await session.exec(delete(AxisCheck).where(col(AxisCheck.database_id) == db_id, col(AxisCheck.id) < newest))
