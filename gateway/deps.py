"""Typed FastAPI dependencies, all in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from sqlmodel.ext.asyncio.session import AsyncSession

from . import metrics
from .problems import InsufficientScope, InvalidToken
from .security.tokens import Principal, TokenRejected
from .state import GatewayState

oauth2_client_credentials = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token", scopes={})),
    scheme_name="client_credentials",
    description="OAuth 2.0 client-credentials grant; send the token as `Authorization: Bearer <token>`.",
    auto_error=False,
)


async def get_state(request: Request) -> GatewayState:
    """The running gateway's state (async: a plain function would cost a thread hop per request)."""
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    async with state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _reject(reason: str) -> InvalidToken:
    metrics.AUTH_FAILURES.labels(reason).inc()
    return InvalidToken(reason)


async def authenticate(
    security_scopes: SecurityScopes,
    request: Request,
    state: StateDep,
    authorization: Annotated[str | None, Depends(oauth2_client_credentials)],
) -> Principal:
    """The caller of a request, from its bearer token, holding every scope the route requires.

    401 with ``WWW-Authenticate: Bearer error="invalid_token"`` for a missing or invalid token, 403 when a
    scope is missing.
    """
    if not authorization:
        raise _reject("missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _reject("malformed")
    try:
        principal = state.tokens.verify(token.strip())
    except TokenRejected as exc:
        raise _reject(exc.reason) from None
    if not principal.has_scopes(security_scopes.scopes):
        raise InsufficientScope(security_scopes.scopes)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]
