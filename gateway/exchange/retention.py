"""Keeping submitted values no longer than needed.

An operation's field values (often personal data: names, dates of birth, addresses) are stored so that they can
be delivered, retried and, for a while, replayed to a sector system restored from a backup. Once delivered they
are kept ``exchange_payload_retention_seconds`` after the delivery (7 days by default); a dead-lettered
operation keeps them ``exchange_dead_payload_retention_seconds`` after its acceptance (30 days by default), so
that an operator can fix the cause and retry it. Then its ``fields`` are erased (``payload_erased_at`` set): its
ids, record key, kind, metadata, state, attempts and outcome stay, for the receipt, the change feed (which holds
the changed field names, never values) and the audit trail. Such an operation can no longer be retried or
replayed.

The erasing runs every ``exchange_retention_interval_seconds`` in the process holding the
``exchange-retention`` lease.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.leases import LeasedLoop
from gateway.core.logs import get_logger
from gateway.exchange._states import DEAD, DELIVERED
from gateway.exchange.models import ExchangeOperation

LEASE = "exchange-retention"
#: Operations erased in one transaction.
ERASE_BATCH = 1000

log = get_logger(__name__)


async def erase_expired_payloads(
    session: AsyncSession,
    *,
    delivered_before: datetime,
    dead_accepted_before: datetime,
    now: datetime | None = None,
    batch: int = ERASE_BATCH,
) -> Counter[str]:
    """Erase the field values of the operations delivered before ``delivered_before`` and of those dead-lettered
    and accepted before ``dead_accepted_before``; how many were erased, by database. Commits each batch."""
    table: Table = ExchangeOperation.__table__  # type: ignore[attr-defined]
    expired = and_(
        table.c.payload_erased_at.is_(None),
        or_(
            and_(table.c.state == DELIVERED, table.c.delivered_at < delivered_before),
            and_(table.c.state == DEAD, table.c.accepted_at < dead_accepted_before),
        ),
    )
    erased: Counter[str] = Counter()
    while True:
        connection = await session.connection()
        rows = (
            await connection.execute(
                select(table.c.id, table.c.database_id).where(expired).order_by(table.c.id).limit(batch)
            )
        ).all()
        if not rows:
            return erased
        # The condition again: an operation replayed or retried meanwhile keeps its values.
        result = await connection.execute(
            update(table)
            .where(table.c.id.in_([row.id for row in rows]), expired)
            .values(fields={}, payload_erased_at=now or utcnow())
            .returning(table.c.database_id)
        )
        erased.update(database_id for (database_id,) in result.all())
        await session.commit()
        if len(rows) < batch:
            return erased


class PayloadRetention(LeasedLoop):
    """Erases expired field values periodically while this process holds the ``exchange-retention`` lease."""

    lease_name = LEASE
    task_name = "exchange-retention"
    part = "exchange retention"

    @property
    def interval_seconds(self) -> float:
        """``exchange_retention_interval_seconds``."""
        return self.settings.exchange_retention_interval_seconds

    @property
    def tick_seconds(self) -> float:
        """The interval, or a third of the lease when that is shorter."""
        return min(self.interval_seconds, self.settings.axis_lease_seconds / 3)

    async def run_once(self) -> Counter[str]:
        """Erase what has expired now; how many operations were erased, by database."""
        settings = self.settings
        now = utcnow()
        async with self.sessionmaker() as session:
            erased = await erase_expired_payloads(
                session,
                delivered_before=now - timedelta(seconds=settings.exchange_payload_retention_seconds),
                dead_accepted_before=now - timedelta(seconds=settings.exchange_dead_payload_retention_seconds),
                now=now,
            )
        for database_id, count in erased.items():
            metrics.EXCHANGE_PAYLOADS_ERASED.labels(database_id).inc(count)
            log.info("submitted values erased after their retention", database=database_id, operations=count)
        return erased
