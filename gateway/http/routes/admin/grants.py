"""Admin routes: grants (what a client may do with a national database)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from gateway.audit import administration
from gateway.http.deps import ADMIN_ONLY, AdminSessionDep, SessionDep, StateDep
from gateway.http.openapi import problem_responses
from gateway.identity.grants import GrantCreate, GrantPublic, add_grant, get_grant, list_grants, revoke_grant
from gateway.identity.request_state import request_state

router = APIRouter(prefix="/v1/admin/grants", tags=["admin"], dependencies=ADMIN_ONLY)

# Grant ids are 32-bit integers in the database (SERIAL on PostgreSQL).
GrantIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The grant id.")]


@router.post("", status_code=201, summary="Add a grant", responses=problem_responses(401, 403, 409, 422))
async def create_grant(
    body: GrantCreate, request: Request, response: Response, session: AdminSessionDep, state: StateDep
) -> GrantPublic:
    """Checked against the database's connector (operations it offers, fields of its contract). In force at
    once in every gateway process; tokens issued before it do not carry its scope until renewed."""
    grant = await add_grant(session, body, registry=state.registry, access=state.access)
    request_state(request.scope).admin = administration.grant_added(grant)
    response.headers["Location"] = f"{request.url.path}/{grant.id}"
    return GrantPublic.of(grant)


@router.get("", summary="List grants", responses=problem_responses(401, 403, 422))
async def get_grants(
    request: Request,
    session: SessionDep,
    client_id: Annotated[str | None, Query(max_length=64, description="Only this client's.")] = None,
    database: Annotated[str | None, Query(max_length=32, description="Only on this database.")] = None,
    active: Annotated[
        bool | None, Query(description="true: only those in force now; false: only revoked, expired or pending.")
    ] = None,
) -> list[GrantPublic]:
    """Grants by id, revoked ones included unless ``active`` says otherwise."""
    request_state(request.scope).admin = administration.asked(administration.GRANT_LIST, client_id)
    return [
        GrantPublic.of(g) for g in await list_grants(session, client_id=client_id, database=database, active=active)
    ]


@router.get("/{grant_id}", summary="Show a grant", responses=problem_responses(401, 403, 404, 422))
async def show_grant(grant_id: GrantIdPath, request: Request, session: SessionDep) -> GrantPublic:
    """One grant and its status now."""
    grant = await get_grant(session, grant_id)
    request_state(request.scope).admin = administration.describe(
        administration.GRANT_SHOW, grant.client_id, grant_id=grant_id
    )
    return GrantPublic.of(grant)


@router.delete("/{grant_id}", summary="Revoke a grant", responses=problem_responses(401, 403, 404, 422))
async def delete_grant(
    grant_id: GrantIdPath, request: Request, session: AdminSessionDep, state: StateDep
) -> GrantPublic:
    """Revoked at once in every gateway process; the grant is kept, with ``revoked_at``. Revoking it again
    changes nothing."""
    already = (await get_grant(session, grant_id)).revoked_at is not None
    grant = await revoke_grant(session, grant_id, access=state.access)
    request_state(request.scope).admin = administration.grant_revoked(grant, already=already)
    return GrantPublic.of(grant)
