"""Taking a submission in: check every operation, store the accepted ones and the receipt in one transaction,
and only then answer. A repeated ``Idempotency-Key`` gets the stored receipt back and changes nothing.

Each client's share of a database's queue is bounded: a submission that would leave its client with more than
``exchange_client_queue_max`` operations waiting for delivery (pending: not those being delivered) on that
database is refused whole, nothing stored (429 :class:`ExchangeQueueFull`); the dispatcher delivers first in, first
out, so without the bound one client submitting faster than the sector system takes its operations would make every
other client's submissions wait without end. The client's waiting operations are counted in the gateway's database
(shared by every process and replica), from the partial index ``ix_exchange_operations_client_queue``: a few index
entries per operation the client has waiting, whatever the other clients queued or the client submitted before. See
:meth:`IntakeService._store` for what concurrent submissions of one client are guaranteed."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from connectors.context import RequestContext
from gateway.audit.events import EVERY_FIELD
from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.logs import get_logger
from gateway.core.outages import Outage, database_outage, database_unavailable
from gateway.core.problems import (
    ExchangeQueueFull,
    ExchangeUnavailable,
    IdempotencyKeyReused,
    QualityRefused,
    SubmissionRejected,
    ValidationFailed,
)
from gateway.core.settings import Settings, get_settings
from gateway.exchange._quality_gate import REFUSE, Finding, gate_findings
from gateway.exchange._states import PENDING
from gateway.exchange.models import WAITING_CLAUSE, ExchangeOperation, ExchangeReceipt
from gateway.exchange.operations import CheckedOperation, OperationChecker, Rejection
from gateway.identity.access import HEADER_VALUE, Decision
from gateway.quality import record_submitted
from gateway.records.context import CONTEXT_KEY, stored_context

__all__ = [
    "Finding",
    "Intake",
    "IntakeService",
    "named_records",
    "receipt_of",
    "request_hash",
    "unfinished_operations",
    "unfinished_query",
    "written_fields",
]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Intake:
    """The outcome of a submission: its receipt, and whether it repeats an earlier one (nothing was stored)."""

    receipt: dict[str, Any]
    replayed: bool


def named_records(operations: Sequence[object], receipt: dict[str, Any] | None = None) -> list[str]:
    """The records a submission is about, for the audit trail: those its receipt names (accepted, and rejected
    with a readable key) or, without a receipt (the whole submission refused), every ``record_id`` the operations
    give that is fit to be recorded: an attempt on a record is found by the record's question, refused or not."""
    if receipt is not None:
        named: list[object] = [entry["record_id"] for entry in receipt["accepted"]]
        named += [entry.get("record_id") for entry in receipt["rejected"]]
    else:
        named = [op.get("record_id") for op in operations if isinstance(op, dict)]
    return [r for r in dict.fromkeys(named) if isinstance(r, str) and HEADER_VALUE.fullmatch(r)]


def written_fields(operations: Sequence[object], receipt: dict[str, Any]) -> tuple[str, ...]:
    """The contract fields the accepted operations write, sorted (:data:`EVERY_FIELD` when one deletes a record):
    what the audit trail records of a submission, rather than every field the grant covers."""
    written: set[str] = set()
    for entry in receipt["accepted"]:
        operation = operations[entry["index"]]
        if entry["op"] == "delete":
            return (EVERY_FIELD,)
        fields = operation.get("fields") if isinstance(operation, dict) else None
        if isinstance(fields, dict):
            written.update(str(name) for name in fields)
    return tuple(sorted(written))


def _storage_failed(outage: Outage, database_id: str, exc: BaseException) -> None:
    """Log a failure to store or read a submission: once per outage when the database cannot be reached."""
    if database_unavailable(exc):
        outage.failed("submissions", exc)
    else:
        log.warning("exchange storage failed", database=database_id, exc_info=exc)


def request_hash(operations: list[Any]) -> str:
    """A digest of the submitted operations, independent of key order and whitespace; 422 for an integer beyond
    64 bits, which no contract field holds."""
    try:
        return hashlib.sha256(orjson.dumps(operations, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except TypeError:
        raise ValidationFailed("An operation holds an integer beyond 64 bits.") from None


async def receipt_of(session: AsyncSession, row: ExchangeReceipt, *, with_states: bool = False) -> dict[str, Any]:
    """The receipt of a stored submission; ``with_states`` adds each operation's delivery state."""
    operations = (
        await session.exec(
            select(ExchangeOperation)
            .where(col(ExchangeOperation.receipt_id) == row.id)
            .order_by(col(ExchangeOperation.position))
        )
    ).all()
    accepted = []
    for operation in operations:
        entry: dict[str, Any] = {
            "index": operation.position,
            "record_id": operation.record_id,
            "op": operation.kind,
            "operation_id": operation.id,
        }
        if with_states:
            entry |= {
                "state": operation.state,
                "attempts": operation.attempts,
                "outcome": operation.outcome,
                "delivered_at": operation.delivered_at.isoformat() if operation.delivered_at else None,
                "last_error": operation.last_error,
                "fields_erased_at": operation.payload_erased_at.isoformat() if operation.payload_erased_at else None,
            }
        accepted.append(entry)
    return _receipt(row, accepted)


def _receipt(row: ExchangeReceipt, accepted: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "receipt_id": row.id,
        "database": row.database_id,
        "idempotency_key": row.idempotency_key,
        "received_at": row.created_at.isoformat(),
        "accepted": accepted,
        "rejected": row.rejections,
        "findings": row.findings or [],
    }


async def _stored(session: AsyncSession, client_id: str, database_id: str, key: str) -> ExchangeReceipt | None:
    return (
        await session.exec(
            select(ExchangeReceipt).where(
                col(ExchangeReceipt.client_id) == client_id,
                col(ExchangeReceipt.database_id) == database_id,
                col(ExchangeReceipt.idempotency_key) == key,
            )
        )
    ).first()


def unfinished_query(client_id: str, database_id: str) -> SelectOfScalar[int]:
    """The count of the operations ``client_id`` submitted to ``database_id`` that wait for delivery (pending; not
    those a dispatcher is delivering): answered from the partial index ``ix_exchange_operations_client_queue``
    alone (its condition written as the index's, which SQLite needs to use it)."""
    table = ExchangeOperation.__table__  # type: ignore[attr-defined]
    return (
        select(func.count())
        .select_from(table)
        .where(table.c.client_id == client_id, table.c.database_id == database_id, text(WAITING_CLAUSE))
    )


async def unfinished_operations(session: AsyncSession, client_id: str, database_id: str) -> int:
    """How many operations ``client_id`` submitted to ``database_id`` are unfinished (:func:`unfinished_query`)."""
    return (await session.exec(unfinished_query(client_id, database_id))).one()


def _queue_lock_key(client_id: str, database_id: str) -> int:
    """The PostgreSQL advisory lock of one client's queue on one database: a signed 64-bit key, the same in every
    process (a digest, not :func:`hash`, which differs between processes). Two queues sharing a key (a chance of
    one in 2**64) only wait for each other."""
    digest = hashlib.sha256(f"exchange-client-queue\0{database_id}\0{client_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _hold_queue(session: AsyncSession, client_id: str, database_id: str) -> None:
    """Serialise, until the transaction ends, the submissions of ``client_id`` to ``database_id`` on PostgreSQL
    (a transaction-scoped advisory lock: no row, released by commit or rollback, a crashed process's with its
    connection). SQLite needs none: the write that begins the transaction takes the database's one write lock."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        await session.exec(select(func.pg_advisory_xact_lock(_queue_lock_key(client_id, database_id))))


async def _replay(session: AsyncSession, row: ExchangeReceipt, digest: str) -> Intake:
    if row.request_hash != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for different operations; use a new key for a new submission."
        )
    return Intake(await receipt_of(session, row), replayed=True)


class IntakeService:
    """Submissions to one database."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_id: str,
        checker: OperationChecker,
        settings: Settings | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._outage = database_outage(sessionmaker.kw["bind"].url)
        self.database_id = database_id
        self.checker = checker

    async def submit(
        self,
        operations: list[Any],
        *,
        decision: Decision,
        idempotency_key: str,
        context: RequestContext | None = None,
    ) -> Intake:
        """Check and store ``operations``; raises :class:`SubmissionRejected` when none passes, and
        :class:`ExchangeUnavailable` when they cannot be stored (nothing is then accepted). The submission's
        ``context`` (request id, client, purpose, trace...) is stored with each operation: its deliveries carry
        it to the sector system."""
        digest = request_hash(operations)
        client_id = decision.client_id
        try:
            async with self._sessionmaker() as session:
                existing = await _stored(session, client_id, self.database_id, idempotency_key)
                if existing is not None:
                    return await _replay(session, existing, digest)
        except sa_exc.SQLAlchemyError as exc:
            _storage_failed(self._outage, self.database_id, exc)
            raise ExchangeUnavailable from None
        accepted: list[CheckedOperation] = []
        rejected: list[Rejection] = []
        for position, raw in enumerate(operations):
            outcome = self.checker.check(position, raw, decision, decision.actor)
            (accepted if isinstance(outcome, CheckedOperation) else rejected).append(outcome)  # type: ignore[arg-type]
        counters = metrics.exchange_outcomes(self.database_id)
        if rejected:
            counters["rejected"].inc(len(rejected))
        if not accepted:
            raise SubmissionRejected(
                "No operation could be accepted; nothing was stored.", rejected=[r.as_json() for r in rejected]
            )
        findings = await self._quality_gate(accepted)
        intake = await self._store(
            accepted, rejected, decision, idempotency_key, digest, context=stored_context(context), findings=findings
        )
        if not intake.replayed:
            counters["accepted"].inc(len(accepted))
            if findings:
                flagged = len({finding.index for finding in findings})
                metrics.EXCHANGE_QUALITY.labels(self.database_id, "flagged").inc(flagged)
        return intake

    async def _quality_gate(self, accepted: list[CheckedOperation]) -> list[Finding]:
        """The findings of the accepted operations under the rules set to ``flag``; raises :class:`QualityRefused`
        (nothing stored) when one breaks a rule set to ``refuse``."""
        findings = await gate_findings(
            accepted,
            contract=self.checker.contract,
            database_id=self.database_id,
            settings=self._settings or get_settings(),
            now=utcnow(),
        )
        refused = [finding for finding in findings if finding.action == REFUSE]
        if not refused:
            return findings
        metrics.EXCHANGE_QUALITY.labels(self.database_id, "refused").inc(len({f.index for f in refused}))
        first = refused[0]
        extensions: dict[str, Any] = {
            "rule": first.rule,
            "field": first.field,
            "findings": [f.as_json() for f in refused],
        }
        if first.field is None:
            raise QualityRefused(
                f"Operation {first.index} breaks the data-quality rule {first.rule}; nothing was stored.", **extensions
            )
        raise QualityRefused(
            f"Operation {first.index} breaks the data-quality rule {first.rule} ({first.field}); nothing was stored.",
            **extensions,
        )

    async def _measure_quality(self, accepted: list[CheckedOperation]) -> None:
        """Count the new records in the database's data-quality scores (statistics: kept apart from the
        operations' own transaction, so that a failure here loses no operation)."""
        key = self.checker.key
        records = [{**(op.record or op.fields), key: op.record_id} for op in accepted if op.kind == "create"]
        if not records:
            return
        try:
            async with self._sessionmaker() as session:
                await record_submitted(
                    session, self.database_id, self.checker.contract, records, settings=self._settings
                )
                await session.commit()
        except Exception as exc:
            if database_unavailable(exc):
                self._outage.failed("quality scores", exc)
            else:
                log.warning(
                    "could not count submitted records in the quality scores", database=self.database_id, exc_info=True
                )

    async def _check_queue(self, session: AsyncSession, client_id: str, submitted: int, bound: int) -> None:
        """Raise :class:`ExchangeQueueFull` (the transaction rolled back: nothing stored) when ``submitted`` more
        operations would leave ``client_id`` with more than ``bound`` unfinished ones on this database."""
        unfinished = await unfinished_operations(session, client_id, self.database_id)
        if unfinished + submitted <= bound:
            return
        await session.rollback()
        metrics.EXCHANGE_QUEUE_FULL.labels(self.database_id, client_id).inc()
        raise ExchangeQueueFull(database=self.database_id, unfinished=unfinished, limit=bound, submitted=submitted)

    async def _store(
        self,
        accepted: list[CheckedOperation],
        rejected: list[Rejection],
        decision: Decision,
        idempotency_key: str,
        digest: str,
        *,
        context: dict[str, str],
        findings: Sequence[Finding] = (),
    ) -> Intake:
        """Store the receipt and the accepted operations in one transaction, unless they would take the client
        past its bound (``exchange_client_queue_max``; 0: none): then nothing is stored and
        :class:`ExchangeQueueFull` is raised.

        The bound holds exactly, across processes and replicas: the count and the insert of one client's
        submission to one database run in one transaction that no other submission of the same client and database
        overlaps. On PostgreSQL a transaction-scoped advisory lock of that client and database is taken first (the
        count, a statement begun after the lock is granted, sees every operation committed by the submissions
        before; submissions of other clients, or to other databases, do not wait). On SQLite the receipt's insert,
        the transaction's first write, takes the database's write lock before the count (no other writer commits
        until this transaction ends). Two submissions of one client that would exceed the bound together are
        therefore never both accepted: the second counts the first's operations. The receipt is inserted before
        counting, so that a repetition of an accepted submission (its key taken meanwhile) is answered with its
        receipt, never refused. The count may still exceed the bound by what no submission adds: operations an
        operator sends back to the queue (``gateway exchange retry``, ``replay``), or a bound lowered while the
        queue was fuller; such a client's next submissions are refused until its queue is below the bound again.
        """
        now = utcnow()
        receipt = ExchangeReceipt(
            id=str(uuid.uuid4()),
            client_id=decision.client_id,
            database_id=self.database_id,
            idempotency_key=idempotency_key,
            request_hash=digest,
            purpose=decision.purpose,
            actor=decision.actor,
            accepted=len(accepted),
            rejected=len(rejected),
            rejections=[r.as_json() for r in rejected],
            findings=[finding.as_json() for finding in findings] or None,
            created_at=now,
        )
        rows = [
            {
                "receipt_id": receipt.id,
                "position": op.position,
                "database_id": self.database_id,
                "client_id": decision.client_id,
                "record_id": op.record_id,
                "kind": op.kind,
                "fields": op.fields,
                "metadata": {**op.metadata, CONTEXT_KEY: context} if context else op.metadata,
                "state": PENDING,
                "attempts": 0,
                "generation": 0,
                "next_attempt_at": now,
                "accepted_at": now,
            }
            for op in accepted
        ]
        table = ExchangeOperation.__table__  # type: ignore[attr-defined]
        bound = (self._settings or get_settings()).exchange_client_queue_max
        try:
            async with self._sessionmaker() as session:
                if bound:
                    await _hold_queue(session, decision.client_id, self.database_id)
                session.add(receipt)
                try:
                    # The receipt first: a repeated key is a replay (answered 202 below), never refused by the bound.
                    await session.flush()
                    if bound:
                        await self._check_queue(session, decision.client_id, len(accepted), bound)
                    # One multi-row INSERT ... RETURNING, ids in the order given.
                    inserted = await session.exec(
                        insert(table).returning(table.c.id, sort_by_parameter_order=True), params=rows
                    )
                    ids = [row[0] for row in inserted.all()]
                    await session.commit()
                except sa_exc.IntegrityError:
                    # The same key, stored by a concurrent request in the meantime: answer with its receipt.
                    await session.rollback()
                    existing = await _stored(session, decision.client_id, self.database_id, idempotency_key)
                    if existing is None:
                        raise
                    return await _replay(session, existing, digest)
        except sa_exc.SQLAlchemyError as exc:
            _storage_failed(self._outage, self.database_id, exc)
            raise ExchangeUnavailable from None
        await self._measure_quality(accepted)
        entries = [
            {"index": op.position, "record_id": op.record_id, "op": op.kind, "operation_id": op_id}
            for op, op_id in zip(accepted, ids, strict=True)
        ]
        return Intake(_receipt(receipt, entries), replayed=False)
