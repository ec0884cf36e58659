"""``GET /v1/axis``: the national databases of the catalogue and their connections, for the ``axis`` scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ..axis.overview import AxisOverview, DatabaseDetail, axis_overview, database_detail
from ..deps import AXIS_ONLY, SessionDep, StateDep
from ..openapi import problem_responses
from ..problems import NotFound

router = APIRouter(prefix="/v1/axis", tags=["axis"], dependencies=AXIS_ONLY)

DatabasePath = Annotated[str, Path(max_length=32, description="The catalogued database's id.")]


@router.get("", summary="The integration axis", response_model=AxisOverview, responses=problem_responses(401, 403))
async def get_axis(state: StateDep, session: SessionDep) -> AxisOverview:
    """Every national database of the catalogue with its connection state (`pending`, `connected`, `degraded`,
    `down`, `maintenance`), derived from health checks, and the totals: "12 of 16 connected". Needs the scope
    `axis`."""
    return await axis_overview(session, state.catalogue, state.registry, state.connected_target)


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
    return await database_detail(session, entry, state.registry, history=history)
