"""A month's data-quality figures for the province's monthly report, beside the axis connections: per database, the
scores of its last scan in the month and the change from the month before, and the trend of the last twelve
months, per database and for the province (the mean of the databases scanned in each month)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.quality.history import MonthScores, month_start, monthly_scores, read_history
from gateway.quality.rules import Dimension

__all__ = ["TREND_MONTHS", "DatabaseQualityMonth", "MonthQuality", "build_month_quality"]

TREND_MONTHS = 12
"""Months the trend covers, the report's month included."""


class DatabaseQualityMonth(BaseModel):
    """One database's data quality in the month."""

    id: str
    name: str | None = Field(default=None, description="Vietnamese name (from the axis catalogue).")
    name_en: str | None = None
    scans: int = Field(description="Scans made in the month.")
    scores: dict[Dimension, float | None] = Field(description="The month's last scan: share of passing records.")
    previous: dict[Dimension, float | None] = Field(description="The month before's last scan (empty: none).")
    change: dict[Dimension, float | None] = Field(description="scores minus previous, per dimension (null: unknown).")
    trend: list[MonthScores] = Field(description="Its months of the trend that had a scan, oldest first.")


class MonthQuality(BaseModel):
    """The month's data-quality figures."""

    months: list[str] = Field(description="The months of the trend (YYYY-MM), oldest first, the report's last.")
    scanned: int = Field(description="Databases scanned in the month.")
    average: dict[Dimension, float | None] = Field(description="Mean score of the databases scanned in the month.")
    average_change: dict[Dimension, float | None] = Field(description="Change of the mean from the month before.")
    trend: list[MonthScores] = Field(
        description="Per month of the trend with a scan, the mean score of the databases scanned (database `*`)."
    )
    databases: list[DatabaseQualityMonth] = Field(description="The databases with a scan in the trend's months.")


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def _change(
    now: Mapping[Dimension, float | None], before: Mapping[Dimension, float | None]
) -> dict[Dimension, float | None]:
    changes: dict[Dimension, float | None] = {}
    for dimension in Dimension:
        value, previous = now.get(dimension), before.get(dimension)
        changes[dimension] = None if value is None or previous is None else value - previous
    return changes


async def build_month_quality(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    names: Mapping[str, tuple[str, str]] | None = None,
) -> MonthQuality:
    """The figures of the month running from ``start`` to ``end`` (its months in ``zone``); ``names``: database id
    -> (Vietnamese, English) name, and the order of the databases (others follow, alphabetically)."""
    first = month_start(start, zone, months_back=TREND_MONTHS - 1)
    months = [month_start(start, zone, months_back=back).strftime("%Y-%m") for back in range(TREND_MONTHS - 1, -1, -1)]
    this, before = months[-1], months[-2]
    history = await read_history(session, since=first, until=end, rules=False)
    by_database = monthly_scores(history, zone)
    order = list(names or {})
    ranked = sorted(by_database, key=lambda db: (order.index(db) if db in order else len(order), db))
    databases: list[DatabaseQualityMonth] = []
    for database_id in ranked:
        found = {month.month: month for month in by_database[database_id]}
        current = found[this].dimensions if this in found else {}
        previous = found[before].dimensions if before in found else {}
        name, name_en = (names or {}).get(database_id, (None, None))
        databases.append(
            DatabaseQualityMonth(
                id=database_id,
                name=name,
                name_en=name_en,
                scans=found[this].scans if this in found else 0,
                scores=dict(current),
                previous=dict(previous),
                change=_change(current, previous),
                trend=by_database[database_id],
            )
        )
    trend: list[MonthScores] = []
    for month in months:
        scored = [scores for db in by_database.values() for scores in db if scores.month == month]
        if not scored:
            continue
        trend.append(
            MonthScores(
                database="*",
                month=month,
                scans=sum(scores.scans for scores in scored),
                recorded_at=max(scores.recorded_at for scores in scored),
                dimensions={d: _mean([scores.dimensions.get(d) for scores in scored]) for d in Dimension},
            )
        )
    averages = {month.month: month.dimensions for month in trend}
    average = averages.get(this, {})
    return MonthQuality(
        months=months,
        scanned=sum(1 for db in databases if db.scans),
        average=dict(average),
        average_change=_change(average, averages.get(before, {})),
        trend=trend,
        databases=databases,
    )
