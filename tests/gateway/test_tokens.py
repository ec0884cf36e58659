"""Bearer tokens on the data routes: tokens minted with PyJWT, good and bad. Every bad one is a 401, none a 500."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from support import STATED, ClientCredentials, PlantedSearch

from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.identity.datakeys import DataKeys
from gateway.identity.signing_keys import active_signing_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def gateway_key(api: httpx.Client, settings: Settings) -> tuple[bytes, str]:
    """The gateway's own private key (PEM) and its kid, as a legitimate co-signer would hold them."""

    async def load() -> tuple[bytes, str]:
        async with standalone_session(settings.database_url) as session:
            key = await active_signing_key(session, DataKeys.from_settings(settings))
        return key.pem, key.kid

    pem, kid = asyncio.run(load())
    assert kid in {key["kid"] for key in api.get("/.well-known/jwks.json").json()["keys"]}
    return pem, kid


@pytest.fixture(scope="module")
def record_path(planted: PlantedSearch) -> str:
    return f"/v1/databases/population/records/{planted.personal_ids[0]}"


def _claims(settings: Settings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": "pyjwt-client",
        "scope": "population:read",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["type"] == "/problems/invalid-token"
    assert body["status"] == 401
    assert "Traceback" not in response.text


def test_token_minted_by_pyjwt_with_the_gateway_key_is_accepted(
    api: httpx.Client,
    settings: Settings,
    gateway_key: tuple[bytes, str],
    record_path: str,
    reader: ClientCredentials,
) -> None:
    pem, kid = gateway_key
    token = jwt.encode(_claims(settings, sub=reader.client_id), pem, algorithm="ES256", headers={"kid": kid})
    response = api.get(record_path, headers={"Authorization": f"Bearer {token}", **STATED})
    assert response.status_code == 200, response.text


def _other_ec_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _bad_tokens(settings: Settings, pem: bytes, kid: str) -> dict[str, str]:
    now = int(time.time())
    good = jwt.encode(_claims(settings), pem, algorithm="ES256", headers={"kid": kid})
    head, payload, signature = good.split(".")
    public_pem = (
        serialization.load_pem_private_key(pem, None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    hs_payload = _b64(json.dumps(_claims(settings)).encode())
    hs_signature = _b64(hmac.new(public_pem, f"{hs_head}.{hs_payload}".encode(), hashlib.sha256).digest())
    none_head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    tampered = _b64(json.dumps(_claims(settings, scope="population:read population:search admin")).encode())
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "expired": jwt.encode(
            _claims(settings, iat=now - 3600, nbf=now - 3600, exp=now - 600), pem, "ES256", headers={"kid": kid}
        ),
        "not_yet_valid": jwt.encode(
            _claims(settings, nbf=now + 3600, exp=now + 7200), pem, "ES256", headers={"kid": kid}
        ),
        "wrong_issuer": jwt.encode(_claims(settings, iss="someone-else"), pem, "ES256", headers={"kid": kid}),
        "wrong_audience": jwt.encode(_claims(settings, aud="another-gateway"), pem, "ES256", headers={"kid": kid}),
        "no_audience": jwt.encode(_claims(settings, aud=None), pem, "ES256", headers={"kid": kid}),
        "no_subject": jwt.encode(_claims(settings, sub=None), pem, "ES256", headers={"kid": kid}),
        "no_expiry": jwt.encode(_claims(settings, exp=None), pem, "ES256", headers={"kid": kid}),
        "alg_none": f"{none_head}.{hs_payload}.",
        "hs256_with_public_key": f"{hs_head}.{hs_payload}.{hs_signature}",
        "unknown_kid": jwt.encode(_claims(settings), pem, "ES256", headers={"kid": "not-a-key-of-ours"}),
        "no_kid": jwt.encode(_claims(settings), pem, "ES256"),
        "other_key_same_kid": jwt.encode(_claims(settings), _other_ec_key(), "ES256", headers={"kid": kid}),
        "rs256_same_kid": jwt.encode(_claims(settings), rsa_pem, "RS256", headers={"kid": kid}),
        "tampered_payload": f"{head}.{tampered}.{signature}",
        "truncated": good[: len(good) // 2],
        "signature_removed": f"{head}.{payload}.",
        "garbage": "not.a.token",
        "two_parts": f"{head}.{payload}",
        "huge_header": _b64(json.dumps({"alg": "ES256", "kid": kid, "x": "a" * 20000}).encode())
        + f".{payload}.{signature}",
        "non_json_header": f"{_b64(b'{oops')}.{payload}.{signature}",
    }


BAD_TOKEN_NAMES = [
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "no_audience",
    "no_subject",
    "no_expiry",
    "alg_none",
    "hs256_with_public_key",
    "unknown_kid",
    "no_kid",
    "other_key_same_kid",
    "rs256_same_kid",
    "tampered_payload",
    "truncated",
    "signature_removed",
    "garbage",
    "two_parts",
    "huge_header",
    "non_json_header",
]


@pytest.mark.parametrize("name", BAD_TOKEN_NAMES)
def test_bad_tokens_get_401(
    api: httpx.Client, settings: Settings, gateway_key: tuple[bytes, str], record_path: str, name: str
) -> None:
    token = _bad_tokens(settings, *gateway_key)[name]
    _assert_invalid_token(api.get(record_path, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "bearer", "Token abc", "Bearer \u00e9\u00e9".encode("latin-1")],
)
def test_missing_or_malformed_authorization_gets_401(
    api: httpx.Client, record_path: str, header: str | bytes | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    _assert_invalid_token(api.get(record_path, headers=headers))


def test_failure_reasons_are_counted(
    api: httpx.Client, settings: Settings, gateway_key: tuple[bytes, str], record_path: str
) -> None:
    def counted(reason: str) -> float:
        for line in api.get("/metrics").text.splitlines():
            if line.startswith(f'gateway_auth_failures_total{{reason="{reason}"}}'):
                return float(line.split()[-1])
        raise AssertionError(f"no series for {reason}")

    tokens = _bad_tokens(settings, *gateway_key)
    before = {reason: counted(reason) for reason in ("expired", "unknown_kid", "bad_signature", "missing")}
    api.get(record_path, headers={"Authorization": f"Bearer {tokens['expired']}"})
    api.get(record_path, headers={"Authorization": f"Bearer {tokens['unknown_kid']}"})
    api.get(record_path, headers={"Authorization": f"Bearer {tokens['other_key_same_kid']}"})
    api.get(record_path)
    for reason, value in before.items():
        assert counted(reason) == value + 1, reason


def test_token_of_an_unknown_scope_gets_403(
    api: httpx.Client,
    settings: Settings,
    gateway_key: tuple[bytes, str],
    record_path: str,
    reader: ClientCredentials,
) -> None:
    pem, kid = gateway_key
    token = jwt.encode(_claims(settings, sub=reader.client_id, scope="land:read"), pem, "ES256", headers={"kid": kid})
    response = api.get(record_path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/insufficient-scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="population:read"' in response.headers["www-authenticate"]


def test_token_of_an_unknown_client_gets_401(
    api: httpx.Client, settings: Settings, gateway_key: tuple[bytes, str], record_path: str
) -> None:
    # Correctly signed, but for a client the gateway does not know (deleted, or never registered).
    pem, kid = gateway_key
    token = jwt.encode(_claims(settings, sub="nobody-we-know"), pem, "ES256", headers={"kid": kid})
    _assert_invalid_token(api.get(record_path, headers={"Authorization": f"Bearer {token}", **STATED}))
