"""The OAuth 2.0 client-credentials grant (RFC 6749 section 4.4), the client authenticated by a secret
(``client_secret_basic``, ``client_secret_post``) or by a signed assertion (``private_key_jwt``, RFC 7523)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from dataclasses import dataclass
from urllib.parse import unquote_plus

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.logs import get_logger
from gateway.core.problems import OAuthError
from gateway.identity.access import AccessControl, ClientAccess, load_access
from gateway.identity.client_keys import AssertionFailed, authenticate_assertion
from gateway.identity.clients import authenticate_client_secret
from gateway.identity.models import Client
from gateway.identity.ratelimits import TokenGuard
from gateway.identity.tokens import (
    CLIENT_ASSERTION_TYPE,
    IssuedToken,
    TokenRejected,
    TokenService,
    credential_of_key,
    credential_of_secret,
)

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="axis-gateway"'}


async def _not_before(started: float, floor: float) -> None:
    """Wait until ``floor`` seconds have passed since ``started`` (``time.monotonic``): a failed authentication is
    answered no sooner, whatever made it fail. An unknown client id costs a database read where a known one is
    answered from the access cache; without the floor, the answer's delay told which client ids exist."""
    remaining = started + floor - time.monotonic()
    if remaining > 0:
        await asyncio.sleep(remaining)


log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """Credentials presented at the token endpoint and how (``client_secret_basic`` or ``_post``)."""

    client_id: str
    client_secret: str
    method: str


def read_client_credentials(
    authorization: str | None, client_id: str | None, client_secret: str | None
) -> ClientCredentials:
    """Take the client's credentials from HTTP Basic (form-urlencoded, RFC 6749 2.3.1) or from the body.

    Using both methods at once, or neither, is an ``invalid_request``/``invalid_client`` error.
    """
    if authorization and authorization[:6].lower() == "basic ":
        if client_secret is not None:
            raise OAuthError("invalid_request", "Use one client authentication method, not two.")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, ValueError):  # ValueError: non-ASCII input; UnicodeDecodeError is one too
            raise OAuthError(
                "invalid_client", "Malformed Basic credentials.", status=401, headers=BASIC_CHALLENGE
            ) from None
        raw_id, sep, raw_secret = decoded.partition(":")
        if not sep or (client_id is not None and client_id != unquote_plus(raw_id)):
            raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401, headers=BASIC_CHALLENGE)
        return ClientCredentials(unquote_plus(raw_id), unquote_plus(raw_secret), "client_secret_basic")
    if client_id and client_secret:
        return ClientCredentials(client_id, client_secret, "client_secret_post")
    raise OAuthError("invalid_client", "Client authentication is required.", status=401, headers=BASIC_CHALLENGE)


async def issue_client_token(
    session: AsyncSession | None,
    tokens: TokenService,
    *,
    grant_type: str | None,
    credentials: ClientCredentials,
    requested_scope: str | None,
    guard: TokenGuard | None = None,
    address: str | None = None,
    cache: AccessControl | None = None,
    failure_floor: float = 0.0,
) -> IssuedToken:
    """Authenticate the client and issue a token with the requested scopes (all of its scopes by default).
    With ``cache`` (the gateway's access cache) the client, its grants and its secrets' hashes come from it, and
    ``session`` may be ``None`` (one is opened from the cache's sessionmaker if a secret must be re-stored).

    With a ``guard``, a client id or an ``address`` that has failed too often is refused (429) before its
    secret is checked, and a failure counts against both. A failed authentication is answered no sooner than
    ``failure_floor`` seconds after its check began, so that its delay does not tell whether the client exists."""
    if grant_type is None:
        raise OAuthError("invalid_request", "The grant_type parameter is required.")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only the client_credentials grant is supported.")
    if guard is not None:
        await guard.check(credentials.client_id, address)
    started = time.monotonic()
    found = await authenticate_client_secret(
        session, client_id=credentials.client_id, client_secret=credentials.client_secret, access=cache
    )
    if found is None:
        if guard is not None:
            await guard.failed(credentials.client_id, address)
        metrics.AUTH_FAILURES.labels("invalid_client").inc()
        headers = BASIC_CHALLENGE if credentials.method == "client_secret_basic" else None
        await _not_before(started, failure_floor)
        raise OAuthError("invalid_client", "Client authentication failed.", status=401, headers=headers)
    access, secret_id = found
    if guard is not None:
        await guard.issued(access.client_id)
    return issue_token_with(tokens, access, requested_scope=requested_scope, credential=credential_of_secret(secret_id))


async def issue_token_for(
    session: AsyncSession,
    tokens: TokenService,
    client: Client,
    *,
    requested_scope: str | None = None,
    credential: str | None = None,
) -> IssuedToken:
    """Issue a token for an authenticated client: its non-data scopes and one ``database:operation`` scope
    per grant in force, narrowed to ``requested_scope`` when given. ``credential`` names what the client
    authenticated with: the token stops working with it."""
    access = await load_access(session, client.client_id)
    if access is None:
        access = ClientAccess(client_id=client.client_id, active=False, scopes=frozenset(), grants=())
    return issue_token_with(tokens, access, requested_scope=requested_scope, credential=credential)


def issue_token_with(
    tokens: TokenService, access: ClientAccess, *, requested_scope: str | None = None, credential: str | None = None
) -> IssuedToken:
    """:func:`issue_token_for` with the client's access already loaded."""
    allowed = access.token_scopes(utcnow())
    if requested_scope is None or not requested_scope.strip():
        scopes = allowed
    else:
        scopes = list(dict.fromkeys(requested_scope.split()))
        refused = [s for s in scopes if s not in allowed]
        if refused:
            raise OAuthError("invalid_scope", f"Scope not allowed for this client: {' '.join(refused)}")
    metrics.TOKENS_ISSUED.inc()
    return tokens.issue(subject=access.client_id, scopes=scopes, credential=credential)


def read_client_assertion(
    authorization: str | None,
    client_secret: str | None,
    assertion_type: str | None,
    assertion: str | None,
) -> str:
    """The client assertion of a ``private_key_jwt`` token request. An assertion together with a secret
    (HTTP Basic or ``client_secret``) is ``invalid_request``, as is a missing or unknown assertion type."""
    if (authorization and authorization[:6].lower() == "basic ") or client_secret is not None:
        raise OAuthError("invalid_request", "Use one client authentication method, not two.")
    if assertion_type != CLIENT_ASSERTION_TYPE:
        raise OAuthError("invalid_request", f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}.")
    if not assertion:
        raise OAuthError("invalid_request", "The client_assertion parameter is required.")
    return assertion


_ASSERTION_FAILURE_METRIC = {"unknown_client": "invalid_client", "client_inactive": "invalid_client"}


async def issue_assertion_token(
    session: AsyncSession,
    tokens: TokenService,
    *,
    grant_type: str | None,
    assertion: str,
    client_id: str | None,
    requested_scope: str | None,
    guard: TokenGuard | None = None,
    address: str | None = None,
    failure_floor: float = 0.0,
) -> IssuedToken:
    """Authenticate the client by its assertion (``private_key_jwt``) and issue a token as for a secret. Any
    failure is ``invalid_client`` (401), whatever the reason (the reason is counted and logged). A ``guard``
    counts failures and refuses as for a secret, by the client id the assertion claims; a failure is answered no
    sooner than ``failure_floor`` seconds after the check began, as for a secret."""
    if grant_type is None:
        raise OAuthError("invalid_request", "The grant_type parameter is required.")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only the client_credentials grant is supported.")
    claimed = client_id or _claimed_by(tokens, assertion)
    if guard is not None:
        await guard.check(claimed, address)
    started = time.monotonic()
    try:
        client, kid = await authenticate_assertion(session, tokens, assertion)
        if client_id is not None and client_id != client.client_id:
            raise AssertionFailed("client_id_mismatch", client.client_id)
    except AssertionFailed as exc:
        reason = "replayed_assertion" if exc.reason == "replayed" else "invalid_assertion"
        label = _ASSERTION_FAILURE_METRIC.get(exc.reason, reason)
        metrics.AUTH_FAILURES.labels(label).inc()
        log.info("client assertion refused", reason=exc.reason, client_id=exc.client_id)
        if guard is not None:
            await guard.failed(claimed, address)
        await _not_before(started, failure_floor)
        raise OAuthError("invalid_client", "Client authentication failed.", status=401, reason=label) from None
    if guard is not None:
        await guard.issued(client.client_id)
    return await issue_token_for(
        session, tokens, client, requested_scope=requested_scope, credential=credential_of_key(kid)
    )


def _claimed_by(tokens: TokenService, assertion: str) -> str | None:
    try:
        return tokens.assertion_client_id(assertion)
    except TokenRejected:
        return None
