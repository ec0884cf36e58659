"""Putting a catalogued database's connection under maintenance, and back."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.axis._history import record_transition
from gateway.axis._states import ConnectionState
from gateway.axis.models import AxisConnection
from gateway.core.db import utcnow


async def set_maintenance(session: AsyncSession, database_id: str, maintenance: bool) -> None:
    """Start or end maintenance of ``database_id``: not checked meanwhile, shown as ``maintenance``. Ending it
    starts the connection afresh: its next good health check connects it."""
    now = utcnow()
    row = await session.get(AxisConnection, database_id)
    if row is None:
        row = AxisConnection(database_id=database_id, state=ConnectionState.PENDING.value, since=now)
    if row.maintenance != maintenance:
        row.maintenance = maintenance
        row.since = now
        if not maintenance:
            row.state, row.last_check, row.failures, row.successes = ConnectionState.PENDING.value, None, 0, 0
            # Nothing of the time before it is evidence now: not its cause, not its last check's latency.
            row.error, row.cause, row.latency_ms = None, None, None
            await record_transition(session, database_id, now, ConnectionState.PENDING.value, "maintenance ended")
        else:
            await record_transition(session, database_id, now, ConnectionState.MAINTENANCE.value, "under maintenance")
    row.updated_at = now
    session.add(row)
    await session.commit()
