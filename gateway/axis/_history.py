"""The axis history the monthly report reads: state transitions and hourly check counts, and their pruning.

Every change of a connection's state (as ``/v1/axis`` shows it) is one row of ``axis_transitions``; every health
check adds one to its hour's row of ``axis_check_counts``. Both are small (a row per change, a row per database and
hour) and kept for ``axis_history_retention_days``, while the raw checks of ``axis_checks`` keep only the last
``axis_history`` per database. Pruning keeps each database's last transition before the cut, so the state at any
moment after the cut stays known.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.axis.models import AxisCheckCount, AxisTransition
from gateway.core.db import in_utc

__all__ = ["TICK", "count_check", "hour_of", "last_transition_at", "prune_history", "record_transition"]

_TRANSITIONS = AxisTransition.__table__  # type: ignore[attr-defined]
_COUNTS = AxisCheckCount.__table__  # type: ignore[attr-defined]


def hour_of(moment: datetime) -> datetime:
    """The start of the (UTC) hour of ``moment``."""
    return moment.replace(minute=0, second=0, microsecond=0)


#: How far after the last recorded transition a transition stamped earlier is put (see :func:`record_transition`).
TICK = timedelta(microseconds=1)


async def last_transition_at(session: AsyncSession, database_id: str) -> datetime | None:
    """When ``database_id`` last entered a state, as recorded."""
    at = col(AxisTransition.at)
    query = select(sa.func.max(at)).where(col(AxisTransition.database_id) == database_id)
    found: datetime | None = (await session.exec(query)).one()
    return None if found is None else in_utc(found)


async def record_transition(
    session: AsyncSession, database_id: str, at: datetime, state: str, cause: str | None
) -> datetime:
    """Record that ``database_id`` entered ``state`` at ``at`` because of ``cause``; does not commit. The moment
    recorded: ``at``, or just after the last transition recorded when that is later. Processes whose clocks differ
    (replicas, the command line) write the same history, and a history out of order would tell the states in the
    wrong order (the report's state at the month's end among them)."""
    last = await last_transition_at(session, database_id)
    if last is not None and at <= last:
        at = last + TICK
    await session.exec(
        sa.insert(_TRANSITIONS).values(
            database_id=database_id, at=at, state=state, cause=None if cause is None else cause[:500]
        )
    )
    return at


async def count_check(session: AsyncSession, database_id: str, at: datetime, ok: bool) -> None:
    """Add one health check (failed unless ``ok``) to its hour's count; an atomic increment. Does not commit."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_COUNTS).values(database_id=database_id, hour=hour_of(at), checks=1, failed=0 if ok else 1)
    statement = statement.on_conflict_do_update(
        index_elements=[_COUNTS.c.database_id, _COUNTS.c.hour],
        set_={
            "checks": _COUNTS.c.checks + statement.excluded.checks,
            "failed": _COUNTS.c.failed + statement.excluded.failed,
        },
    )
    await session.exec(statement)


async def prune_history(session: AsyncSession, now: datetime, retention_days: int) -> tuple[int, int]:
    """Delete the transitions and check counts older than ``retention_days``, keeping each database's last
    transition before the cut (the state it was in at the cut). Commits; the rows deleted of each table."""
    cut = now - timedelta(days=retention_days)
    older = _TRANSITIONS.alias("older")
    last_before_cut = (
        sa.select(sa.func.max(older.c.at))
        .where(older.c.database_id == _TRANSITIONS.c.database_id, older.c.at < cut)
        .scalar_subquery()
    )
    transitions = await session.exec(
        sa.delete(_TRANSITIONS).where(_TRANSITIONS.c.at < cut, _TRANSITIONS.c.at < last_before_cut)
    )
    counts = await session.exec(sa.delete(_COUNTS).where(_COUNTS.c.hour < hour_of(cut)))
    await session.commit()
    return transitions.rowcount, counts.rowcount
