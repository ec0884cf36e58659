"""Admin routes: clients' public keys (for ``private_key_jwt``) and the gateway's own signing keys."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response

from gateway.audit import administration
from gateway.core.problems import Conflict, NotFound
from gateway.http.deps import ADMIN_ONLY, AdminSessionDep, SessionDep, StateDep
from gateway.http.openapi import problem_responses
from gateway.identity.client_keys import (
    KID_PATTERN,
    ClientKeyPublic,
    ClientKeyRegistration,
    list_client_keys,
    register_client_key,
    revoke_client_key,
)
from gateway.identity.grants import CLIENT_ID_PATTERN, invalid
from gateway.identity.models import ClientKey
from gateway.identity.request_state import request_state
from gateway.identity.signing_keys import (
    Rotation,
    SigningKeyPublic,
    SigningKeyUnavailable,
    describe_signing_keys,
)
from gateway.identity.signing_keys import rotate_signing_key as rotate

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=ADMIN_ONLY)

ClientIdPath = Annotated[str, Path(max_length=64, description="The client id.")]
KidPath = Annotated[str, Path(max_length=64, description="The key id.")]


def _known_client_id(client_id: str) -> str:
    """``client_id``, or 404 when it cannot be a client's (before it reaches the database: PostgreSQL refuses
    NUL)."""
    if not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise NotFound("There is no client with this id.")
    return client_id


@router.post(
    "/clients/{client_id}/keys",
    status_code=201,
    summary="Register a client's public key",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def register_key(
    client_id: ClientIdPath, body: ClientKeyRegistration, request: Request, response: Response, session: AdminSessionDep
) -> ClientKeyPublic:
    """A PEM public key, a PEM certificate (its expiry bounds the key) or a JWK, with which the client signs its
    `private_key_jwt` assertions. Only public material is accepted."""
    material = body.pem if body.pem is not None else body.jwk
    assert material is not None
    own_kid = body.jwk.get("kid") if body.jwk is not None and body.kid is None else None
    if isinstance(own_kid, str) and not KID_PATTERN.fullmatch(own_kid):  # a trailing line break, say
        raise invalid(["kid"], "The key's own id is not 1-64 printable ASCII characters; give one.", "kid")
    key = await register_client_key(
        session, _known_client_id(client_id), material, kid=body.kid, algorithm=body.algorithm
    )
    request_state(request.scope).admin = administration.key_registered(key)
    response.headers["Location"] = f"{request.url.path}/{quote(key.kid, safe='')}"
    return ClientKeyPublic.model_validate(key)


@router.get("/clients/{client_id}/keys", summary="List a client's keys", responses=problem_responses(401, 403, 404))
async def get_keys(client_id: ClientIdPath, session: SessionDep) -> list[ClientKeyPublic]:
    """The client's keys, oldest first, revoked ones included."""
    return [ClientKeyPublic.model_validate(key) for key in await list_client_keys(session, _known_client_id(client_id))]


@router.delete(
    "/clients/{client_id}/keys/{kid:path}",
    status_code=204,
    summary="Revoke a client's key",
    responses=problem_responses(401, 403, 404),
)
async def revoke_key(
    client_id: ClientIdPath, kid: KidPath, request: Request, session: AdminSessionDep, state: StateDep
) -> Response:
    """Assertions signed by this key are refused from now on, and the tokens obtained with it stop working."""
    if "\x00" in kid:  # no key id holds NUL (PostgreSQL could not store it)
        raise NotFound("There is no such key for this client.")
    found = await session.get(ClientKey, kid)
    already = found is not None and found.revoked_at is not None
    key = await revoke_client_key(session, kid, client_id=_known_client_id(client_id), access=state.access)
    request_state(request.scope).admin = administration.key_revoked(key, already=already)
    return Response(status_code=204)


@router.get("/signing-keys", summary="List the gateway's signing keys", responses=problem_responses(401, 403))
async def get_signing_keys(session: SessionDep, state: StateDep) -> list[SigningKeyPublic]:
    """Every key that has signed the gateway's tokens, newest first: the active one, and retired ones with the
    moment they leave the JWKS."""
    return await describe_signing_keys(session, state.settings)


@router.post(
    "/signing-keys/rotate",
    status_code=201,
    summary="Rotate the gateway's signing key",
    responses=problem_responses(401, 403, 409),
)
async def rotate_signing_key(request: Request, session: AdminSessionDep, state: StateDep) -> Rotation:
    """A new key, stored in the database with its private part encrypted, signs from now on (in every gateway
    process at once on PostgreSQL, else within `GATEWAY_SIGNING_KEY_REFRESH_SECONDS`); the previous key stays in
    the JWKS until the tokens it signed have expired. 409 when this process's data key does not decrypt the active
    key (it would store a key no process could use)."""
    signing_keys = state.signing_keys
    try:
        rotation = await rotate(session, state.settings, signing_keys.data_keys)
    except SigningKeyUnavailable:
        raise Conflict(
            "This gateway's data key does not decrypt the active signing key: a new key now would be one no "
            "process could use. Give every process the same data key first."
        ) from None
    current = request_state(request.scope)
    current.admin = administration.signing_key_rotated(rotation)
    if current.held is not None:  # this process signs with the new key once it is committed
        current.held.after_commit(lambda _event: signing_keys.refresh())
    else:
        await signing_keys.refresh()
    return rotation
