"""Active health checks of the connected databases, run by one gateway process at a time.

Every process runs a :class:`HealthRunner`; only the one holding the ``axis-health`` lease (a row of the
``leases`` table, taken with a conditional update, renewed while held, taken over when it expires) checks the
sector systems and writes the connection states to the shared database, so checks do not multiply with processes
or hosts. The same holder periodically verifies the whole audit chain and records the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.base import Connector, HealthState
from connectors.errors import ConnectorError, UpstreamError

from .. import metrics
from ..db import create_engine, utcnow
from ..logs import get_logger
from ..models import AxisCheck, AxisConnection, Lease, OpsStatus
from ..registry import ConnectorRegistry, Database
from ..settings import Settings
from .catalogue import Catalogue
from .history import count_check, prune_history, record_transition
from .overview import AUDIT_CHAIN, static_state
from .states import CheckOutcome, ConnectionState, Tracker, after_check

LEASE = "axis-health"
STATIC_STATES_EVERY_SECONDS = 10.0
#: How often the lease holder prunes the axis history past its retention.
PRUNE_HISTORY_EVERY_SECONDS = 3600.0
#: How long closing waits for a round under way to finish its database writes.
CLOSE_GRACE_SECONDS = 2.0

log = get_logger(__name__)


def holder_id() -> str:
    """This process's name in leases: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


async def check_connector(connector: Connector, deadline: float) -> CheckOutcome:  # type: ignore[type-arg]  # noqa: PLR0911
    """Check one connector within ``deadline`` seconds; never raises."""
    started = time.perf_counter()
    custom_health = type(connector).health is not Connector.health
    try:
        async with asyncio.timeout(deadline):
            if custom_health:
                report = await connector.health()
            else:
                await connector.ping()
                report = None
    except TimeoutError:
        return CheckOutcome(
            False, time.perf_counter() - started, reason="timeout", error=f"no answer in {deadline:g} s"
        )
    except UpstreamError as exc:
        return CheckOutcome(False, time.perf_counter() - started, reason=exc.reason, error=exc.message)
    except ConnectorError as exc:
        return CheckOutcome(False, time.perf_counter() - started, reason="error", error=exc.message)
    except Exception as exc:  # a check must never take the runner down, whatever the connector does
        return CheckOutcome(False, time.perf_counter() - started, reason="error", error=f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started
    if report is None:
        return CheckOutcome(True, elapsed)
    latency = report.latency_seconds if report.latency_seconds is not None else elapsed
    if report.state is HealthState.DOWN:
        return CheckOutcome(False, latency, reason="down", error=report.message or "the connector reports down")
    return CheckOutcome(True, latency, degraded=report.state is HealthState.DEGRADED, error=report.message or None)


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
        self._task: asyncio.Task[None] | None = None
        self._due: dict[str, float] = {}
        self._latencies: dict[str, deque[float]] = {}
        self._audit_due = 0.0
        self._static_due = 0.0
        self._prune_due = 0.0
        self._audit_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        intervals = [self._database(db_id).health.interval_seconds for db_id in self.checked()] or [1.0]
        self.tick = max(0.05, min(1.0, min(intervals) / 2, settings.axis_lease_seconds / 4))

    def _database(self, db_id: str) -> Database:
        return self.registry.databases[db_id]

    def checked(self) -> list[str]:
        """The databases this runner checks: catalogued, enabled, with a loaded connector."""
        return [entry.id for entry in self.catalogue.databases if entry.enabled and entry.id in self.registry.databases]

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
            if task is None or task.done():
                continue
            await asyncio.wait({task}, timeout=CLOSE_GRACE_SECONDS)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
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
        while not self._stopping.is_set():
            try:
                if await self._hold_lease():
                    await self._maybe_store_static_states()
                    await self._maybe_prune_history()
                    await self.run_due_checks()
                    self._maybe_verify_audit()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("health-check round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.tick)

    async def _hold_lease(self) -> bool:
        now = time.monotonic()
        lease = self.settings.axis_lease_seconds
        if self.leader and self._lease_until - now > lease / 2:
            return True
        expires = utcnow() + timedelta(seconds=lease)
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

    async def run_due_checks(self) -> None:
        """Check the databases whose time has come (all of them on the first round) and store the outcomes."""
        now = time.monotonic()
        due = [db_id for db_id in self.checked() if self._due.get(db_id, 0.0) <= now]
        if not due:
            return
        async with self.sessionmaker() as session:
            found = await session.exec(select(AxisConnection).where(col(AxisConnection.database_id).in_(due)))
            rows = {row.database_id: row for row in found.all()}
        due = [db_id for db_id in due if not (rows.get(db_id) and rows[db_id].maintenance)]
        databases = [self._database(db_id) for db_id in due]
        outcomes = await asyncio.gather(
            *(check_connector(database.connector, database.health.timeout_seconds) for database in databases)
        )
        checked_at = utcnow()
        async with self.sessionmaker() as session:
            for db_id, outcome in zip(due, outcomes, strict=True):
                policy = self._database(db_id).health
                self._due[db_id] = now + policy.interval_seconds * (1 + random.uniform(-policy.jitter, policy.jitter))  # noqa: S311
                self._observe(db_id, outcome)
                row = rows.get(db_id)
                tracker = _tracker(row, checked_at)
                recent = self._latencies.setdefault(db_id, deque(maxlen=policy.latency_window))
                if outcome.ok and outcome.latency_seconds is not None:
                    recent.append(outcome.latency_seconds)
                new = after_check(tracker, outcome, policy, list(recent), checked_at)
                if new.state is not tracker.state:
                    log.info(
                        "connection state changed",
                        database=db_id,
                        previous=tracker.state.value,
                        state=new.state.value,
                        error=new.error,
                    )
                await _store(session, row, db_id, new)
                if row is None or new.state is not tracker.state:
                    await record_transition(session, db_id, checked_at, new.state.value, new.error)
                await count_check(session, db_id, checked_at, outcome.ok)
                session.add(
                    AxisCheck(
                        database_id=db_id,
                        checked_at=checked_at,
                        ok=outcome.ok,
                        latency_ms=new.latency_ms,
                        state=new.state.value,
                        error=_clip(outcome.error if not outcome.ok else new.error),
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
            for db_id, (known_state, error) in fixed.items():
                row = rows.get(db_id)
                value = known_state.value
                if row is None or row.state != value:
                    await record_transition(session, db_id, now, value, error)
                if row is None:
                    session.add(AxisConnection(database_id=db_id, state=value, since=now, error=error))
                elif row.state != value or row.error != error:
                    if row.state != value:
                        row.since, row.last_check, row.latency_ms = now, None, None
                    row.state, row.error, row.failures, row.successes = value, error, 0, 0
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
        """Verify the whole audit chain (in a thread, with its own connection) and record the outcome."""
        from ..audit.verify import verify_trail

        url = self.settings.database_url

        async def verify() -> tuple[bool, str]:
            engine = create_engine(url)
            try:
                report = await verify_trail(engine)
            finally:
                await engine.dispose()
            return report.ok, report.summary()

        try:
            ok, summary = await asyncio.to_thread(asyncio.run, verify())
        except Exception as exc:
            log.exception("audit chain verification failed to run")
            ok, summary = False, f"verification failed to run: {type(exc).__name__}"
        if not ok:
            log.error("the audit chain is broken", detail=summary)
        now = utcnow()
        async with self.sessionmaker() as session:
            status = await session.get(OpsStatus, AUDIT_CHAIN)
            if status is None:
                status = OpsStatus(name=AUDIT_CHAIN, ok=ok, checked_at=now)
            status.ok, status.checked_at, status.detail = ok, now, _clip(summary, 1000)
            if ok:
                status.good_at = now
            session.add(status)
            await session.commit()


def _clip(text: str | None, size: int = 500) -> str | None:
    return None if text is None else text[:size]


def _tracker(row: AxisConnection | None, now: datetime) -> Tracker:
    if row is None:
        return Tracker(state=ConnectionState.PENDING, since=now)
    return Tracker(
        state=ConnectionState(row.state),
        since=row.since,
        failures=row.failures,
        successes=row.successes,
        last_check=row.last_check,
        last_success=row.last_success,
        latency_ms=row.latency_ms,
        error=row.error,
    )


async def _store(session: AsyncSession, row: AxisConnection | None, db_id: str, tracker: Tracker) -> None:
    values: dict[str, Any] = {
        "state": tracker.state.value,
        "since": tracker.since,
        "failures": tracker.failures,
        "successes": tracker.successes,
        "last_check": tracker.last_check,
        "last_success": tracker.last_success,
        "latency_ms": tracker.latency_ms,
        "error": _clip(tracker.error),
        "updated_at": utcnow(),
    }
    if row is None:
        session.add(AxisConnection(database_id=db_id, maintenance=False, **values))
    else:
        # Maintenance is the operator's: never overwrite it from a check that started before it was set.
        await session.exec(update(AxisConnection).where(col(AxisConnection.database_id) == db_id).values(**values))


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
