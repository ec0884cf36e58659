"""Delivering accepted operations to the sector systems: in order per record, with retries and backoff, and a
dead-letter state when retrying cannot help.

Every process runs a :class:`Dispatcher`. A round claims due operations with a conditional update (on PostgreSQL
several processes or hosts dispatch at once: a row claimed by one is skipped by the others), delivers them in
batches, then records every outcome, and appends what was applied to the change feed, in one transaction (an
operation whose outcome the gateway's database cannot store is dead-lettered alone, with the reason). A
process runs :data:`ROUNDS_AT_ONCE` rounds at once, which claim as separate dispatchers would: while one waits for
a sector system, another claims or records in the gateway's database. On SQLite only the process holding the
``exchange-dispatch`` lease dispatches.

An operation is claimed only when no earlier operation of the same record is unfinished, so the operations of a
record reach the sector system one at a time, in the order they were accepted. (A record with a long queue of its
own does not hold back the records queued behind it: the claim reads past the operations waiting for their
record's first, :meth:`Dispatcher.claim`.) A claim lapses after ``exchange_claim_seconds``: the operations of a
process that died are delivered again, with the same idempotency key, and the connector recognises them
(at-least-once delivery, exactly-once in effect).

Each call to a connector delivers operations of one submission, in that submission's request context (its request
id, client and agency, purpose, actor, and a span in its trace; :mod:`gateway.records.context`), with the claim's
end as deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Table, Text, and_, bindparam, cast, insert, or_, update
from sqlalchemy import exc as sa_exc
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.base import Capability, OperationKind, SubmitOperation, SubmitStatus, describe_violation
from connectors.context import RequestContext
from connectors.errors import (
    ConnectorError,
    ContractViolation,
    OperationNotSupported,
    RecordNotFound,
    SubmissionRejected,
)
from gateway.core import metrics
from gateway.core.db import in_utc, lock_rows, utcnow
from gateway.core.leases import LeaseHolder, stop_task
from gateway.core.logs import get_logger
from gateway.core.outages import LoopErrors, database_outage, database_unavailable, error_name
from gateway.core.problems import Problem
from gateway.core.settings import Settings
from gateway.exchange._states import DEAD, DELIVERED, DELIVERING, PENDING, UNFINISHED
from gateway.exchange.models import ExchangeChange, ExchangeFeed, ExchangeOperation, ExchangeReceipt
from gateway.exchange.operations import OperationChecker
from gateway.identity.access import AccessControl, decide
from gateway.records.context import CONTEXT_KEY, connector_call, delivery_context
from gateway.records.registry import ConnectorRegistry, Database

LEASE = "exchange-dispatch"
#: How many rounds' worth of the oldest unfinished operations a claim looks at.
SCAN_FACTOR = 5
#: How many windows after the first a claim reads when the first gives less than a round's worth.
SCAN_PAGES = 4
#: The most records whose later operations the query of a next window leaves out (a bound on its parameters): those
#: with the most operations in the windows read.
SKIPPED_RECORDS = 500
#: Rounds a process runs at once: while one delivers to the sector systems, others claim or record in the
#: gateway's database. They claim as separate dispatchers do (an operation claimed by one is not due for the
#: others, nor are the later operations of its record). Three delivered about 6 % more than two on the reference
#: machine over PostgreSQL (bench/RESULTS.md, sixteenth run), four no more.
ROUNDS_AT_ONCE = 3
CLOSE_GRACE_SECONDS = 5.0
_ERROR_TEXT = 500
#: Refusals that will not change on retry: dead-lettered at once.
PERMANENT = (SubmissionRejected, OperationNotSupported, ContractViolation)

#: How many positions of a change feed each millisecond is worth (:func:`feed_floor`): sixteen digits, within the
#: integers a JavaScript number holds exactly (2**53) until the year 2255, for the readers that parse cursors.
FEED_POSITIONS_PER_MILLISECOND = 1_000
#: The operations a change applied later may supersede (a create is refused by the sector system if it exists).
_UPDATE = OperationKind.UPDATE.value
_ORDERED_KINDS = frozenset({_UPDATE, OperationKind.DELETE.value})
#: Why an operation, or some of its fields, were not sent (never a value, nor whose change it was).
_LATER = "by a change of the record made later (a later changed_at) and applied already"
_CHANGES: Table = ExchangeChange.__table__  # type: ignore[attr-defined]

log = get_logger(__name__)

#: The retries' jitter, from a generator of its own: the global ``random`` state is the application's.
_JITTER = random.Random()  # noqa: S311 - jitter, not a secret


@dataclass(slots=True)
class Claimed:
    """An operation claimed by a dispatcher: the columns of its :class:`ExchangeOperation` row that delivering and
    recording it need (read straight from the claim's ``RETURNING``, without ORM objects)."""

    id: int
    receipt_id: str
    position: int
    database_id: str
    record_id: str
    kind: str
    fields: dict[str, Any]
    meta: dict[str, Any]
    attempts: int
    generation: int
    claimed_until: datetime


def _json(text: str | None) -> Any:
    """A stored JSON column read as text (orjson; the standard library for what orjson refuses, such as NaN)."""
    if text is None:
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def idempotency_key(operation: Claimed) -> str:
    """The key the sector system sees for one delivery of ``operation``: the same on every retry, new after a
    replay (``generation``)."""
    base = f"{operation.receipt_id}:{operation.position}"
    return base if operation.generation == 0 else f"{base}:r{operation.generation}"


@dataclass(slots=True)
class Delivery:
    """The outcome of delivering one claimed operation."""

    operation: Claimed
    outcome: str  # delivered | duplicate | retry | dead
    error: str | None = None
    """Why it failed; for an operation applied in part, the fields not sent (never a value)."""
    reference: str | None = None


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """The wait before the next delivery after ``attempts`` failed ones: doubling from ``base`` up to ``cap``,
    spread by +-20% so that retries of many operations do not come back together."""
    delay: float = min(cap, base * 2 ** max(0, attempts - 1))
    spread: float = _JITTER.uniform(0.8, 1.2)
    return delay * spread


class Dispatcher:
    """Claims due operations, delivers them to their connectors and records the outcomes."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ConnectorRegistry,
        access: AccessControl | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.registry = registry
        #: The clients' access as it is now: an operation is delivered only while its client may still submit it.
        self.access = access
        self._checkers: dict[str, OperationChecker] = {}
        self.lease = LeaseHolder(sessionmaker, LEASE, settings.axis_lease_seconds)
        self.shared = sessionmaker.kw["bind"].url.get_backend_name() != "sqlite"
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(settings.exchange_concurrency)

    @property
    def databases(self) -> list[str]:
        """The served databases that accept submissions."""
        return sorted(db_id for db_id, db in self.registry.databases.items() if db.connector.offers(Capability.SUBMIT))

    async def start(self) -> None:
        """Create the feed rows of the databases served, and start the background loop."""
        for db_id in self.databases:
            metrics.declare_exchange(db_id)
        await self._ensure_feeds()
        self._task = asyncio.create_task(self._run(), name="exchange-dispatch")

    def wake(self) -> None:
        """Look for work now (called after an intake)."""
        self._wakeup.set()

    async def close(self) -> None:
        """Stop after the round under way (deliveries still waiting after the grace period are cancelled: their
        claims lapse and another process delivers them again)."""
        self._stopping.set()
        self._wakeup.set()
        await stop_task(self._task, CLOSE_GRACE_SECONDS)
        with contextlib.suppress(Exception):
            await self.lease.release()

    async def _ensure_feeds(self) -> None:
        """Create the feed rows of the databases served, and move each feed on to this moment's first position
        (:func:`feed_floor`) when it is behind it."""
        floor = feed_floor(time.time())
        for db_id in self.databases:
            try:
                async with self.sessionmaker() as session:
                    if await session.get(ExchangeFeed, db_id) is None:
                        session.add(ExchangeFeed(database_id=db_id, position=floor))
                        await session.commit()
            except sa_exc.IntegrityError:
                pass  # another process created it
            async with self.sessionmaker() as session:
                await session.exec(
                    update(ExchangeFeed)
                    .where(col(ExchangeFeed.database_id) == db_id, col(ExchangeFeed.position) < floor)
                    .values(position=floor)
                )
                await session.commit()

    async def _run(self) -> None:
        errors = LoopErrors("exchange dispatch", database_outage(self.settings.database_url))
        await asyncio.gather(*(self._rounds(errors) for _ in range(ROUNDS_AT_ONCE)))

    async def _rounds(self, errors: LoopErrors) -> None:
        """Run rounds until stopped; several of these run at once (:data:`ROUNDS_AT_ONCE`)."""
        while not self._stopping.is_set():
            busy = False
            try:
                if self.databases:
                    if self.shared or await self.lease.hold():
                        busy = await self.run_once() > 0
                    errors.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors.failed(exc)
            if busy:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.settings.exchange_poll_seconds)

    async def run_once(self) -> int:
        """One round: claim, deliver, record. Returns how many operations were claimed."""
        claimed = await self.claim()
        if not claimed:
            return 0
        # A batch holds operations of one submission: each call to a connector carries that submission's context.
        by_submission: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
        for op in claimed:
            by_submission[(op.database_id, op.receipt_id)].append(op)
        chunk = max(1, self.settings.exchange_delivery_batch)
        batches = [ops[i : i + chunk] for ops in by_submission.values() for i in range(0, len(ops), chunk)]
        delivered = await asyncio.gather(*(self._deliver(batch) for batch in batches))
        await self.record([delivery for batch in delivered for delivery in batch])
        return len(claimed)

    async def claim(self) -> list[Claimed]:
        """Claim the due operations that no earlier unfinished operation of their record holds back.

        The oldest unfinished operations are read in order (a window of ``SCAN_FACTOR`` rounds); the first one
        seen of each record is the one its record waits for, and is taken if it is due. When the window gives
        fewer than a round's worth, the operations after it are read too (up to ``SCAN_PAGES`` more windows),
        without the later operations of the records that crowded the windows before (they wait for their first):
        a client that queues many operations of one record, or of records whose first is held or waiting to be
        retried, does not hold back every other record behind them. The claim itself is a conditional update that
        checks the state again: of two dispatchers choosing the same operation, the second finds it claimed and
        leaves it, and a record whose first operation is held by another dispatcher is skipped, so a record's
        operations never travel side by side.
        """
        now = utcnow()
        batch = self.settings.exchange_dispatch_batch
        table: Table = ExchangeOperation.__table__  # type: ignore[attr-defined]
        c = table.c
        # One session for the window and the claim: one checkout of the pool (a ping on PostgreSQL), not two.
        async with self.sessionmaker() as session:
            connection = await session.connection()
            size = batch * SCAN_FACTOR
            unfinished = sa_select(c.id, c.database_id, c.record_id, c.state, c.next_attempt_at, c.claimed_until).where(
                c.state.in_(UNFINISHED)
            )
            seen: Counter[tuple[str, str]] = Counter()
            chosen: list[int] = []
            query = unfinished
            for _ in range(1 + SCAN_PAGES):
                window = (await connection.execute(query.order_by(c.id).limit(size))).all()
                self._choose(window, now, batch, seen, chosen)
                if len(chosen) >= batch or len(window) < size:
                    break
                # The next window: after this one, without the later operations of the records that crowded the
                # windows read (they wait for their first); those of the others are skipped as they come.
                crowded: dict[str, list[str]] = defaultdict(list)
                for (db_id, record_id), count in seen.most_common(SKIPPED_RECORDS):
                    if count > 1:
                        crowded[db_id].append(record_id)
                query = unfinished.where(
                    c.id > window[-1][0],
                    *(or_(c.database_id != db_id, c.record_id.not_in(ids)) for db_id, ids in crowded.items()),
                )
            if not chosen:
                return []
            still_due = or_(
                and_(c.state == PENDING, c.next_attempt_at <= now),
                and_(c.state == DELIVERING, c.claimed_until < now),
            )
            until = now + timedelta(seconds=self.settings.exchange_claim_seconds)
            statement = (
                update(table)
                .where(c.id.in_(chosen), still_due)
                .values(state=DELIVERING, claimed_until=until, attempts=c.attempts + 1)
                .returning(
                    c.id,
                    c.receipt_id,
                    c.position,
                    c.database_id,
                    c.record_id,
                    c.kind,
                    # The JSON as text, decoded here by orjson (the driver's json module costs more than the rest).
                    cast(c.fields, Text),
                    cast(c["metadata"], Text),
                    c.attempts,
                    c.generation,
                )
            )
            result = (await connection.execute(statement)).all()
            await session.commit()
        rows = [
            Claimed(op_id, receipt_id, position, db_id, record_id, kind, _json(fields), _json(meta), tries, gen, until)
            for op_id, receipt_id, position, db_id, record_id, kind, fields, meta, tries, gen in result
        ]
        rows.sort(key=lambda op: op.id)
        return rows

    def _choose(
        self, window: Sequence[Any], now: datetime, batch: int, seen: Counter[tuple[str, str]], chosen: list[int]
    ) -> None:
        """Add to ``chosen`` the ids to claim, up to ``batch``: of each record in the window not in ``seen`` (the
        records of the windows read before, with how many of their operations were read), its first operation,
        when it is due. Counts the window's operations in ``seen``."""
        served = set(self.databases)
        for op_id, database_id, record_id, state, next_attempt_at, claimed_until in window:
            if len(chosen) >= batch:
                return
            record = (database_id, record_id)
            seen[record] += 1
            if seen[record] > 1:
                continue
            due = next_attempt_at <= now if state == PENDING else claimed_until is None or claimed_until < now
            if due and database_id in served:
                chosen.append(op_id)

    async def _stored_context(self, operation: Claimed) -> dict[str, Any]:
        """The submission's context, as stored with ``operation`` (operations stored before that was done: the
        client, purpose and actor of their receipt)."""
        stored = operation.meta.get(CONTEXT_KEY)
        if not isinstance(stored, dict):
            async with self.sessionmaker() as session:
                receipt = await session.get(ExchangeReceipt, operation.receipt_id)
            stored = {} if receipt is None else {"client_id": receipt.client_id, "purpose": receipt.purpose}
            if receipt is not None:
                stored["actor"] = receipt.actor
        return stored

    async def _refused_now(self, database: Database, operations: list[Claimed], stored: dict[str, Any]) -> list[str]:
        """Why each operation may no longer be delivered (empty: all may): its client suspended or gone since it
        submitted them, or its grants no longer allowing them (revoked, narrowed, expired). A 202 accepted an
        operation under the grants then in force; what reaches the sector system is what its client may write now,
        so that suspending a client stops the writes it left queued."""
        client_id = stored.get("client_id")
        if self.access is None or not isinstance(client_id, str):
            return []
        access = await self.access.get(client_id)
        if access is None or not access.active:
            return ["not delivered: the client that submitted it is suspended or gone"] * len(operations)
        purpose, actor = stored.get("purpose"), stored.get("actor")
        try:
            decision = decide(
                access,
                database=database.id,
                operation="submit",
                purpose=purpose if isinstance(purpose, str) else None,
                actor=actor if isinstance(actor, str) else None,
                now=utcnow(),
            )
        except Problem:
            return ["not delivered: the client's grants no longer allow submitting to this database"] * len(operations)
        checker = self._checkers.get(database.id)
        if checker is None:
            checker = self._checkers[database.id] = OperationChecker(database.connector.contract)
        refused = []
        for op in operations:
            try:
                checker.still_allowed(op.kind, op.fields, decision)
            except Problem as problem:
                refused.append(f"not delivered: {problem.detail or problem.title}"[:_ERROR_TEXT])
            else:
                refused.append("")
        return refused if any(refused) else []

    async def _context(self, operation: Claimed, stored: dict[str, Any] | None = None) -> RequestContext:
        """The context of delivering ``operation``: its submission's (:meth:`_stored_context`), until its claim
        lapses."""
        if stored is None:
            stored = await self._stored_context(operation)
        claimed_until = operation.claimed_until
        left = self.settings.exchange_claim_seconds
        if claimed_until is not None:
            left = max(0.0, (claimed_until - utcnow()).total_seconds())
        return delivery_context(stored, deadline_seconds=left)

    async def _deliver(self, operations: list[Claimed]) -> list[Delivery]:
        """Deliver operations of one submission to one database, each on a different record, in one call of the
        connector, in the submission's context."""
        database = self.registry.databases.get(operations[0].database_id)
        if database is None:
            return [Delivery(op, "retry", "the database is not served by this process") for op in operations]
        requests = [
            SubmitOperation(
                OperationKind(op.kind),
                op.record_id,
                idempotency_key=idempotency_key(op),
                fields=op.fields,
                metadata={key: value for key, value in op.meta.items() if key != CONTEXT_KEY},
            )
            for op in operations
        ]
        stored = await self._stored_context(operations[0])
        context = await self._context(operations[0], stored)
        now_refused = await self._refused_now(database, operations, stored)
        refused: dict[int, tuple[str, str]] = {index: ("dead", why) for index, why in enumerate(now_refused) if why}
        notes: dict[int, str] = {}
        operations = list(operations)
        for index, outcome in (await self._superseded(database.id, operations, refused)).items():
            if isinstance(outcome, tuple):
                refused[index] = outcome
                continue
            # Only the fields no later change has written are sent (and recorded in the feed).
            op = operations[index]
            kept = {name: value for name, value in op.fields.items() if name not in outcome}
            operations[index] = dataclasses.replace(op, fields=kept)
            requests[index] = dataclasses.replace(requests[index], fields=kept)
            notes[index] = f"applied in part: {', '.join(sorted(outcome))} not sent, {_LATER}"[:_ERROR_TEXT]
        delivered = await self._deliver_not_refused(database, operations, requests, context, refused)
        for index, note in notes.items():
            if delivered[index].outcome in ("delivered", "duplicate"):
                delivered[index].error = note
        return delivered

    async def _deliver_not_refused(
        self,
        database: Database,
        operations: list[Claimed],
        requests: list[SubmitOperation],
        context: RequestContext,
        refused: dict[int, tuple[str, str]],
    ) -> list[Delivery]:
        """:meth:`_deliver` once the operations refused before any call are known (``refused``, by index)."""
        checked = [op for index, op in enumerate(operations) if index not in refused]
        if checked:
            breaking = await self._breaking_updates(database, checked, context)
            positions = [index for index in range(len(operations)) if index not in refused]
            refused |= {positions[index]: outcome for index, outcome in breaking.items()}
        if refused:
            kept = [index for index in range(len(operations)) if index not in refused]
            done = {index: Delivery(operations[index], *refused[index]) for index in refused}
            if kept:
                rest = await self._deliver_checked(
                    database, [operations[i] for i in kept], [requests[i] for i in kept], context
                )
                done.update(zip(kept, rest, strict=True))
            return [done[index] for index in range(len(operations))]
        return await self._deliver_checked(database, operations, requests, context)

    async def _superseded(
        self, db_id: str, operations: list[Claimed], refused: dict[int, tuple[str, str]]
    ) -> dict[int, tuple[str, str] | frozenset[str]]:
        """The updates and deletes that a change applied already, with a later ``changed_at``, supersedes, by
        index: ``("dead", why)`` when the whole operation is (a delete, an update of a record deleted or created
        again later, or of no field no later update wrote), else the fields a later update wrote, not to be sent.

        Operations reach the sector system in the order they were accepted, which is not always the order their
        changes were made: a system syncing what it recorded offline, or a dead letter delivered again after a
        later change, would otherwise overwrite a newer value with an older one. The change feed says what was
        applied, when it was changed; an operation or a change without ``changed_at`` is not ordered by it."""
        timed: dict[int, tuple[Claimed, datetime]] = {}
        for index, op in enumerate(operations):
            if index in refused or op.kind not in _ORDERED_KINDS:
                continue
            changed_at = _changed_at(op)
            if changed_at is not None:
                timed[index] = (op, changed_at)
        if not timed:
            return {}
        c = _CHANGES.c
        query = sa_select(c.record_id, c.kind, c.changed_fields, c.changed_at).where(
            c.database_id == db_id,
            c.record_id.in_(sorted({op.record_id for op, _ in timed.values()})),
            c.changed_at > min(changed_at for _, changed_at in timed.values()),
        )
        async with self.sessionmaker() as session:
            later_changes = (await (await session.connection()).execute(query)).all()
        by_record: dict[str, list[Any]] = defaultdict(list)
        for change in later_changes:
            by_record[change.record_id].append(change)
        superseded: dict[int, tuple[str, str] | frozenset[str]] = {}
        for index, (op, changed_at) in timed.items():
            later = [change for change in by_record.get(op.record_id, ()) if change.changed_at > changed_at]
            if not later:
                continue
            written = {name for change in later if change.kind == _UPDATE for name in change.changed_fields}
            whole = op.kind != _UPDATE or any(change.kind != _UPDATE for change in later)
            stale = frozenset(op.fields) & written
            if whole or stale == frozenset(op.fields):
                superseded[index] = ("dead", f"not delivered: superseded, {_LATER}")
            elif stale:
                superseded[index] = stale
        return superseded

    async def _breaking_updates(
        self, database: Database, operations: list[Claimed], context: RequestContext
    ) -> dict[int, tuple[str, str]]:
        """The updates that would leave their record breaking the contract, by index: ``("dead", why)`` (the rules
        broken, never the values), or ``("retry", why)`` when the record could not be read now.

        An update's fields are each valid on their own, checked at intake; the rules across fields (a personal id's
        gender and birth year against the record's, a date of death not before the birth) need the whole record,
        which only the sector system holds: each updated record is read, the update applied to it, and the result
        validated against the contract before anything is sent. A record not found is left to the delivery (which
        says so), and so is one that breaks the contract already (the update may mend it)."""
        updates = [index for index, op in enumerate(operations) if op.kind == OperationKind.UPDATE.value]
        if not updates or not database.connector.offers(Capability.READ):
            return {}
        contract = database.connector.contract

        async def check(op: Claimed) -> tuple[str, str] | None:
            try:
                with connector_call(context):
                    current = await database.connector.get(op.record_id)
            except (RecordNotFound, ContractViolation):
                return None  # nothing to check against: the delivery says so, or the update may mend the record
            except ConnectorError as exc:
                return "retry", f"the record to update could not be read first: {exc.message}"[:_ERROR_TEXT]
            except Exception as exc:  # a connector bug must not stop the dispatcher
                log.warning("connector failed reading a record to update", database=database.id, error=error_name(exc))
                return "retry", f"the record to update could not be read first ({error_name(exc)})"
            merged = {**current.model_dump(mode="json"), **op.fields}
            try:
                contract.model_validate(merged)
            except ValidationError as exc:
                # The rules' paths and types, never their messages: those quote the values of the record, which
                # the writer may not be granted to read (a date of death before the date of birth would tell it).
                rules = sorted({describe_violation(error) for error in exc.errors(include_input=False)})
                return "dead", f"the update would make the record break the contract: {'; '.join(rules)}"[:_ERROR_TEXT]
            return None

        async with self._limit:
            outcomes = await asyncio.gather(*(check(operations[index]) for index in updates))
        return {index: outcome for index, outcome in zip(updates, outcomes, strict=True) if outcome is not None}

    async def _deliver_checked(
        self, database: Database, operations: list[Claimed], requests: list[SubmitOperation], context: RequestContext
    ) -> list[Delivery]:
        """:meth:`_deliver`'s call of the connector, for operations checked already."""
        started = time.perf_counter()
        async with self._limit:
            try:
                with connector_call(context):
                    results = await database.connector.submit_many(requests)
            except ConnectorError as exc:
                outcome = "dead" if isinstance(exc, PERMANENT) else "retry"
                return [Delivery(op, outcome, exc.message) for op in operations]
            except Exception as exc:  # a connector bug must not stop the dispatcher
                log.exception("connector failed on submit", database=database.id)
                # The error's class only: its text may quote values (the record's, a conflicting one's), and the
                # receipt shows ``last_error`` to the writer, who may not be granted to read them.
                why = f"the connector failed ({error_name(exc)})"
                return [Delivery(op, "retry", why) for op in operations]
            finally:
                histogram = metrics.exchange_delivery(database.id)
                elapsed = time.perf_counter() - started
                for _ in operations:
                    histogram.observe(elapsed)
        deliveries = []
        for op, result in zip(operations, results, strict=True):
            if isinstance(result, ConnectorError):
                deliveries.append(Delivery(op, "dead" if isinstance(result, PERMANENT) else "retry", result.message))
            else:
                outcome = "duplicate" if result.status == SubmitStatus.DUPLICATE else "delivered"
                deliveries.append(Delivery(op, outcome, reference=result.reference))
        return deliveries

    async def record(self, deliveries: list[Delivery]) -> None:
        """Store every outcome, and append the applied operations to their databases' feeds, in one transaction.
        An operation whose claim lapsed and was taken over meanwhile is left to its new holder.

        When that transaction fails on a value (:func:`unrecordable`: one the gateway's database or its column
        types refuse, which would fail again on every retry), the operations are recorded one by one, each in a
        transaction of its own, and one that still cannot be recorded is dead-lettered with the reason
        (:meth:`_give_up`): it neither rolls back the others' outcomes nor comes back round after round. Any other
        failure (the database out of reach, a deadlock) propagates: the round's claims lapse and its operations
        are delivered again under the same keys."""
        if not deliveries:
            return
        try:
            await self._record(deliveries)
            return
        except Exception as exc:
            if not unrecordable(exc):
                raise
            if len(deliveries) == 1:
                await self._give_up(deliveries[0], exc)
                return
            log.warning(
                "exchange round not recorded: recording its operations one by one",
                operations=len(deliveries),
                error=error_name(exc),
            )
        for delivery in deliveries:
            await self.record([delivery])

    async def _give_up(self, delivery: Delivery, exc: BaseException) -> None:
        """Dead-letter an operation whose outcome cannot be recorded, with the reason (the error's class only: its
        text may hold the values), if it is still this round's."""
        op = delivery.operation
        if delivery.outcome in ("delivered", "duplicate"):
            reason = (
                f"applied by the sector system, but not recorded in the change feed: a value of the operation "
                f"cannot be stored in the gateway's database ({error_name(exc)})"
            )
        else:
            reason = f"its delivery could not be recorded: a value cannot be stored ({error_name(exc)})"
        table: Table = ExchangeOperation.__table__  # type: ignore[attr-defined]
        c = table.c
        statement = (
            update(table)
            .where(c.id == op.id, c.state == DELIVERING, c.claimed_until == op.claimed_until)
            .values(state=DEAD, claimed_until=None, last_error=reason)
        )
        async with self.sessionmaker() as session:
            result = await session.exec(statement)
            await session.commit()
        if result.rowcount:
            metrics.exchange_outcomes(op.database_id)["dead_lettered"].inc()
            log.warning(
                "operation dead-lettered: its outcome cannot be recorded",
                database=op.database_id,
                operation_id=op.id,
                outcome=delivery.outcome,
                error=error_name(exc),
            )

    async def _record(self, deliveries: list[Delivery]) -> None:
        """:meth:`record`'s transaction."""
        now = utcnow()
        settings = self.settings
        table: Table = ExchangeOperation.__table__  # type: ignore[attr-defined]
        applied: dict[str, list[Claimed]] = defaultdict(list)
        counts: dict[tuple[str, str], int] = defaultdict(int)
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        async with self.sessionmaker() as session:
            # The operations still ours: claimed by this round (same claim deadline), locked until commit, so that
            # no round whose claim lapsed records what another round took over (and appends its changes twice).
            c = table.c
            mine = and_(
                c.id.in_([d.operation.id for d in deliveries]),
                c.state == DELIVERING,
                c.claimed_until == deliveries[0].operation.claimed_until,
            )
            owned = set(await lock_rows(await session.connection(), table, mine))
            for delivery in deliveries:
                op = delivery.operation
                if op.id not in owned:
                    continue
                if delivery.outcome in ("delivered", "duplicate"):
                    rows["delivered"].append(
                        {
                            "b_id": op.id,
                            "b_outcome": delivery.outcome,
                            "b_reference": delivery.reference,
                            "b_error": delivery.error,
                        }
                    )
                    applied[op.database_id].append(op)
                    counted = delivery.outcome
                elif delivery.outcome == "dead" or op.attempts >= settings.exchange_max_attempts:
                    rows["dead"].append({"b_id": op.id, "b_error": delivery.error})
                    counted = "dead_lettered"
                else:
                    wait = backoff_seconds(
                        op.attempts, settings.exchange_backoff_seconds, settings.exchange_backoff_max_seconds
                    )
                    rows["retry"].append(
                        {"b_id": op.id, "b_error": delivery.error, "b_next": now + timedelta(seconds=wait)}
                    )
                    counted = "retried"
                counts[(op.database_id, counted)] += 1
            by_id = table.c.id == bindparam("b_id")
            statements = {
                "delivered": update(table)
                .where(by_id)
                .values(
                    state=DELIVERED,
                    delivered_at=now,
                    outcome=bindparam("b_outcome"),
                    reference=bindparam("b_reference"),
                    claimed_until=None,
                    last_error=bindparam("b_error"),
                ),
                "dead": update(table)
                .where(by_id)
                .values(state=DEAD, claimed_until=None, last_error=bindparam("b_error")),
                "retry": update(table)
                .where(by_id)
                .values(
                    state=PENDING,
                    claimed_until=None,
                    last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"),
                ),
            }
            for kind, params in rows.items():
                await session.exec(statements[kind], params=params)
            for db_id in sorted(applied):  # always the same lock order
                await _append_changes(session, db_id, applied[db_id], now)
            await session.commit()
        for (db_id, outcome), count in counts.items():
            metrics.exchange_outcomes(db_id)[outcome].inc(count)
            if outcome == "dead_lettered":
                log.warning("operations dead-lettered", database=db_id, count=count)


def feed_floor(now: float) -> int:
    """The position a change feed moves on to when a dispatcher starts at ``now`` (seconds since the epoch), if it
    is behind: :data:`FEED_POSITIONS_PER_MILLISECOND` for each millisecond since the epoch.

    Positions are given without gaps while the gateway runs, and jump at each start. So a feed restored from a
    backup (every gateway process is stopped for that, then started) goes on from beyond every position it gave
    before the restore: a reader's cursor given then reads the changes made since, rather than skipping as many
    as the backup lacked. It holds while fewer than that many changes a millisecond were applied on average since
    the last start, and while the clocks of the processes agree within the time between two starts."""
    return int(now * 1000) * FEED_POSITIONS_PER_MILLISECOND


def _changed_at(operation: Claimed) -> datetime | None:
    """When the operation's change was made, as its sender stated (``metadata.changed_at``), if it did."""
    stated = operation.meta.get("changed_at")
    if not isinstance(stated, str):
        return None
    try:
        return in_utc(datetime.fromisoformat(stated))
    except ValueError:  # not a time the gateway's database could hold (stored by an earlier version): not ordered
        return None


def unrecordable(exc: BaseException) -> bool:
    """Whether recording failed on a value, so that recording the same operation again would fail again: a value
    the database refuses (``DataError``), or one its column type cannot convert (a date-time whose time in UTC is
    outside the years 1 to 9999, raised in this process). Not the database out of reach, a lock, a bug."""
    if database_unavailable(exc):
        return False
    if isinstance(exc, sa_exc.DBAPIError):
        return isinstance(exc, sa_exc.DataError)
    cause = exc.orig if isinstance(exc, sa_exc.StatementError) else exc
    return isinstance(cause, ValueError | TypeError | OverflowError)


async def _append_changes(session: AsyncSession, db_id: str, operations: list[Claimed], now: datetime) -> None:
    """Take the next positions of the database's feed (its row stays locked until commit, so positions follow
    commit order) and append one change per applied operation."""
    operations.sort(key=lambda op: op.id)
    take = (
        update(ExchangeFeed)
        .where(col(ExchangeFeed.database_id) == db_id)
        .values(position=col(ExchangeFeed.position) + len(operations))
        .returning(col(ExchangeFeed.position))
    )
    last = (await session.exec(take)).scalar_one_or_none()
    if last is None:
        # No feed row yet (the dispatcher's start creates it): create it, unless another dispatcher just did
        # (its insert is waited for), then take the positions.
        feeds: Table = ExchangeFeed.__table__  # type: ignore[attr-defined]
        dialect = session.bind.dialect.name if session.bind is not None else ""
        create = (pg_insert if dialect == "postgresql" else sqlite_insert)(feeds).values(database_id=db_id, position=0)
        await session.exec(create.on_conflict_do_nothing(index_elements=["database_id"]))
        last = (await session.exec(take)).scalar_one()
    first = last - len(operations) + 1
    rows = []
    for offset, op in enumerate(operations):
        changed_at = op.meta.get("changed_at")
        rows.append(
            {
                "database_id": db_id,
                "position": first + offset,
                "record_id": op.record_id,
                "kind": op.kind,
                "changed_fields": sorted(op.fields),
                "operation_id": op.id,
                "receipt_id": op.receipt_id,
                "changed_at": datetime.fromisoformat(changed_at) if isinstance(changed_at, str) else None,
                "delivered_at": now,
            }
        )
    table: Table = ExchangeChange.__table__  # type: ignore[attr-defined]
    await session.exec(insert(table), params=rows)
