"""Typed FastAPI dependencies, all in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.audit.administration import HeldChange
from gateway.audit.events import PendingEvent
from gateway.core import metrics
from gateway.core.db import one_transaction_sessionmaker, utcnow
from gateway.core.problems import BadHeader, InsufficientScope, InvalidToken
from gateway.http.state import GatewayState
from gateway.identity.access import (
    ACTOR_HEADER,
    HEADER_VALUE,
    NON_DATA_SCOPES,
    PURPOSE_HEADER,
    ClientAccess,
    Decision,
    decide,
    header_value,
)
from gateway.identity.request_state import request_state
from gateway.identity.tokens import Principal, TokenRejected

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


async def get_admin_session(request: Request, state: StateDep) -> AsyncIterator[AsyncSession]:
    """The session of an admin request that changes something. With the audit trail on, its commits only flush:
    the audit hook commits the change with its event, or rolls it back (:class:`HeldChange`); the client it
    concerns is then loaded afresh in this process."""
    if not state.settings.audit_enabled:
        async with state.sessionmaker() as session:
            yield session
        return

    async def forget_target(event: PendingEvent) -> None:
        if event.target_client is not None:
            state.access.invalidate(event.target_client)

    async with one_transaction_sessionmaker(state.engine)() as held:
        request_state(request.scope).held = HeldChange(held, forget_target)
        yield held


AdminSessionDep = Annotated[AsyncSession, Depends(get_admin_session)]


def _reject(reason: str) -> InvalidToken:
    # The reason is counted, and recorded in the audit trail (InvalidToken.reason); the answer never says it.
    metrics.AUTH_FAILURES.labels(reason).inc()
    return InvalidToken(reason)


def _bearer_token(request: Request, authorization: str | None) -> str:
    """The bearer token of the request's one ``Authorization`` header; 401 when there is none, or another scheme,
    or more than one such header (which one counts is not for the gateway to guess: a proxy in front may have
    read another)."""
    if not authorization:
        raise _reject("missing")
    if sum(1 for name, _value in request.scope["headers"] if name == b"authorization") > 1:
        raise _reject("malformed")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _reject("malformed")
    return token


async def _with_credential(state: GatewayState, principal: Principal, access: ClientAccess) -> ClientAccess:
    """The client's access once the credential the gateway's token was obtained with is found in force: a token
    lasts no longer than its secret or key, so a rotation (once its overlap ends), a revoked key or an expired
    certificate ends it too, as suspension does (401 otherwise)."""
    if not access.knows_credential(principal.credential):
        # Added since this access was loaded (another process issued the token): read it again, once.
        state.access.invalidate(principal.client_id)
        reloaded = await state.access.get(principal.client_id)
        if reloaded is None:
            raise _reject("unknown_client")
        access = reloaded
    if not access.active:
        raise _reject("client_inactive")
    if not access.credential_in_force(principal.credential, utcnow()):
        raise _reject("credential_revoked")
    return access


async def authorize(
    request: Request, state: GatewayState, authorization: str | None, scopes: Sequence[str]
) -> Principal:
    """The caller of a request, from its bearer token (the ``Authorization`` header), holding every scope in
    ``scopes``: the checks of :func:`authenticate`, shared by the data routes' lean path
    (:mod:`gateway.http.data_path`).

    401 with ``WWW-Authenticate: Bearer error="invalid_token"`` for a missing or invalid token, or when the
    client is unknown or suspended (checked on every request, so suspension takes effect at once); 403 when a
    scope is missing. The non-data scopes (``admin``, ``audit``, ``axis``) a token carries count only while the
    client still holds them, so removing one takes effect at once too.
    """
    try:
        principal = await state.tokens.verify_async(_bearer_token(request, authorization))
    except TokenRejected as exc:
        raise _reject(exc.reason) from None
    known = request_state(request.scope)
    # Whatever is refused from here on (an unknown or suspended client, the rate limit, a scope), the audit trail
    # names the client whose token it was.
    known.token_client = principal.client_id
    access = await state.access.get(principal.client_id)
    if access is None:
        raise _reject("unknown_client")
    if not access.active:
        raise _reject("client_inactive")
    if principal.credential:
        access = await _with_credential(state, principal, access)
    # Counted once, even if a route authenticates twice.
    if known.rate_limit is None:
        # 429 past the client's rate limit; the status becomes RateLimit-* headers on the answer.
        known.rate_limit = await state.limiter.admit(access)
    if principal.external:
        # A trusted issuer's token acts for the client with the client's own grants, not with its scope claim; an
        # issuer that names no clients speaks for their data only, never with their admin, audit or axis scope.
        granted = access.token_scopes(utcnow())
        principal = principal.with_scopes(
            [scope for scope in granted if scope not in NON_DATA_SCOPES] if principal.data_only else granted
        )
    elif not principal.scopes.isdisjoint(NON_DATA_SCOPES - access.scopes):
        # A non-data scope (admin, audit, axis) holds only while the client still has it: removing it ends it
        # at once for the tokens issued before, as suspension does.
        principal = principal.with_scopes(principal.scopes - (NON_DATA_SCOPES - access.scopes))
    known.principal = principal
    known.access = access
    if not principal.has_scopes(scopes):
        raise InsufficientScope(scopes)
    return principal


async def authenticate(
    security_scopes: SecurityScopes,
    request: Request,
    state: StateDep,
    authorization: Annotated[str | None, Depends(oauth2_client_credentials)],
) -> Principal:
    """The caller of a request holding every scope the route requires (see :func:`authorize`)."""
    return await authorize(request, state, authorization, security_scopes.scopes)


PrincipalDep = Annotated[Principal, Depends(authenticate)]

# Route dependencies of the admin, audit and axis routers.
ADMIN_ONLY = [Security(authenticate, scopes=["admin"])]
AUDIT_ONLY = [Security(authenticate, scopes=["audit"])]
AXIS_ONLY = [Security(authenticate, scopes=["axis"])]


_PURPOSE_NAME, _ACTOR_NAME = PURPOSE_HEADER.lower().encode(), ACTOR_HEADER.lower().encode()


def _stated_once(request: Request) -> None:
    """400 naming ``X-Purpose`` or ``X-Actor-Id`` when a request gives it more than once: which one counts is not
    for the gateway to guess (a proxy or platform in front, and the logs it keeps, may have read the other), and
    a request is made for one procedure by one officer."""
    purposes = actors = 0
    for name, _value in request.scope["headers"]:
        if name == _PURPOSE_NAME:
            purposes += 1
        elif name == _ACTOR_NAME:
            actors += 1
    for count, header in ((purposes, PURPOSE_HEADER), (actors, ACTOR_HEADER)):
        if count > 1:
            raise BadHeader(f"The {header} header is given more than once: a request states one.", header=header)


def decide_data_access(
    request: Request, database: str, operation: str, purpose: str | None, actor: str | None
) -> Decision:
    """The grant decision of an authenticated data request (:func:`authorize` ran): 400 naming a malformed or
    missing ``X-Purpose``/``X-Actor-Id`` a grant requires, 403 when no grant in force allows the operation."""
    known = request_state(request.scope)
    access = known.access
    assert access is not None, "authorize() runs first"
    _stated_once(request)
    decision = decide(
        access,
        database=database,
        operation=operation,
        purpose=header_value(purpose, PURPOSE_HEADER),
        actor=header_value(actor, ACTOR_HEADER),
        now=utcnow(),
    )
    known.decision = decision
    return decision


def data_access(database: str, operation: str) -> Callable[..., Awaitable[Decision]]:
    """The dependency of a data route: a valid token with the ``database:operation`` scope, and a grant in
    force for the stated purpose and actor (``X-Purpose``, ``X-Actor-Id``)."""

    # Dependencies as default values: the annotations of this closure are strings (postponed evaluation) and
    # could not see ``database`` and ``operation``.
    token_with_scope = Security(authenticate, scopes=[f"{database}:{operation}"])
    purpose_header = Header(
        default=None,
        alias=PURPOSE_HEADER,
        json_schema_extra={"pattern": HEADER_VALUE.pattern},
        description="The public-service procedure the request is for (its code). Required by most grants.",
    )
    actor_header = Header(
        default=None,
        alias=ACTOR_HEADER,
        json_schema_extra={"pattern": HEADER_VALUE.pattern},
        description="The officer making the request (staff code or personal id). Required by most grants.",
    )

    async def decide_access(
        request: Request,
        principal: Principal = token_with_scope,
        x_purpose: str | None = purpose_header,
        x_actor_id: str | None = actor_header,
    ) -> Decision:
        return decide_data_access(request, database, operation, x_purpose, x_actor_id)

    return decide_access
