"""Admin routes: clients (agency systems), their status and secrets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response

from gateway.audit import administration
from gateway.http.deps import ADMIN_ONLY, AdminSessionDep, SessionDep, StateDep
from gateway.http.openapi import problem_responses
from gateway.identity.clients import (
    ClientCreate,
    ClientCreated,
    ClientDetail,
    ClientPublic,
    ClientUpdate,
    SecretRotated,
    SecretRotation,
    add_client,
    describe_client,
    list_clients,
    require_client,
    rotate_client_secret,
    set_status,
    update_client,
)
from gateway.identity.models import ClientStatus
from gateway.identity.request_state import request_state

router = APIRouter(prefix="/v1/admin/clients", tags=["admin"], dependencies=ADMIN_ONLY)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ClientIdPath = Annotated[str, Path(max_length=64, description="The client id.")]


@router.post(
    "",
    status_code=201,
    summary="Create a client",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_client(
    body: ClientCreate, request: Request, response: Response, session: AdminSessionDep, state: StateDep
) -> ClientCreated:
    """Create a client; its secret is in this answer only (the gateway keeps a keyed hash)."""
    client, secret = await add_client(session, body, registry=state.registry, access=state.access)
    response.headers.update({**NO_STORE, "Location": f"{request.url.path}/{client.client_id}"})
    detail = await describe_client(session, client)
    request_state(request.scope).admin = administration.client_created(detail)
    return ClientCreated(**detail.model_dump(), client_secret=secret)


@router.get("", summary="List clients", responses=problem_responses(401, 403, 422))
async def get_clients(
    session: SessionDep, status: Annotated[ClientStatus | None, Query(description="Only these.")] = None
) -> list[ClientPublic]:
    """Every client, by id (never a secret or its hash)."""
    return [ClientPublic.model_validate(c) for c in await list_clients(session, status=status)]


@router.get("/{client_id}", summary="Show a client", responses=problem_responses(401, 403, 404))
async def get_client(client_id: ClientIdPath, session: SessionDep) -> ClientDetail:
    """A client with its grants (revoked ones included), the scopes a token would carry now, and its secrets'
    dates."""
    return await describe_client(session, await require_client(session, client_id))


@router.patch("/{client_id}", summary="Change a client", responses=problem_responses(401, 403, 404, 409, 422))
async def patch_client(
    client_id: ClientIdPath, body: ClientUpdate, request: Request, session: AdminSessionDep, state: StateDep
) -> ClientDetail:
    """Change the members given (name, agency code, contact, non-data scopes, rate limits); null clears one.
    409 when it would take the `admin` scope from the last active client holding it."""
    client = await require_client(session, client_id)
    before = administration.client_values(client)
    await update_client(session, client, body, access=state.access, keep_an_admin=True)
    request_state(request.scope).admin = administration.client_updated(
        client.client_id, body.model_fields_set, before, administration.client_values(client)
    )
    return await describe_client(session, client)


@router.post("/{client_id}/suspend", summary="Suspend a client", responses=problem_responses(401, 403, 404, 409))
async def suspend_client(
    client_id: ClientIdPath, request: Request, session: AdminSessionDep, state: StateDep
) -> ClientDetail:
    """Its tokens stop working at once, in every gateway process; no new token is issued. 409 for the last active
    client holding the `admin` scope (the admin API would refuse every request after it)."""
    client = await require_client(session, client_id)
    previous = client.status
    await set_status(session, client, ClientStatus.SUSPENDED, access=state.access, keep_an_admin=True)
    request_state(request.scope).admin = administration.status_set(client.client_id, client.status, previous)
    return await describe_client(session, client)


@router.post("/{client_id}/activate", summary="Reactivate a client", responses=problem_responses(401, 403, 404))
async def activate_client(
    client_id: ClientIdPath, request: Request, session: AdminSessionDep, state: StateDep
) -> ClientDetail:
    """Its unexpired tokens work again, and it may obtain new ones."""
    client = await require_client(session, client_id)
    previous = client.status
    await set_status(session, client, ClientStatus.ACTIVE, access=state.access)
    request_state(request.scope).admin = administration.status_set(client.client_id, client.status, previous)
    return await describe_client(session, client)


@router.post("/{client_id}/secret", summary="Rotate a client's secret", responses=problem_responses(401, 403, 404, 422))
async def rotate_secret(
    client_id: ClientIdPath,
    request: Request,
    response: Response,
    session: AdminSessionDep,
    state: StateDep,
    body: Annotated[SecretRotation | None, Body()] = None,
) -> SecretRotated:
    """A new secret, in this answer only; the current ones keep working for ``overlap_seconds`` (0: they stop
    at once), and so do the tokens obtained with them: a leaked secret's tokens end with it."""
    client = await require_client(session, client_id)
    rotation = body or SecretRotation()
    rotated = await rotate_client_secret(session, client, rotation, access=state.access)
    request_state(request.scope).admin = administration.secret_rotated(
        client.client_id, rotation.overlap_seconds, rotated.previous_secrets_expire_at
    )
    response.headers.update(NO_STORE)
    return rotated
