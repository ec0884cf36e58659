"""The token endpoint: OAuth 2.0 client credentials (RFC 6749 4.4), checked with another JWT library."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from starlette.datastructures import Headers
from starlette.formparsers import FormParser
from support import ClientCredentials, fetch_token

from gateway.core.problems import OAuthError
from gateway.core.settings import Settings
from gateway.http.routes.oauth import FORM_FIELDS, TokenForm
from gateway.http.token_path import read_form


def _problem(response: httpx.Response, status: int, error: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"] == "/problems/oauth-error"
    assert body["error"] == error
    return dict(body)


def test_client_secret_basic_issues_a_verifiable_jwt(
    api: httpx.Client, reader: ClientCredentials, settings: Settings
) -> None:
    response = api.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(reader.client_id, reader.client_secret)
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert body["scope"] == "population:read population:search"

    # Verified with PyJWT against the published JWKS, fetched from the gateway.
    jwks = jwt.PyJWKSet.from_dict(api.get("/.well-known/jwks.json").json())
    header = jwt.get_unverified_header(body["access_token"])
    key = jwks[header["kid"]]
    assert header["alg"] == "ES256"
    assert header["kid"] == key.key_id
    claims = jwt.decode(
        body["access_token"],
        key.key,
        algorithms=["ES256"],
        audience=settings.token_audience,
        issuer=settings.token_issuer,
    )
    assert claims["sub"] == reader.client_id
    assert claims["scope"] == body["scope"]
    assert claims["exp"] - claims["iat"] == settings.token_ttl_seconds
    assert claims["jti"]


def test_client_secret_post(api: httpx.Client, reader: ClientCredentials) -> None:
    response = api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": reader.client_id,
            "client_secret": reader.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_basic_credentials_are_form_urlencoded(
    api: httpx.Client, make_client: Callable[..., ClientCredentials]
) -> None:
    # RFC 6749 2.3.1: id and secret are form-urlencoded before base64; '+' in an encoded secret is a space.
    credentials = make_client("population:read", client_id="agency.h41_client")
    raw = f"{credentials.client_id}:{credentials.client_secret}".replace("-", "%2D")
    header = "Basic " + base64.b64encode(raw.encode()).decode()
    response = api.post("/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": header})
    assert response.status_code == 200, response.text


def test_requested_scope_is_narrowed(api: httpx.Client, reader: ClientCredentials) -> None:
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "population:read"},
        auth=(reader.client_id, reader.client_secret),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "population:read"


def test_scope_beyond_the_client_is_refused(api: httpx.Client, reader: ClientCredentials) -> None:
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "population:read land:read"},
        auth=(reader.client_id, reader.client_secret),
    )
    body = _problem(response, 400, "invalid_scope")
    assert "land:read" in str(body["detail"])


def test_wrong_secret_is_invalid_client_with_basic_challenge(api: httpx.Client, reader: ClientCredentials) -> None:
    response = api.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(reader.client_id, "not-the-secret")
    )
    _problem(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_unknown_client_is_invalid_client(api: httpx.Client) -> None:
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x" * 43},
    )
    _problem(response, 401, "invalid_client")


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
    ],
)
def test_bad_grant_requests(
    api: httpx.Client, reader: ClientCredentials, data: dict[str, str], status: int, error: str
) -> None:
    response = api.post("/oauth/token", data=data, auth=(reader.client_id, reader.client_secret))
    _problem(response, status, error)


def test_two_authentication_methods_at_once_are_refused(api: httpx.Client, reader: ClientCredentials) -> None:
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": reader.client_secret},
        auth=(reader.client_id, reader.client_secret),
    )
    _problem(response, 400, "invalid_request")


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode()])
def test_malformed_basic_credentials(api: httpx.Client, header: str) -> None:
    response = api.post("/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": header})
    _problem(response, 401, "invalid_client")


def test_no_credentials(api: httpx.Client) -> None:
    response = api.post("/oauth/token", data={"grant_type": "client_credentials"})
    _problem(response, 401, "invalid_client")


def test_json_body_is_not_a_token_request(api: httpx.Client, reader: ClientCredentials) -> None:
    response = api.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        auth=(reader.client_id, reader.client_secret),
    )
    _problem(response, 400, "invalid_request")
    # Without HTTP Basic, the credentials in the JSON body: the answer names the body's type (it was a 401
    # "client authentication is required", which sent a newcomer looking at the credentials).
    response = api.post(
        "/oauth/token",
        json={"grant_type": "client_credentials", "client_id": reader.client_id, "client_secret": "x"},
    )
    _problem(response, 400, "invalid_request")
    assert "application/x-www-form-urlencoded" in response.json()["error_description"]


def test_suspended_client_gets_no_token(api: httpx.Client, make_client: Callable[..., ClientCredentials]) -> None:
    credentials = make_client("population:read")
    fetch_token(api, credentials)
    admin = {"Authorization": f"Bearer {fetch_token(api, make_client('admin'))}"}
    # Through the gateway: its cache of the client (and of its secrets' hashes) forgets it at once.
    assert api.post(f"/v1/admin/clients/{credentials.client_id}/suspend", headers=admin).status_code == 200
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
    )
    _problem(response, 401, "invalid_client")


def test_jwks_publishes_only_public_material(api: httpx.Client) -> None:
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "EC"
        assert key["crv"] == "P-256"
        assert key["use"] == "sig"
        assert key["alg"] == "ES256"
        assert "d" not in key


# -- the lean path (gateway.http.token_path) and the FastAPI route answer alike ---------------------------------------

FORMS = [
    b"grant_type=client_credentials",
    b"grant_type=password&grant_type=client_credentials",  # the last of a repeated field
    b"grant_type=client_credentials&scope=",  # an empty field is an absent one
    b"&&grant_type=client%5Fcredentials&&noeq&=v&scope=a+b%20c&%ZZ=%FF;x",
    b"client_id=%E1%BB%87&client_secret=%C3%A9\xe9&client_assertion_type=t&client_assertion=a.b.c",
    b"grant_type=x=y&scope==&client_id",
    b"",
]


@pytest.mark.anyio
@pytest.mark.parametrize("body", FORMS)
async def test_the_lean_path_reads_a_form_as_starlette_and_fastapi_do(body: bytes) -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield body

    headers = Headers({"content-type": "application/x-www-form-urlencoded"})
    parsed = await FormParser(headers, stream()).parse()
    # FastAPI's Form: the value Starlette keeps for the name (the last), an empty one as absent; the route notes
    # the first field repeated.
    values = {name: parsed.get(name) or None for name in FORM_FIELDS}
    repeated = next((name for name in FORM_FIELDS if len(parsed.getlist(name)) > 1), None)
    assert read_form(body) == TokenForm(**values, repeated=repeated)


@pytest.mark.parametrize(
    ("form", "repeated"),
    [
        ({"grant_type": ["password", "client_credentials"]}, "grant_type"),
        ({"grant_type": "client_credentials", "scope": ["population:read", "admin"]}, "scope"),
        ({"grant_type": "client_credentials", "client_id": ["someone-else", "{reader}"]}, "client_id"),
        ({"grant_type": "client_credentials", "scope": ["", "population:read"]}, "scope"),
    ],
)
@pytest.mark.parametrize("multipart", [False, True])
def test_a_repeated_parameter_is_invalid_request(
    api: httpx.Client, reader: ClientCredentials, form: dict[str, object], repeated: str, multipart: bool
) -> None:
    """RFC 6749 section 3.2: each parameter at most once; which value counts is not for the gateway to guess (a
    proxy in front may have checked the other), on the lean path and on the route alike."""
    pairs = [
        (name, str(value).replace("{reader}", reader.client_id))
        for name, values in form.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    auth = (reader.client_id, reader.client_secret)
    if multipart:
        response = api.post("/oauth/token", files=[(name, (None, value)) for name, value in pairs], auth=auth)
    else:
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        response = api.post("/oauth/token", content=urlencode(pairs), headers=form_type, auth=auth)
    body = _problem(response, 400, "invalid_request")
    assert repeated in str(body["error_description"])


def test_two_authorization_headers_are_invalid_request(api: httpx.Client, reader: ClientCredentials) -> None:
    good = "Basic " + base64.b64encode(f"{reader.client_id}:{reader.client_secret}".encode()).decode()
    bad = "Basic " + base64.b64encode(f"{reader.client_id}:wrong".encode()).decode()
    for pair in ([good, bad], [bad, good]):
        headers = [("Authorization", value) for value in pair]
        lean = api.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=headers)
        _problem(lean, 400, "invalid_request")
        routed = api.post("/oauth/token", files={"grant_type": (None, "client_credentials")}, headers=headers)
        _problem(routed, 400, "invalid_request")


def test_more_fields_than_starlette_accepts_are_left_to_it() -> None:
    assert read_form(b"&".join([b"x=1"] * 1000)) is not None
    assert read_form(b"&".join([b"x=1"] * 1001)) is None
    assert read_form(b"&&&" * 1001 + b"x=1") is not None  # empty chunks are no fields


def test_the_route_answers_as_its_lean_path(api: httpx.Client, reader: ClientCredentials) -> None:
    """multipart/form-data reaches the FastAPI route, a form-urlencoded body the lean path: the same answers."""
    auth = (reader.client_id, reader.client_secret)
    for data, status in (
        ({"grant_type": "client_credentials"}, 200),
        ({"grant_type": "client_credentials", "scope": "land:read"}, 400),
        ({"grant_type": "password"}, 400),
    ):
        lean = api.post("/oauth/token", data=data, auth=auth)
        routed = api.post("/oauth/token", files={k: (None, v) for k, v in data.items()}, auth=auth)
        assert lean.status_code == routed.status_code == status
        skip = {"date", "x-request-id", "content-length"}
        assert [h for h in lean.headers.multi_items() if h[0] not in skip] == [
            h for h in routed.headers.multi_items() if h[0] not in skip
        ]
        if status == 200:
            assert lean.json().keys() == routed.json().keys()
            assert {k: v for k, v in lean.json().items() if k != "access_token"} == {
                k: v for k, v in routed.json().items() if k != "access_token"
            }
        else:
            assert lean.json() == routed.json()
    refused = api.post(
        "/oauth/token",
        content=b"&".join([b"x=1"] * 1001),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=auth,
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"


def test_the_token_is_encoded_as_jwt_libraries_encode_it(api: httpx.Client, reader: ClientCredentials) -> None:
    """Its header and claims are byte for byte PyJWT's encoding of the same header and claims."""
    token = fetch_token(api, reader)
    header, claims = jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    again = jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": header["kid"], "typ": "at+jwt"})
    assert token.split(".")[1] == again.split(".")[1]
    expected_header = {"alg": "ES256", "kid": header["kid"], "typ": "at+jwt"}
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")) == expected_header
    assert (
        token.split(".")[0]
        == base64.urlsafe_b64encode(json.dumps(expected_header, separators=(",", ":")).encode()).rstrip(b"=").decode()
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("messages", "lean"),
    [
        (
            [{"type": "http.request", "body": b"grant_type=client_", "more_body": True}, {"type": "http.disconnect"}],
            False,
        ),
        ([{"type": "http.request", "body": b"&x=1" * 1001}], False),
        (
            [
                {"type": "http.request", "body": b"grant_type=", "more_body": True},
                {"type": "http.request", "body": b"x"},
            ],
            True,
        ),
    ],
)
async def test_the_lean_path_leaves_a_cut_or_oversized_form_to_the_route(
    messages: list[dict[str, object]], lean: bool
) -> None:
    """The route then gets the body as it came, and the message that ended it."""
    from gateway.http.token_path import TokenPathMiddleware

    queue = list(messages)
    routed: list[list[dict[str, object]]] = []

    async def receive() -> dict[str, object]:
        return queue.pop(0)

    async def route(scope: object, receive: Callable[[], object], send: object) -> None:
        got = [await receive()]  # type: ignore[misc]
        while got[-1]["type"] == "http.request" and got[-1].get("more_body"):
            got.append(await receive())  # type: ignore[misc]
        routed.append(got)

    answered: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        answered.append(message)

    class Refusing:
        tokens = token_guard = access = None

    middleware = TokenPathMiddleware(route, state=Refusing(), exception_handlers={})  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/oauth/token",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 1),
    }
    if lean:
        # Answered by the lean path (no exception handlers here: its refusal propagates).
        with pytest.raises(OAuthError, match="Client authentication is required"):
            await middleware(scope, receive, send)
        assert routed == []
        return
    await middleware(scope, receive, send)
    if messages[-1]["type"] == "http.disconnect":
        assert routed == [[{"type": "http.disconnect"}]]  # as the request limits replay a body cut short
    else:
        assert routed == [[{"type": "http.request", "body": messages[0]["body"], "more_body": False}]]
