"""``POST /oauth/token``: the OAuth 2.0 token endpoint (client-credentials grant)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Form, Header, Request, Response
from pydantic import BaseModel, Field

from gateway.core.problems import OAuthError
from gateway.http.deps import StateDep
from gateway.http.openapi import problem_responses
from gateway.identity.client_credentials import (
    issue_assertion_token,
    issue_client_token,
    read_client_assertion,
    read_client_credentials,
)

if TYPE_CHECKING:
    from gateway.http.state import GatewayState
    from gateway.identity.tokens import IssuedToken

router = APIRouter(tags=["auth"])

#: The media types a token request's body may have: a form (RFC 6749 section 4.4.2), as FastAPI reads one.
_FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

#: The headers of every token answer besides its content type (RFC 6749 section 5.1).
TOKEN_HEADERS = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))


@dataclass(frozen=True, slots=True)
class TokenForm:
    """The form fields of a token request (``None``: absent or empty), and the first of them the request repeats
    (or ``Authorization`` for a repeated header): RFC 6749 section 3.2 allows each once, so such a request is
    ``invalid_request`` (which of the values counts is not for the gateway to guess: a proxy may have read
    another)."""

    grant_type: str | None = None
    scope: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None
    repeated: str | None = None


#: The form fields of a token request (``repeated`` is not one).
FORM_FIELDS = ("grant_type", "scope", "client_id", "client_secret", "client_assertion_type", "client_assertion")


async def token_answer(
    state: GatewayState, form: TokenForm, *, authorization: str | None, address: str | None
) -> IssuedToken:
    """The token a request obtains, or the problem raised: the route's work, shared with its lean path
    (:mod:`gateway.http.token_path`). A database session is opened only when needed (client assertions, an
    earlier form of secret to re-store): a secret is checked against the access cache."""
    if form.repeated == "Authorization":
        raise OAuthError("invalid_request", "The Authorization header is repeated: send it once.")
    if form.repeated is not None:
        parameter = form.repeated
        raise OAuthError("invalid_request", f"The {parameter} parameter is repeated: send it once.")
    if form.client_assertion is not None or form.client_assertion_type is not None:
        assertion = read_client_assertion(
            authorization, form.client_secret, form.client_assertion_type, form.client_assertion
        )
        async with state.sessionmaker() as session:
            return await issue_assertion_token(
                session,
                state.tokens,
                grant_type=form.grant_type,
                assertion=assertion,
                client_id=form.client_id,
                requested_scope=form.scope,
                guard=state.token_guard,
                address=address,
                failure_floor=state.settings.token_failure_floor_seconds,
            )
    credentials = read_client_credentials(authorization, form.client_id, form.client_secret)
    return await issue_client_token(
        None,
        state.tokens,
        grant_type=form.grant_type,
        credentials=credentials,
        requested_scope=form.scope,
        guard=state.token_guard,
        address=address,
        cache=state.access,
        failure_floor=state.settings.token_failure_floor_seconds,
    )


class TokenResponse(BaseModel):
    """A successful token response (RFC 6749 section 5.1)."""

    access_token: str = Field(description="A JWT signed by the gateway; see /.well-known/jwks.json.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="Space-separated scopes granted, e.g. `population:read`.")


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="Obtain an access token (client credentials)",
    responses=problem_responses(400, 401, 429),
)
async def issue_token(
    request: Request,
    response: Response,
    state: StateDep,
    grant_type: Annotated[str | None, Form(description="Must be `client_credentials`.")] = None,
    scope: Annotated[str | None, Form(description="Space-separated scopes; all allowed ones if absent.")] = None,
    client_id: Annotated[str | None, Form(description="For client_secret_post.")] = None,
    client_secret: Annotated[str | None, Form(description="For client_secret_post.")] = None,
    client_assertion_type: Annotated[
        str | None,
        Form(description="For private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`."),
    ] = None,
    client_assertion: Annotated[
        str | None,
        Form(
            description="For private_key_jwt (RFC 7523): a JWT signed by a key registered for the client, with "
            "`iss` = `sub` = the client id, `aud` the gateway's issuer identifier or token endpoint URL, a "
            "`jti` used once, and `exp` at most `GATEWAY_CLIENT_ASSERTION_MAX_SECONDS` (300) away."
        ),
    ] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> TokenResponse:
    """Client credentials by HTTP Basic (`client_secret_basic`), in the form body (`client_secret_post`), or as
    a signed assertion (`private_key_jwt`). A client id or an address with too many failed requests in the
    last minutes is refused (429 `too-many-failures`, with `Retry-After`) before its credentials are checked."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type and content_type not in _FORMS:
        # A JSON body (the commonest mistake) would otherwise be read as a form without fields: a 401 "client
        # authentication is required" that names the wrong cause.
        raise OAuthError(
            "invalid_request",
            "A token request is a form: send it with Content-Type: application/x-www-form-urlencoded "
            "(RFC 6749 section 4.4.2), not as JSON or another type.",
        )
    fields = await request.form()  # read already (FastAPI's Form), so no second read
    repeated = next((name for name in FORM_FIELDS if len(fields.getlist(name)) > 1), None)
    if repeated is None and len(request.headers.getlist("authorization")) > 1:
        repeated = "Authorization"
    form = TokenForm(grant_type, scope, client_id, client_secret, client_assertion_type, client_assertion, repeated)
    address = request.client.host if request.client is not None else None
    issued = await token_answer(state, form, authorization=authorization, address=address)
    response.headers.update({name.decode(): value.decode() for name, value in TOKEN_HEADERS})
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope)
