"""Client authentication with ``private_key_jwt`` (RFC 7523 2.2): client keys registered through the admin API
and the ``gateway keys`` command, assertions signed with PyJWT, the gateway under test served by uvicorn."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm
from sqlmodel import select
from support import (
    STATED,
    TEST_DATA_KEY,
    ClientCredentials,
    CommandResult,
    InProcessGateway,
    PlantedSearch,
    fetch_token,
    run_gateway_command,
)

from gateway.core.db import create_engine, standalone_session, utcnow
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.models import Client, ClientKey, ClientStatus, UsedAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_ENDPOINT_URL = "https://gateway.lamdong.gov.vn/oauth/token"
# RFC 7638 section 3.1: this RSA key's thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
    "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQv"
    "RL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_pem(private: Any) -> str:
    return str(
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def certificate_pem(private: Any, *, days: int = 365) -> tuple[str, datetime]:
    """A self-signed certificate for ``private`` (as a government CA would sign one), and its expiry."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sở Y tế Lâm Đồng")])
    now = datetime.now(UTC).replace(microsecond=0)
    not_after = now + timedelta(days=days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(not_after)
        .sign(private, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), not_after


@dataclass
class Agency:
    """A client that authenticates with a key pair; ``kid`` is set once the key is registered."""

    client_id: str
    private: Any
    algorithm: str
    kid: str = ""

    def assertion(self, audience: Any = "axis-gateway", *, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(16),
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid})


@pytest.fixture(scope="module")
def gateway(make_settings: Callable[..., Settings]) -> Iterator[InProcessGateway]:
    with InProcessGateway(create_app(make_settings(token_endpoint_url=TOKEN_ENDPOINT_URL))) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def api(gateway: InProcessGateway) -> Iterator[httpx.Client]:
    """A client of this module's gateway (its token endpoint URL configured), in place of the suite's."""
    with gateway.client() as client:
        yield client


@pytest.fixture(scope="module")
def admin(api: httpx.Client, make_client: Callable[..., ClientCredentials]) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(api, make_client('admin'))}"}


@pytest.fixture(scope="module")
def record_path(planted: PlantedSearch) -> str:
    return f"/v1/databases/population/records/{planted.personal_ids[0]}"


def register(api: httpx.Client, admin: dict[str, str], client_id: str, **body: Any) -> httpx.Response:
    return api.post(f"/v1/admin/clients/{client_id}/keys", json=body, headers=admin)


@pytest.fixture(scope="module")
def agency(api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials]) -> Agency:
    """A reader of the population database that signs its assertions with an EC P-256 key."""
    client = make_client("population:read")
    holder = Agency(client.client_id, ec.generate_private_key(ec.SECP256R1()), "ES256")
    response = register(api, admin, client.client_id, pem=public_pem(holder.private))
    assert response.status_code == 201, response.text
    holder.kid = response.json()["kid"]
    return holder


def token_request(api: httpx.Client, assertion: str, **extra: Any) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    data.update({k: v for k, v in extra.items() if k != "auth"})
    return api.post("/oauth/token", data={k: v for k, v in data.items() if v is not None}, auth=extra.get("auth"))


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/oauth-error"
    assert body["error"] == error
    assert "Traceback" not in response.text


def counter(api: httpx.Client, reason: str) -> float:
    prefix = f'gateway_auth_failures_total{{reason="{reason}"}} '
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    raise AssertionError(f"no series for {reason}")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# -- obtaining tokens --------------------------------------------------------------------------------------------


def test_assertion_gets_a_token_that_reads(api: httpx.Client, agency: Agency, record_path: str) -> None:
    response = token_request(api, agency.assertion())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["scope"] == "population:read"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == agency.client_id
    read = api.get(record_path, headers={"Authorization": f"Bearer {body['access_token']}", **STATED})
    assert read.status_code == 200, read.text


@pytest.mark.parametrize("audience", ["axis-gateway", TOKEN_ENDPOINT_URL, ["someone-else", TOKEN_ENDPOINT_URL]])
def test_assertion_audience_is_the_issuer_or_the_token_endpoint(
    api: httpx.Client, agency: Agency, audience: Any
) -> None:
    assert token_request(api, agency.assertion(audience)).status_code == 200


def test_client_id_in_the_form_may_accompany_the_assertion(api: httpx.Client, agency: Agency) -> None:
    assert token_request(api, agency.assertion(), client_id=agency.client_id).status_code == 200
    assert_oauth_error(token_request(api, agency.assertion(), client_id="someone-else"), 401, "invalid_client")


def test_a_certificate_registers_its_key_until_it_expires(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials], gateway_database_url: str
) -> None:
    client = make_client("population:read")
    holder = Agency(client.client_id, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    pem, not_after = certificate_pem(holder.private)
    response = register(api, admin, client.client_id, pem=pem)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["algorithm"] == "RS256"
    assert datetime.fromisoformat(body["not_after"]) == not_after
    assert set(body["public_jwk"]) == {"kty", "n", "e", "kid", "alg", "use"}
    holder.kid = body["kid"]
    assert token_request(api, holder.assertion()).status_code == 200

    async def expire() -> None:
        async with standalone_session(gateway_database_url) as session:
            key = await session.get(ClientKey, holder.kid)
            assert key is not None
            key.not_after = utcnow() - timedelta(seconds=1)
            session.add(key)
            await session.commit()

    run(expire())
    assert_oauth_error(token_request(api, holder.assertion()), 401, "invalid_client")


def test_jwk_with_ps256(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials]
) -> None:
    client = make_client("population:read")
    holder = Agency(client.client_id, rsa.generate_private_key(public_exponent=65537, key_size=2048), "PS256")
    jwk = RSAAlgorithm.to_jwk(holder.private.public_key(), as_dict=True)
    jwk.update({"kid": "agency-2026-01", "alg": "PS256"})
    response = register(api, admin, client.client_id, jwk=jwk)
    assert response.status_code == 201, response.text
    assert (response.json()["kid"], response.json()["algorithm"]) == ("agency-2026-01", "PS256")
    holder.kid = "agency-2026-01"
    assert token_request(api, holder.assertion()).status_code == 200
    # The same key, RS256: not the algorithm it was registered for.
    holder.algorithm = "RS256"
    assert_oauth_error(token_request(api, holder.assertion()), 401, "invalid_client")


def test_kid_is_the_rfc7638_thumbprint_unless_given(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials]
) -> None:
    client = make_client("population:read")
    response = register(api, admin, client.client_id, jwk={"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})
    assert response.status_code == 201, response.text
    assert response.json()["kid"] == RFC7638_THUMBPRINT
    other = make_client("population:read")
    key = ec.generate_private_key(ec.SECP256R1())
    named = register(api, admin, other.client_id, pem=public_pem(key), kid="so-y-te-2026")
    assert named.status_code == 201, named.text
    assert named.json()["kid"] == "so-y-te-2026"
    assert named.json()["public_jwk"]["kid"] == "so-y-te-2026"
    # Registered once only, whoever asks.
    again = register(api, admin, client.client_id, jwk={"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})
    assert again.status_code == 409, again.text
    assert again.json()["type"] == "/problems/conflict"


# -- refused assertions -----------------------------------------------------------------------------------------


def test_an_assertion_is_used_once(api: httpx.Client, agency: Agency, gateway_database_url: str) -> None:
    assertion = agency.assertion()
    assert token_request(api, assertion).status_code == 200
    before = counter(api, "replayed_assertion")
    replayed = token_request(api, assertion)
    assert_oauth_error(replayed, 401, "invalid_client")
    assert "replay" not in replayed.text  # the caller learns no more than invalid_client
    assert counter(api, "replayed_assertion") == before + 1

    # The audit trail keeps the precise reason.
    async def reason() -> Any:
        engine = create_engine(gateway_database_url)
        try:
            async with engine.connect() as connection:
                statement = sa.text("SELECT reason FROM audit_events WHERE request_id = :rid")
                return (await connection.execute(statement, {"rid": replayed.headers["x-request-id"]})).scalar_one()
        finally:
            await engine.dispose()

    assert run(reason()) == "oauth-error:invalid_client:replayed_assertion"


def _hs256(agency: Agency) -> str:
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "kid": agency.kid}).encode())
    claims = {"iss": agency.client_id, "sub": agency.client_id, "aud": "axis-gateway", "exp": now + 60, "jti": "x"}
    body = b64(json.dumps(claims).encode())
    secret = public_pem(agency.private).encode()
    return f"{head}.{body}.{b64(hmac.new(secret, f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


def bad_assertions(agency: Agency, other: Agency) -> dict[str, str]:
    now = int(time.time())
    good = agency.assertion()
    head, payload, signature = good.split(".")
    stranger = Agency(agency.client_id, ec.generate_private_key(ec.SECP256R1()), "ES256", agency.kid)
    tampered = b64(json.dumps({"iss": other.client_id, "sub": other.client_id, "aud": "axis-gateway"}).encode())
    return {
        "lives_too_long": agency.assertion(exp=now + 3600),
        "issued_too_long_before_expiry": agency.assertion(iat=now - 400, exp=now + 30),
        "expired": agency.assertion(iat=now - 200, exp=now - 100),
        "not_yet_valid": agency.assertion(nbf=now + 600, exp=now + 660, iat=None),
        "no_expiry": agency.assertion(exp=None),
        "no_jti": agency.assertion(jti=None),
        "jti_too_long": agency.assertion(jti="j" * 200),
        "wrong_audience": agency.assertion("https://another-gateway.example/oauth/token"),
        "no_audience": agency.assertion(None),
        "iss_is_not_sub": agency.assertion(sub="someone-else"),
        "another_clients_name": agency.assertion(iss=other.client_id, sub=other.client_id),
        "unknown_client": agency.assertion(iss="nobody-we-know", sub="nobody-we-know"),
        "issuer_with_a_nul": agency.assertion(iss="nobody\x00we-know", sub="nobody\x00we-know"),
        "issuer_with_a_line_break": agency.assertion(iss=f"{agency.client_id}\n", sub=f"{agency.client_id}\n"),
        "unregistered_key_same_kid": stranger.assertion(),
        "unknown_kid": agency.assertion(kid="not-registered"),
        "alg_none": f"{b64(json.dumps({'alg': 'none', 'kid': agency.kid}).encode())}.{payload}.",
        "hs256_with_the_public_key": _hs256(agency),
        "tampered": f"{head}.{tampered}.{signature}",
        "truncated": good[: len(good) // 2],
        "huge_header": b64(json.dumps({"alg": "ES256", "x": "a" * 20000}).encode()) + f".{payload}.{signature}",
        "garbage": "not-a-jwt",
    }


@pytest.fixture(scope="module")
def other_agency(api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials]) -> Agency:
    client = make_client("population:read")
    holder = Agency(client.client_id, ec.generate_private_key(ec.SECP256R1()), "ES256")
    response = register(api, admin, client.client_id, pem=public_pem(holder.private))
    assert response.status_code == 201, response.text
    holder.kid = response.json()["kid"]
    return holder


BAD_ASSERTIONS = [
    "lives_too_long",
    "issued_too_long_before_expiry",
    "expired",
    "not_yet_valid",
    "no_expiry",
    "no_jti",
    "jti_too_long",
    "wrong_audience",
    "no_audience",
    "iss_is_not_sub",
    "another_clients_name",
    "unknown_client",
    "issuer_with_a_nul",
    "issuer_with_a_line_break",
    "unregistered_key_same_kid",
    "unknown_kid",
    "alg_none",
    "hs256_with_the_public_key",
    "tampered",
    "truncated",
    "huge_header",
    "garbage",
]


@pytest.mark.parametrize("name", BAD_ASSERTIONS)
def test_bad_assertions_are_invalid_client(api: httpx.Client, agency: Agency, other_agency: Agency, name: str) -> None:
    before = counter(api, "invalid_assertion") + counter(api, "invalid_client")
    response = token_request(api, bad_assertions(agency, other_agency)[name])
    assert_oauth_error(response, 401, "invalid_client")
    assert response.json()["error_description"] == "Client authentication failed."
    assert counter(api, "invalid_assertion") + counter(api, "invalid_client") == before + 1


def test_bad_assertion_list_is_complete(agency: Agency, other_agency: Agency) -> None:
    assert sorted(BAD_ASSERTIONS) == sorted(bad_assertions(agency, other_agency))


def test_suspended_client_cannot_use_its_key(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials], gateway_database_url: str
) -> None:
    client = make_client("population:read")
    holder = Agency(client.client_id, ec.generate_private_key(ec.SECP256R1()), "ES256")
    holder.kid = register(api, admin, client.client_id, pem=public_pem(holder.private)).json()["kid"]
    assert token_request(api, holder.assertion()).status_code == 200

    async def suspend() -> None:
        async with standalone_session(gateway_database_url) as session:
            row = await session.get(Client, client.client_id)
            assert row is not None
            row.status = ClientStatus.SUSPENDED
            session.add(row)
            await session.commit()

    run(suspend())
    assert_oauth_error(token_request(api, holder.assertion()), 401, "invalid_client")


@pytest.mark.parametrize(
    "case",
    ["with_basic", "with_client_secret", "wrong_assertion_type", "type_without_assertion", "assertion_without_type"],
)
def test_mixed_or_incomplete_methods_are_invalid_request(
    api: httpx.Client, agency: Agency, reader: ClientCredentials, case: str
) -> None:
    assertion = agency.assertion()
    requests = {
        "with_basic": {"auth": (reader.client_id, reader.client_secret)},
        "with_client_secret": {"client_id": agency.client_id, "client_secret": "whatever"},
        "wrong_assertion_type": {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
        "type_without_assertion": {"client_assertion": None},
        "assertion_without_type": {"client_assertion_type": None},
    }
    assert_oauth_error(token_request(api, assertion, **requests[case]), 400, "invalid_request")


def test_used_assertions_are_pruned_when_expired(api: httpx.Client, agency: Agency, gateway_database_url: str) -> None:
    stale_jti = f"stale-{secrets.token_hex(4)}"

    async def plant() -> None:
        async with standalone_session(gateway_database_url) as session:
            expired = utcnow() - timedelta(minutes=10)
            session.add(UsedAssertion(client_id=agency.client_id, jti=stale_jti, expires_at=expired))
            await session.commit()

    async def stored() -> dict[str, datetime]:
        async with standalone_session(gateway_database_url) as session:
            rows = await session.exec(select(UsedAssertion).where(UsedAssertion.client_id == agency.client_id))
            return {row.jti: row.expires_at for row in rows}

    run(plant())
    assert stale_jti in run(stored())
    fresh_jti = f"fresh-{secrets.token_hex(4)}"
    now = int(time.time())
    assert token_request(api, agency.assertion(jti=fresh_jti, exp=now + 60)).status_code == 200
    rows = run(stored())
    assert stale_jti not in rows
    # Kept until the assertion can no longer be accepted (its exp plus the clock leeway).
    assert rows[fresh_jti] == datetime.fromtimestamp(now + 60 + 30, UTC)


# -- the admin API ----------------------------------------------------------------------------------------------


def test_list_and_revoke_keys(
    api: httpx.Client, admin: dict[str, str], make_client: Callable[..., ClientCredentials]
) -> None:
    client = make_client("population:read")
    first = Agency(client.client_id, ec.generate_private_key(ec.SECP256R1()), "ES256")
    second = Agency(client.client_id, ec.generate_private_key(ec.SECP384R1()), "ES384")
    first.kid = register(api, admin, client.client_id, pem=public_pem(first.private)).json()["kid"]
    response = register(api, admin, client.client_id, pem=public_pem(second.private))
    assert response.json()["algorithm"] == "ES384"
    second.kid = response.json()["kid"]
    listed = api.get(f"/v1/admin/clients/{client.client_id}/keys", headers=admin)
    assert listed.status_code == 200
    assert [key["kid"] for key in listed.json()] == [first.kid, second.kid]
    assert all(key["revoked_at"] is None for key in listed.json())

    revoked = api.delete(f"/v1/admin/clients/{client.client_id}/keys/{first.kid}", headers=admin)
    assert revoked.status_code == 204
    assert_oauth_error(token_request(api, first.assertion()), 401, "invalid_client")
    assert token_request(api, second.assertion()).status_code == 200
    listed = api.get(f"/v1/admin/clients/{client.client_id}/keys", headers=admin).json()
    assert [key["revoked_at"] is not None for key in listed] == [True, False]
    # Not another client's key, and not a key that does not exist.
    other = make_client("population:read")
    assert api.delete(f"/v1/admin/clients/{other.client_id}/keys/{second.kid}", headers=admin).status_code == 404
    assert api.delete(f"/v1/admin/clients/{client.client_id}/keys/nope", headers=admin).status_code == 404


def _rsa_1024_pem() -> str:
    return public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("private_key", 422),
        ("private_jwk", 422),
        ("garbage", 422),
        ("weak_rsa", 422),
        ("both_pem_and_jwk", 422),
        ("neither", 422),
        ("hmac_jwk", 422),
        ("wrong_algorithm_for_the_key", 422),
        ("expired_certificate", 422),
        ("unknown_client", 404),
    ],
)
def test_unusable_keys_are_refused(
    api: httpx.Client, admin: dict[str, str], agency: Agency, case: str, status: int
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    expired_certificate, _ = certificate_pem(key, days=-1) if case == "expired_certificate" else ("", None)
    bodies: dict[str, dict[str, Any]] = {
        "private_key": {"pem": private_pem},
        "private_jwk": {"jwk": json.loads(RSAAlgorithm.to_jwk(rsa_private))},
        "garbage": {"pem": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"},
        "weak_rsa": {"pem": _rsa_1024_pem()} if case == "weak_rsa" else {},
        "both_pem_and_jwk": {"pem": public_pem(key), "jwk": {"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}},
        "neither": {"kid": "k"},
        "hmac_jwk": {"jwk": {"kty": "oct", "k": b64(b"secret")}},
        "wrong_algorithm_for_the_key": {"pem": public_pem(key), "algorithm": "RS256"},
        "expired_certificate": {"pem": expired_certificate},
        "unknown_client": {"pem": public_pem(key)},
    }
    client_id = "nobody-we-know" if case == "unknown_client" else agency.client_id
    response = register(api, admin, client_id, **bodies[case])
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "PRIVATE" not in response.text


def test_key_routes_need_the_admin_scope(api: httpx.Client, agency: Agency, reader: ClientCredentials) -> None:
    path = f"/v1/admin/clients/{agency.client_id}/keys"
    assert api.get(path).status_code == 401
    forbidden = api.get(path, headers={"Authorization": f"Bearer {fetch_token(api, reader)}"})
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "/problems/insufficient-scope"


# -- the command line ---------------------------------------------------------------------------------------------


def gateway_command(database_url: str, data_dir: Path, *args: str) -> CommandResult:
    """``gateway keys ARGS``, run in process (typer's runner) as in a shell in ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_DATA_DIR": str(data_dir),
            "GATEWAY_DATA_KEY": TEST_DATA_KEY,
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return run_gateway_command(("keys", *args), env=env, cwd=data_dir)


def test_cli_registers_lists_and_revokes(
    api: httpx.Client, make_client: Callable[..., ClientCredentials], gateway_database_url: str, tmp_path: Path
) -> None:
    client = make_client("population:read")
    holder = Agency(client.client_id, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    pem, not_after = certificate_pem(holder.private)
    (tmp_path / "agency.pem").write_text(pem)
    registered = gateway_command(
        gateway_database_url, tmp_path, "register", client.client_id, "--file", "agency.pem", "--kid", "cli-key-1"
    )
    assert registered.returncode == 0, registered.stderr
    assert "cli-key-1" in registered.stdout
    assert not_after.isoformat(timespec="seconds") in registered.stdout
    holder.kid = "cli-key-1"
    assert token_request(api, holder.assertion()).status_code == 200

    listed = gateway_command(gateway_database_url, tmp_path, "list", client.client_id, "--json")
    assert listed.returncode == 0, listed.stderr
    keys = json.loads(listed.stdout)
    assert [(k["kid"], k["algorithm"], k["revoked_at"]) for k in keys] == [("cli-key-1", "RS256", None)]

    revoked = gateway_command(gateway_database_url, tmp_path, "revoke", "cli-key-1")
    assert revoked.returncode == 0, revoked.stderr
    assert_oauth_error(token_request(api, holder.assertion()), 401, "invalid_client")

    # Errors are one line, exit 1, no traceback.
    (tmp_path / "private.pem").write_bytes(
        holder.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    refused = gateway_command(gateway_database_url, tmp_path, "register", client.client_id, "--file", "private.pem")
    assert refused.returncode == 1
    assert "private key" in refused.stderr
    assert "Traceback" not in refused.stderr
    unknown = gateway_command(gateway_database_url, tmp_path, "list", "nobody-we-know")
    assert unknown.returncode == 1
    assert "no client" in unknown.stderr
    assert "Traceback" not in unknown.stderr
