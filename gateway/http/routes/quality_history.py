"""``GET /v1/quality/history``: the data-quality scores of every scan over time, for the ``axis`` scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from gateway.core.problems import NotFound
from gateway.http.deps import AXIS_ONLY, SessionDep, StateDep
from gateway.http.openapi import problem_responses
from gateway.quality.history import MAX_POINTS, HistoryPoint, MonthScores, monthly_scores, read_history
from gateway.quality.models import QualityHistory as QualityHistoryRow

router = APIRouter(prefix="/v1/quality", tags=["quality"], dependencies=AXIS_ONLY)


class QualityHistory(BaseModel):
    """The scores of the scans made in a period, and each month's figures."""

    database: str | None = Field(description="The database asked for; null: every database.")
    from_: datetime | None = Field(alias="from", description="The period's start (included).")
    to: datetime | None = Field(description="The period's end (excluded).")
    timezone: str = Field(description="The time zone in which the months begin and end.")
    truncated: bool = Field(description="More points than ``limit`` were recorded in the period: the oldest come.")
    points: list[HistoryPoint] = Field(description="Scores per scan, dimension and rule, oldest first.")
    months: list[MonthScores] = Field(description="Per database and month, the dimension scores of its last scan.")

    model_config = {"populate_by_name": True}


def _aware(moment: datetime | None) -> datetime | None:
    """The time in UTC (given without a zone: UTC already); one too close to year 1 or 9999 for that is the
    first or last time there is."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


@router.get(
    "/history",
    summary="Data-quality scores over time",
    response_model=QualityHistory,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_quality_history(
    state: StateDep,
    session: SessionDep,
    database: Annotated[
        str | None, Query(max_length=32, description="One database's scores (all databases' when left out).")
    ] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="From this time or date (included; UTC without a zone).")
    ] = None,
    to: Annotated[datetime | None, Query(description="Until this time or date (excluded; UTC without a zone).")] = None,
    rules: Annotated[bool, Query(description="Include each rule's score, not only the dimensions'.")] = True,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS, description="Most points returned.")] = 10_000,
) -> QualityHistory:
    """Every score each data-quality scan recorded (kept `GATEWAY_QUALITY_HISTORY_RETENTION_DAYS`): per database,
    dimension (correct, complete, clean, live) and rule, the share of passing records, the counts and the sample
    size; and per month, the scores of the month's last scan. A period ending before it begins holds no point. A
    database neither in the axis catalogue, configured, nor in the history is `404` (a misspelt id is not an empty
    history). Needs the scope `axis`."""
    if database is not None:
        known = {entry.id for entry in state.catalogue.databases} | set(state.settings.connectors)
        recorded = select(QualityHistoryRow.id).where(col(QualityHistoryRow.database_id) == database).limit(1)
        if database not in known and (await session.exec(recorded)).first() is None:
            raise NotFound(f"No database {database!r} in the axis catalogue.")
    since, until = _aware(from_), _aware(to)
    points = await read_history(session, database_id=database, since=since, until=until, rules=rules, limit=limit + 1)
    truncated = len(points) > limit
    points = points[:limit]
    zone = state.settings.report_zone
    months = [month for found in monthly_scores(points, zone).values() for month in found]
    return QualityHistory(
        database=database,
        from_=since,
        to=until,
        timezone=zone.key,
        truncated=truncated,
        points=points,
        months=months,
    )
