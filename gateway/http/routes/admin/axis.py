"""Admin routes of the integration axis: maintenance of a catalogued database's connection."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, StrictBool

from gateway.audit import administration
from gateway.axis.maintenance import set_maintenance
from gateway.axis.overview import DatabaseDetail, database_detail, stale_bounds
from gateway.axis.routes import connection_routes
from gateway.core.problems import NotFound
from gateway.http.deps import ADMIN_ONLY, AdminSessionDep, StateDep
from gateway.http.openapi import problem_responses
from gateway.identity.request_state import request_state

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=ADMIN_ONLY)

DatabasePath = Annotated[str, Path(max_length=32, description="The catalogued database's id.")]


class Maintenance(BaseModel):
    """Whether the connection is under maintenance."""

    model_config = ConfigDict(extra="forbid")

    maintenance: StrictBool


@router.put(
    "/axis/{database_id}/maintenance",
    summary="Start or end maintenance of a database's connection",
    response_model=DatabaseDetail,
    responses=problem_responses(401, 403, 404, 422),
)
async def put_maintenance(
    database_id: DatabasePath, body: Maintenance, request: Request, state: StateDep, session: AdminSessionDep
) -> DatabaseDetail:
    """Under maintenance a connection is not health-checked and shows the state `maintenance`; ending it starts the
    connection afresh (its next good check connects it)."""
    entry = state.catalogue.get(database_id)
    if entry is None:
        raise NotFound(f"No database {database_id!r} in the axis catalogue.")
    await set_maintenance(session, database_id, body.maintenance)
    request_state(request.scope).admin = administration.maintenance_set(database_id, body.maintenance)
    routes = connection_routes(state.settings.connectors)
    stale = stale_bounds(state.settings)
    return await database_detail(session, entry, state.registry, history=10, routes=routes, stale=stale)
