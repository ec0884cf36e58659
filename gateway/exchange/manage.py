"""Operating the exchange: the backlog for the metrics, and the operator's tools (``gateway exchange``): list the
dead letters, retry them, dismiss those that are not to be delivered, replay delivered operations to a sector
system restored from a backup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.db import utcnow
from gateway.exchange._states import DEAD, DELIVERED, DELIVERING, DISMISSED, PENDING, UNFINISHED
from gateway.exchange.models import ExchangeOperation

QUEUE_STATES = (PENDING, DELIVERING, DEAD)


async def exchange_backlog(session: AsyncSession) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    """Operations not delivered, by (database, state), and the age in seconds of each database's oldest
    operation still waiting for delivery."""
    ops = ExchangeOperation
    rows = (
        await session.exec(
            select(ops.database_id, ops.state, func.count(), func.min(ops.accepted_at))
            .where(col(ops.state).in_(QUEUE_STATES))
            .group_by(col(ops.database_id), col(ops.state))
        )
    ).all()
    now = utcnow()
    depth: dict[tuple[str, str], int] = {}
    oldest: dict[str, float] = {}
    for database_id, state, count, first in rows:
        depth[(database_id, state)] = int(count)
        if state in UNFINISHED and first is not None:
            accepted = aware(first)
            oldest[database_id] = max(oldest.get(database_id, 0.0), (now - accepted).total_seconds(), 0.0)
    return depth, oldest


def aware(value: Any) -> datetime:
    """An aggregate's timestamp (SQLite gives text, without zone) as an aware UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def operation_view(op: ExchangeOperation) -> dict[str, Any]:
    """An operation as the CLI and the API show it (no field values: they may be personal data)."""
    return {
        "operation_id": op.id,
        "receipt_id": op.receipt_id,
        "index": op.position,
        "database": op.database_id,
        "record_id": op.record_id,
        "op": op.kind,
        "state": op.state,
        "attempts": op.attempts,
        "accepted_at": op.accepted_at.isoformat(),
        "last_error": op.last_error,
        "fields_erased_at": op.payload_erased_at.isoformat() if op.payload_erased_at else None,
    }


async def dead_letters(
    session: AsyncSession, database_id: str | None = None, limit: int = 100
) -> list[ExchangeOperation]:
    """Dead-lettered operations, oldest first."""
    statement = select(ExchangeOperation).where(col(ExchangeOperation.state) == DEAD)
    if database_id is not None:
        statement = statement.where(col(ExchangeOperation.database_id) == database_id)
    return list((await session.exec(statement.order_by(col(ExchangeOperation.id)).limit(limit))).all())


async def retry(session: AsyncSession, *, ids: Sequence[int] = (), database_id: str | None = None) -> int:
    """Put dead-lettered operations back to pending, attempts reset, same idempotency key (they were never
    applied, or the sector system recognises them). All of a database's when no ids are given. Operations whose
    field values were erased (their retention ended) cannot be delivered again and are left dead."""
    statement = update(ExchangeOperation).where(
        col(ExchangeOperation.state) == DEAD, col(ExchangeOperation.payload_erased_at).is_(None)
    )
    if ids:
        statement = statement.where(col(ExchangeOperation.id).in_(ids))
    if database_id is not None:
        statement = statement.where(col(ExchangeOperation.database_id) == database_id)
    result = await session.exec(
        statement.values(state=PENDING, attempts=0, next_attempt_at=utcnow(), last_error=None).execution_options(
            synchronize_session=False
        )
    )
    await session.commit()
    return int(result.rowcount)


async def dismiss(session: AsyncSession, *, ids: Sequence[int] = (), database_id: str | None = None) -> int:
    """Dismiss dead-lettered operations that are not to be delivered (superseded by a later change, refused by the
    sector system for good, written by a client since suspended): they leave the dead letters (and the alerts on
    them), are never delivered, and their field values are erased at once; their receipts say ``dismissed``, with
    the last error. All of a database's when no ids are given; how many were dismissed."""
    statement = update(ExchangeOperation).where(col(ExchangeOperation.state) == DEAD)
    if ids:
        statement = statement.where(col(ExchangeOperation.id).in_(ids))
    if database_id is not None:
        statement = statement.where(col(ExchangeOperation.database_id) == database_id)
    now = utcnow()
    result = await session.exec(
        statement.values(
            state=DISMISSED,
            fields={},
            payload_erased_at=func.coalesce(col(ExchangeOperation.payload_erased_at), now),
        ).execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount)


async def replay(
    session: AsyncSession, database_id: str, *, since: datetime | None = None, receipt_id: str | None = None
) -> int:
    """Deliver again operations already delivered to ``database_id`` (accepted since ``since``, or of one
    receipt), under a new idempotency key, for a sector system restored from a backup. They are delivered in
    their original order and appear again in the change feed. Operations whose field values were erased (their
    retention ended) are not replayed."""
    statement = update(ExchangeOperation).where(
        col(ExchangeOperation.database_id) == database_id,
        col(ExchangeOperation.state) == DELIVERED,
        col(ExchangeOperation.payload_erased_at).is_(None),
    )
    if since is not None:
        statement = statement.where(col(ExchangeOperation.accepted_at) >= since)
    if receipt_id is not None:
        statement = statement.where(col(ExchangeOperation.receipt_id) == receipt_id)
    result = await session.exec(
        statement.values(
            state=PENDING,
            attempts=0,
            generation=col(ExchangeOperation.generation) + 1,
            next_attempt_at=utcnow(),
            delivered_at=None,
            outcome=None,
        ).execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount)
