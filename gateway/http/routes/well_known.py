"""``GET /.well-known/jwks.json``: the public keys that verify the gateway's tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from gateway.http.deps import SessionDep, StateDep
from gateway.identity.signing_keys import published_keys

router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json", summary="The gateway's public signing keys (JWKS)")
async def jwks(response: Response, state: StateDep, session: SessionDep) -> dict[str, Any]:
    """Active keys, and retired ones until the tokens they signed have expired."""
    keys = await published_keys(session, token_ttl_seconds=state.settings.token_ttl_seconds)
    response.headers["Cache-Control"] = "public, max-age=300"
    return {"keys": keys}
