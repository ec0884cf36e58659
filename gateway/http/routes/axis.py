"""``GET /v1/axis``: the national databases of the catalogue and their connections, for the ``axis`` scope."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from gateway.axis.html import render_report_html
from gateway.axis.overview import (
    AxisOverview,
    DatabaseDetail,
    axis_overview,
    database_detail,
    stale_bound,
    stale_bounds,
)
from gateway.axis.report import MONTH_PATTERN, AxisMonthReport, InvalidMonth, build_month_report
from gateway.axis.routes import connection_routes
from gateway.core.db import utcnow
from gateway.core.problems import NotFound, ValidationFailed
from gateway.http.deps import AXIS_ONLY, SessionDep, StateDep
from gateway.http.openapi import problem_responses

router = APIRouter(prefix="/v1/axis", tags=["axis"], dependencies=AXIS_ONLY)

DatabasePath = Annotated[str, Path(max_length=32, description="The catalogued database's id.")]


@router.get("", summary="The integration axis", response_model=AxisOverview, responses=problem_responses(401, 403))
async def get_axis(state: StateDep, session: SessionDep) -> AxisOverview:
    """Every national database of the catalogue with its connection state (`pending`, `connected`, `degraded`,
    `down`, `maintenance`, `unknown` when no check was recorded lately), derived from health checks, the route
    each configured connection takes (`direct`, or `axis` through the national axis or the province's LGSP), and
    the totals: "12 of 16 connected". Needs the scope `axis`."""
    routes, stale = connection_routes(state.settings.connectors), stale_bounds(state.settings)
    return await axis_overview(
        session, state.catalogue, state.registry, state.connected_target, routes=routes, stale=stale
    )


@router.get(
    "/report",
    summary="The monthly connection report",
    response_model=AxisMonthReport,
    responses={
        **problem_responses(401, 403, 422),
        200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "The report."},
    },
)
async def get_axis_report(
    state: StateDep,
    session: SessionDep,
    month: Annotated[
        str,
        Query(pattern=MONTH_PATTERN, description="The month, YYYY-MM, in the province's time zone (from 1970-01)."),
    ],
    format: Annotated[Literal["json", "html"], Query(description="JSON, or the bilingual HTML page.")] = "json",
) -> AxisMonthReport | HTMLResponse:
    """Per catalogued database: the share of the month connected, degraded, down, under maintenance (and any
    other state), its incidents with start, end and cause, the health checks made, the requests served and their
    error ratio; and "n of 16 connected at month end". A month under way is reported up to now; a malformed month
    or one not begun is `422`. Needs the scope `axis`."""
    settings = state.settings
    try:
        report = await build_month_report(
            session,
            state.catalogue,
            month=month,
            zone=settings.report_zone,
            target=state.connected_target,
            retention_days=settings.axis_history_retention_days,
            now=utcnow(),
            routes=connection_routes(settings.connectors),
            stale_after=functools.partial(stale_bound, settings),
        )
    except InvalidMonth as exc:
        raise ValidationFailed(
            f"Invalid month: {exc}.", errors=[{"loc": ["query", "month"], "msg": str(exc), "type": exc.kind}]
        ) from None
    if format == "html":
        return HTMLResponse(render_report_html(report))
    return report


@router.get(
    "/{database_id}",
    summary="One database's connection and its recent health checks",
    response_model=DatabaseDetail,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_axis_database(
    database_id: DatabasePath,
    state: StateDep,
    session: SessionDep,
    history: Annotated[int, Query(ge=1, le=1000, description="How many recent checks to include.")] = 50,
) -> DatabaseDetail:
    """The connection of one catalogued database with its recent health checks, newest first."""
    entry = state.catalogue.get(database_id)
    if entry is None:
        raise NotFound(f"No database {database_id!r} in the axis catalogue.")
    routes = connection_routes(state.settings.connectors)
    stale = stale_bounds(state.settings)
    return await database_detail(session, entry, state.registry, history=history, routes=routes, stale=stale)
