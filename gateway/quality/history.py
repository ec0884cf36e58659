"""Data-quality scores over time: every scan's scores, kept, so that a province shows its data getting cleaner.

Each scan (``gateway quality scan``, and every scan the gateway runs itself) appends one row per dimension and one
per rule to ``quality_history``: the share of passing records, the counts behind it, the sample size and the time.
Rows older than ``quality_history_retention_days`` are deleted by the process holding the ``quality-history``
lease. :func:`monthly_scores` reduces the rows to one figure per database, month and dimension: the month's last
scan, the state of the data at the month's end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Final

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.db import utcnow
from gateway.core.leases import LeasedLoop
from gateway.core.logs import get_logger
from gateway.quality.evaluate import Evaluation
from gateway.quality.models import QualityHistory
from gateway.quality.rules import Dimension

__all__ = [
    "LEASE",
    "HistoryPoint",
    "HistoryRetention",
    "MonthScores",
    "monthly_scores",
    "prune_history",
    "read_history",
    "record_history",
]

LEASE: Final = "quality-history"
#: How often the lease holder deletes the history past its retention.
PRUNE_EVERY_SECONDS: Final = 3600.0
#: Most points ``read_history`` returns at once.
MAX_POINTS: Final = 100_000

log = get_logger(__name__)
_TABLE = QualityHistory.__table__  # type: ignore[attr-defined]


class HistoryPoint(BaseModel):
    """One score of one scan: a dimension's (``rule`` null) or a rule's share of passing records."""

    database: str
    source: str = Field(description="`scan`: a sampled scan of the sector system.")
    dimension: Dimension
    rule: str | None = Field(description="The rule's id; null for the dimension's score.")
    value: float | None = Field(description="Share of checked records that pass (null when none was checked).")
    checked: int
    failed: int
    sample_size: int | None = Field(description="Records the scan asked for.")
    recorded_at: datetime = Field(description="When the scan ended.")


class MonthScores(BaseModel):
    """One database's data quality in one month: the scores of its last scan in the month."""

    database: str
    month: str = Field(description="YYYY-MM, in the report's time zone.")
    scans: int = Field(description="Scans made in the month.")
    recorded_at: datetime = Field(description="When the month's last scan ended.")
    dimensions: dict[Dimension, float | None] = Field(description="Share of passing records, per dimension.")


async def record_history(
    session: AsyncSession,
    *,
    database_id: str,
    evaluation: Evaluation,
    recorded_at: datetime,
    sample_size: int | None,
    source: str = "scan",
) -> None:
    """Append the scores of ``evaluation`` (one scan) to the history. Does not commit."""
    key = {"database_id": database_id, "source": source, "sample_size": sample_size, "recorded_at": recorded_at}
    rows = [
        {**key, "dimension": d.value, "rule_id": "", "checked": c.checked, "failed": c.failed, "value": c.ratio}
        for d, c in evaluation.dimensions.items()
    ]
    for rule in evaluation.rules.values():
        ratio = (rule.checked - rule.failed) / rule.checked if rule.checked else None
        rows.append(
            {
                **key,
                "dimension": rule.dimension.value,
                "rule_id": rule.rule_id,
                "checked": rule.checked,
                "failed": rule.failed,
                "value": ratio,
            }
        )
    if rows:
        await session.exec(sa.insert(_TABLE).values(rows))


async def read_history(
    session: AsyncSession,
    *,
    database_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rules: bool = True,
    limit: int | None = None,
) -> list[HistoryPoint]:
    """The points of the history, oldest first: of one database or all, from ``since`` (included) to ``until``
    (excluded), with the rules' scores or only the dimensions', the ``limit`` oldest (all by default)."""
    query = select(QualityHistory)
    if database_id is not None:
        query = query.where(col(QualityHistory.database_id) == database_id)
    if since is not None:
        query = query.where(col(QualityHistory.recorded_at) >= since)
    if until is not None:
        query = query.where(col(QualityHistory.recorded_at) < until)
    if not rules:
        query = query.where(col(QualityHistory.rule_id) == "")
    query = query.order_by(col(QualityHistory.recorded_at), col(QualityHistory.id))
    if limit is not None:
        query = query.limit(limit)
    known = set(Dimension.__members__.values())
    return [
        HistoryPoint(
            database=row.database_id,
            source=row.source,
            dimension=Dimension(row.dimension),
            rule=row.rule_id or None,
            value=row.value,
            checked=row.checked,
            failed=row.failed,
            sample_size=row.sample_size,
            recorded_at=row.recorded_at,
        )
        for row in (await session.exec(query)).all()
        if row.dimension in known
    ]


def monthly_scores(points: Iterable[HistoryPoint], zone: tzinfo) -> dict[str, list[MonthScores]]:
    """Database -> its months (oldest first), each with the dimension scores of its last scan in the month.
    Rule points are ignored."""
    scans: dict[tuple[str, str], dict[datetime, dict[Dimension, float | None]]] = {}
    for point in points:
        if point.rule is not None:
            continue
        month = point.recorded_at.astimezone(zone).strftime("%Y-%m")
        scans.setdefault((point.database, month), {}).setdefault(point.recorded_at, {})[point.dimension] = point.value
    found: dict[str, list[MonthScores]] = {}
    for (database, month), by_time in sorted(scans.items()):
        last = max(by_time)
        found.setdefault(database, []).append(
            MonthScores(
                database=database,
                month=month,
                scans=len(by_time),
                recorded_at=last,
                dimensions={d: by_time[last][d] for d in Dimension if d in by_time[last]},
            )
        )
    return found


def month_start(moment: datetime, zone: tzinfo, *, months_back: int = 0) -> datetime:
    """The first instant of the month ``months_back`` months before the one holding ``moment`` (in ``zone``)."""
    local = moment.astimezone(zone)
    index = local.year * 12 + local.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=zone)


async def prune_history(session: AsyncSession, before: datetime) -> int:
    """Delete the points recorded before ``before``; how many were deleted. Commits."""
    result = await session.exec(sa.delete(_TABLE).where(_TABLE.c.recorded_at < before))
    await session.commit()
    return int(result.rowcount or 0)


class HistoryRetention(LeasedLoop):
    """Deletes the history past ``quality_history_retention_days`` every hour, while this process holds the
    ``quality-history`` lease."""

    lease_name = LEASE
    task_name = "quality-history-retention"
    part = "quality history retention"

    @property
    def interval_seconds(self) -> float:
        """:data:`PRUNE_EVERY_SECONDS`."""
        return PRUNE_EVERY_SECONDS

    @property
    def tick_seconds(self) -> float:
        """A third of the lease."""
        return self.settings.axis_lease_seconds / 3

    async def run_once(self) -> int:
        """Delete what is past the retention now; how many points were deleted."""
        cut = utcnow() - timedelta(days=self.settings.quality_history_retention_days)
        async with self.sessionmaker() as session:
            deleted = await prune_history(session, cut)
        if deleted:
            log.info("data-quality history pruned after its retention", points=deleted)
        return deleted


def dimension_series(months: Sequence[MonthScores]) -> dict[Dimension, list[float | None]]:
    """Per dimension, its score in each of ``months`` (``None`` where a month has none)."""
    return {d: [m.dimensions.get(d) for m in months] for d in Dimension}
