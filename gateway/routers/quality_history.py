"""``GET /v1/quality/history``: the data-quality scores of every scan over time, for the ``axis`` scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ..deps import AXIS_ONLY, SessionDep, StateDep
from ..openapi import problem_responses
from ..problems import ValidationFailed
from ..quality.history import MAX_POINTS, HistoryPoint, MonthScores, monthly_scores, read_history

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
    """A time given without a zone is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@router.get(
    "/history",
    summary="Data-quality scores over time",
    response_model=QualityHistory,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 422),
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
    size; and per month, the scores of the month's last scan. Needs the scope `axis`."""
    since, until = _aware(from_), _aware(to)
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("The period ends before it begins.")
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
