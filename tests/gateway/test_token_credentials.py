"""A token of the gateway lasts no longer than the credential it was obtained with, and other ways an attacker
holding a token, or a key, tries to keep or widen access: a secret rotated (after a suspension, too), a client key
revoked, a signing key withdrawn from the trusted set while its tokens sit in the verification cache, claims no
float can hold, two ``Authorization`` headers."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support import STATED, ClientCredentials, PlantedSearch, fetch_token

from gateway.core.db import standalone_session
from gateway.identity.client_keys import register_client_key
from gateway.identity.key_material import new_signing_key
from gateway.identity.tokens import AssertionRejected, TokenRejected, TokenService

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def admin(api: httpx.Client, make_client: Callable[..., ClientCredentials]) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(api, make_client('admin'))}"}


@pytest.fixture(scope="module")
def record_path(planted: PlantedSearch) -> str:
    return f"/v1/databases/population/records/{planted.personal_ids[0]}"


def read(api: httpx.Client, path: str, token: str) -> httpx.Response:
    return api.get(path, headers={"Authorization": f"Bearer {token}", **STATED})


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["type"] == "/problems/invalid-token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def rotate(api: httpx.Client, admin: dict[str, str], client_id: str, overlap: int) -> str:
    response = api.post(f"/v1/admin/clients/{client_id}/secret", headers=admin, json={"overlap_seconds": overlap})
    assert response.status_code == 200, response.text
    return str(response.json()["client_secret"])


# -- secrets -------------------------------------------------------------------------------------------------------


def test_rotating_a_secret_at_once_ends_the_tokens_it_obtained(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials], record_path: str
) -> None:
    # The secret leaked; whoever holds it holds a token too. Rotating it must end that token, not leave it a
    # quarter of an hour.
    client = make_client("population:read")
    stolen = fetch_token(api, client)
    assert read(api, record_path, stolen).status_code == 200
    fresh = ClientCredentials(client.client_id, rotate(api, admin, client.client_id, 0))
    assert_invalid_token(read(api, record_path, stolen))
    assert read(api, record_path, fetch_token(api, fresh)).status_code == 200


def test_tokens_of_the_previous_secret_work_during_the_overlap(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials], record_path: str
) -> None:
    client = make_client("population:read")
    before = fetch_token(api, client)
    rotate(api, admin, client.client_id, 3600)
    assert read(api, record_path, before).status_code == 200


def test_suspending_rotating_and_reactivating_does_not_revive_a_stolen_token(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials], record_path: str
) -> None:
    client = make_client("population:read")
    stolen = fetch_token(api, client)
    assert api.post(f"/v1/admin/clients/{client.client_id}/suspend", headers=admin).status_code == 200
    assert_invalid_token(read(api, record_path, stolen))
    fresh = ClientCredentials(client.client_id, rotate(api, admin, client.client_id, 0))
    assert api.post(f"/v1/admin/clients/{client.client_id}/activate", headers=admin).status_code == 200
    assert_invalid_token(read(api, record_path, stolen))
    assert read(api, record_path, fetch_token(api, fresh)).status_code == 200


# -- client keys ---------------------------------------------------------------------------------------------------


def _pem(private: ec.EllipticCurvePrivateKey) -> str:
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def _assertion(client_id: str, private: ec.EllipticCurvePrivateKey, kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": "axis-gateway", "iat": now, "exp": now + 60}
    body |= {"jti": secrets.token_urlsafe(16), **claims}
    return jwt.encode(body, private, algorithm="ES256", headers={"kid": kid})


def _assertion_token(api: httpx.Client, assertion: str) -> httpx.Response:
    return api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


def test_revoking_a_client_key_ends_the_tokens_it_obtained(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials], record_path: str
) -> None:
    client = make_client("population:read")
    keys = {}
    for name in ("stolen", "kept"):
        private = ec.generate_private_key(ec.SECP256R1())
        response = api.post(f"/v1/admin/clients/{client.client_id}/keys", headers=admin, json={"pem": _pem(private)})
        assert response.status_code == 201, response.text
        keys[name] = (private, response.json()["kid"])
    tokens = {}
    for name, (private, kid) in keys.items():
        issued = _assertion_token(api, _assertion(client.client_id, private, kid))
        assert issued.status_code == 200, issued.text
        tokens[name] = issued.json()["access_token"]
        assert read(api, record_path, tokens[name]).status_code == 200
    stolen_kid = keys["stolen"][1]
    assert api.delete(f"/v1/admin/clients/{client.client_id}/keys/{stolen_kid}", headers=admin).status_code == 204
    # At once in the process that revoked it; announced to the others as any change of the client is.
    assert_invalid_token(read(api, record_path, tokens["stolen"]))
    assert read(api, record_path, tokens["kept"]).status_code == 200


def test_a_token_of_a_key_registered_elsewhere_works_at_once(
    api: httpx.Client, make_client: Callable[..., ClientCredentials], record_path: str, gateway_database_url: str
) -> None:
    # The gateway knows the client already (its access is cached); the key is registered by another process.
    client = make_client("population:read")
    assert read(api, record_path, fetch_token(api, client)).status_code == 200
    private = ec.generate_private_key(ec.SECP256R1())

    async def register() -> str:
        async with standalone_session(gateway_database_url) as session:
            return (await register_client_key(session, client.client_id, _pem(private))).kid

    kid = asyncio.run(register())
    issued = _assertion_token(api, _assertion(client.client_id, private, kid))
    assert issued.status_code == 200, issued.text
    assert read(api, record_path, issued.json()["access_token"]).status_code == 200


def test_an_assertion_with_a_time_no_float_holds_is_invalid_client(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials]
) -> None:
    client = make_client("population:read")
    private = ec.generate_private_key(ec.SECP256R1())
    response = api.post(f"/v1/admin/clients/{client.client_id}/keys", headers=admin, json={"pem": _pem(private)})
    kid = response.json()["kid"]
    huge = 10**400  # valid JSON; float() of it raises OverflowError
    for claims in ({"exp": huge}, {"iat": huge}, {"nbf": -huge}):
        answer = _assertion_token(api, _assertion(client.client_id, private, kid, **claims))
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"


# -- the verification cache and odd claims, in process -----------------------------------------------------------------


def _service(cache_size: int = 100) -> TokenService:
    key = new_signing_key("ES256")
    return TokenService(
        signing_key=key,
        verification_keys=[key.jwk],
        issuer="axis-gateway",
        audience="axis-gateway",
        ttl_seconds=900,
        leeway_seconds=30,
        cache_size=cache_size,
    )


def test_a_cached_token_goes_with_its_key() -> None:
    service = _service()
    token = service.issue(subject="agency", scopes=["population:read"]).access_token
    assert service.verify(token).client_id == "agency"  # verified, and cached
    # The key leaves the trusted set (rotated out past its grace, or withdrawn after a compromise).
    service.set_signing_key(new_signing_key("ES256"))
    service.set_verification_keys([])
    with pytest.raises(TokenRejected) as refused:
        service.verify(token)
    assert refused.value.reason == "unknown_kid"


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_time_no_float_holds_is_bad_claims(claim: str) -> None:
    service = _service(cache_size=0)
    key = service.signing_key
    now = int(time.time())
    claims: dict[str, Any] = {"iss": "axis-gateway", "aud": "axis-gateway", "sub": "agency", "iat": now}
    claims |= {"exp": now + 60, claim: 10**400}
    token = jwt.encode(claims, key.pem, algorithm="ES256", headers={"kid": key.kid})
    with pytest.raises(TokenRejected) as refused:
        service.verify(token)
    assert refused.value.reason == "bad_claims"


def test_an_assertion_time_no_float_holds_is_refused() -> None:
    service = _service(cache_size=0)
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    assertion = _assertion("agency", private, "k1", exp=10**400)
    with pytest.raises(AssertionRejected):
        service.verify_client_assertion(assertion, [("k1", "ES256", jwk)])


def test_a_credential_claim_that_is_not_a_string_is_bad_claims() -> None:
    service = _service(cache_size=0)
    key = service.signing_key
    now = int(time.time())
    claims = {"iss": "axis-gateway", "aud": "axis-gateway", "sub": "agency", "iat": now, "exp": now + 60}
    token = jwt.encode({**claims, "credential": 7}, key.pem, algorithm="ES256", headers={"kid": key.kid})
    with pytest.raises(TokenRejected) as refused:
        service.verify(token)
    assert refused.value.reason == "bad_claims"


# -- headers -------------------------------------------------------------------------------------------------------


def test_two_authorization_headers_are_refused(api: httpx.Client, reader: ClientCredentials, record_path: str) -> None:
    token = fetch_token(api, reader)
    for pair in ([f"Bearer {token}", "Bearer forged"], ["Bearer forged", f"Bearer {token}"]):
        headers = [("Authorization", value) for value in pair] + list(STATED.items())
        assert_invalid_token(api.get(record_path, headers=headers))
    assert api.get(record_path, headers={"Authorization": f"Bearer {token}", **STATED}).status_code == 200
