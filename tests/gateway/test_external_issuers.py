"""Tokens from trusted external issuers (identity providers): a real JWKS server on 127.0.0.1 that counts its
hits, tokens minted with PyJWT, the gateway under test served by uvicorn.

The identity provider serves several realms, each a trusted issuer of the gateway with its own settings:
``slow`` (unknown kids refetch at most once an hour), ``fast`` (at most once per ``FAST_INTERVAL`` seconds, client
named by the ``client_id`` claim) and ``limited`` (may speak only for one client).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support import STATED, ClientCredentials, LiveServer, PlantedSearch

from gateway.core.db import standalone_session
from gateway.core.settings import Settings, TrustedIssuer
from gateway.http.app import create_app
from gateway.identity.key_material import new_signing_key
from gateway.identity.models import Client, ClientStatus
from gateway.identity.tokens import TokenRejected, TokenService

FAST_INTERVAL = 2.0
GENERIC_DETAIL = "The access token is missing or invalid."


@dataclass
class SigningKey:
    """A key of the identity provider: the private half signs tokens, the public JWK is published."""

    kid: str
    private: Any
    public_jwk: dict[str, Any]

    @property
    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def rsa_key(kid: str | None = None, *, alg: str | None = None) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = kid or f"rsa-{secrets.token_hex(4)}"
    jwk.update({"kid": kid, "use": "sig"})
    if alg:
        jwk["alg"] = alg
    return SigningKey(kid, private, jwk)


def ec_key(kid: str | None = None) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = kid or f"ec-{secrets.token_hex(4)}"
    jwk.update({"kid": kid, "use": "sig", "alg": "ES256"})
    return SigningKey(kid, private, jwk)


@dataclass
class Realm:
    """One issuer of the identity provider: its published keys, how often they were fetched, and whether it
    fails."""

    keys: list[SigningKey]
    hits: int = 0
    failing: bool = False
    extra: list[dict[str, Any]] = field(default_factory=list)


class IdentityProvider:
    """A JWKS server: ``GET /realms/{name}/certs`` answers the realm's public keys (503 while it fails)."""

    def __init__(self, realms: dict[str, Realm]) -> None:
        self.realms = realms
        self.app = Starlette(routes=[Route("/realms/{name}/certs", self.certs)])
        self.server = LiveServer(self.app)

    async def certs(self, request: Request) -> Response:
        realm = self.realms.get(request.path_params["name"])
        if realm is None:
            return Response(status_code=404)
        realm.hits += 1
        if realm.failing:
            return Response("unavailable", status_code=503)
        return JSONResponse({"keys": [key.public_jwk for key in realm.keys] + realm.extra})

    def __enter__(self) -> IdentityProvider:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def issuer(self, name: str) -> str:
        return f"{self.server.url}/realms/{name}"

    def jwks_url(self, name: str) -> str:
        return f"{self.issuer(name)}/certs"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(
    key: SigningKey,
    *,
    issuer: str,
    audience: Any,
    algorithm: str = "RS256",
    kid: str | None = None,
    **claims: Any,
) -> str:
    """A token signed by ``key``; ``None`` values leave a claim out."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": "f:9b1c:officer-0001",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": secrets.token_hex(8),
        "scope": "openid profile",
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key.private, algorithm=algorithm, headers={"kid": kid or key.kid})


@dataclass
class World:
    """The identity provider, its realms, the gateway trusting them, and the gateway's clients."""

    idp: IdentityProvider
    realms: dict[str, Realm]
    gateway: LiveServer
    settings: Settings
    reader: ClientCredentials
    other: ClientCredentials
    suspended: ClientCredentials
    encryption_key: SigningKey
    administrator: ClientCredentials

    def token(self, realm: str, key: SigningKey | None = None, **kwargs: Any) -> str:
        kwargs.setdefault("audience", self.settings.token_audience)
        if realm == "fast":
            kwargs.setdefault("client_id", self.reader.client_id)
        else:
            kwargs.setdefault("azp", self.reader.client_id)
        return mint(key or self.realms[realm].keys[0], issuer=self.idp.issuer(realm), **kwargs)


def suspend(database_url: str, client_id: str) -> None:
    async def run() -> None:
        async with standalone_session(database_url) as session:
            client = await session.get(Client, client_id)
            assert client is not None
            client.status = ClientStatus.SUSPENDED
            session.add(client)
            await session.commit()

    asyncio.run(run())


@pytest.fixture(scope="module")
def world(
    make_settings: Callable[..., Settings], make_client: Callable[..., ClientCredentials], gateway_database_url: str
) -> Iterator[World]:
    reader = make_client("population:read")
    other = make_client("population:read")
    suspended = make_client("population:read")
    suspend(gateway_database_url, suspended.client_id)
    administrator = make_client("admin", "audit", "population:read")
    # Besides its keys, the slow realm publishes entries the gateway must ignore without failing.
    encryption = rsa_key(kid="for-encryption")
    odd_entries: list[Any] = [
        {"kty": "oct", "k": b64(b"shared-secret"), "kid": "hmac-key", "alg": "HS256"},
        {**encryption.public_jwk, "use": "enc"},
        {**rsa_key(kid="alg-list").public_jwk, "alg": ["RS256"]},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "off-curve"},
        {"kid": 5},
        "not-an-object",
    ]
    realms = {
        "slow": Realm([rsa_key(), ec_key()], extra=odd_entries),
        "fast": Realm([rsa_key(alg="RS256")]),
        "limited": Realm([rsa_key()]),
    }
    with IdentityProvider(realms) as idp:
        settings = make_settings(
            trusted_issuers=[
                {
                    "issuer": idp.issuer("slow"),
                    "jwks_url": idp.jwks_url("slow"),
                    "refresh_seconds": 3600,
                    "min_refetch_seconds": 3600,
                },
                {
                    "issuer": idp.issuer("fast"),
                    "jwks_url": idp.jwks_url("fast"),
                    "client_claim": "client_id",
                    "algorithms": ["RS256"],
                    "refresh_seconds": 3600,
                    "min_refetch_seconds": FAST_INTERVAL,
                    "timeout_seconds": 2,
                },
                {
                    "issuer": idp.issuer("limited"),
                    "jwks_url": idp.jwks_url("limited"),
                    "clients": [other.client_id, administrator.client_id],
                    "audience": "https://gateway.lamdong.gov.vn",
                },
            ]
        )
        with LiveServer(create_app(settings)) as gateway:
            yield World(idp, realms, gateway, settings, reader, other, suspended, encryption, administrator)


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.gateway.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def record_path(planted: PlantedSearch) -> str:
    return f"/v1/databases/population/records/{planted.personal_ids[0]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **STATED}


def assert_invalid_token(response: httpx.Response) -> None:
    """401 with the generic problem only: the body never says why."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="axis-gateway", error="invalid_token"'
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert body["type"] == "/problems/invalid-token"
    assert body["detail"] == GENERIC_DETAIL


def counter(api: httpx.Client, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{selector}}} "
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    raise AssertionError(f"no series {prefix.strip()}")


# -- accepted tokens --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key_index", "algorithm"), [(0, "RS256"), (0, "PS256"), (1, "ES256")])
def test_external_token_reads_with_the_clients_grants(
    world: World, api: httpx.Client, record_path: str, key_index: int, algorithm: str
) -> None:
    key = world.realms["slow"].keys[key_index]
    token = world.token("slow", key, algorithm=algorithm)
    response = api.get(record_path, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["personal_id"] == record_path.rsplit("/", 1)[1]


def test_audience_may_be_a_list(world: World, api: httpx.Client, record_path: str) -> None:
    token = world.token("slow", audience=["account", world.settings.token_audience])
    assert api.get(record_path, headers=bearer(token)).status_code == 200


def test_scope_claim_of_the_issuer_grants_nothing(world: World, api: httpx.Client, record_path: str) -> None:
    # The reader may read only; the issuer's token claims search and admin too: the client's grants decide.
    token = world.token("slow", scope="population:read population:search admin audit")
    assert api.get(record_path, headers=bearer(token)).status_code == 200
    search = api.post("/v1/databases/population/search", json={"old_id_number": "123456789"}, headers=bearer(token))
    assert search.status_code == 403, search.text
    assert search.json()["type"] == "/problems/insufficient-scope"
    admin = api.get("/v1/admin/clients", headers=bearer(token))
    assert admin.status_code == 403
    assert admin.json()["type"] == "/problems/insufficient-scope"


def test_client_named_by_the_configured_claim(world: World, api: httpx.Client, record_path: str) -> None:
    # The fast realm names the client in "client_id"; "azp" means nothing there.
    assert api.get(record_path, headers=bearer(world.token("fast"))).status_code == 200
    no_claim = world.token("fast", client_id=None, azp=world.reader.client_id)
    assert_invalid_token(api.get(record_path, headers=bearer(no_claim)))


def test_an_issuer_speaks_only_for_its_clients(world: World, api: httpx.Client, record_path: str) -> None:
    audience = "https://gateway.lamdong.gov.vn"
    allowed = world.token("limited", azp=world.other.client_id, audience=audience)
    assert api.get(record_path, headers=bearer(allowed)).status_code == 200
    assert_invalid_token(api.get(record_path, headers=bearer(world.token("limited", audience=audience))))
    # That issuer's own audience is configured: the gateway's default one is refused.
    default_audience = world.token("limited", azp=world.other.client_id)
    assert_invalid_token(api.get(record_path, headers=bearer(default_audience)))


def test_an_issuer_naming_no_clients_speaks_for_their_data_only(
    world: World, api: httpx.Client, record_path: str
) -> None:
    """An issuer trusted for any client may act with a client's data grants, never with its admin or audit scope:
    those only through an issuer that names the client."""
    anyone = world.token("slow", azp=world.administrator.client_id)
    assert api.get(record_path, headers=bearer(anyone)).status_code == 200
    for path in ("/v1/admin/clients", "/v1/audit"):
        refused = api.get(path, headers=bearer(anyone))
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == "/problems/insufficient-scope"
    named = world.token("limited", azp=world.administrator.client_id, audience="https://gateway.lamdong.gov.vn")
    for path in ("/v1/admin/clients", "/v1/audit"):
        assert api.get(path, headers=bearer(named)).status_code == 200


def test_principal_names_the_issuer(world: World, tmp_path: Path) -> None:
    signing_key = new_signing_key("ES256")
    trusted = [TrustedIssuer(issuer=world.idp.issuer("slow"), jwks_url=world.idp.jwks_url("slow"))]

    async def run() -> None:
        service = TokenService(
            signing_key=signing_key,
            verification_keys=[signing_key.jwk],
            issuer="axis-gateway",
            audience="axis-gateway",
            ttl_seconds=60,
            leeway_seconds=5,
            cache_size=10,
            trusted_issuers=trusted,
        )
        try:
            external = await service.verify_async(
                mint(world.realms["slow"].keys[0], issuer=trusted[0].issuer, audience="axis-gateway", azp="agency-x")
            )
            own = await service.verify_async(service.issue(subject="agency-y", scopes=["population:read"]).access_token)
            with pytest.raises(TokenRejected) as rejected:
                service.verify(mint(world.realms["fast"].keys[0], issuer="https://elsewhere", audience="axis-gateway"))
            assert rejected.value.reason == "unknown_issuer"
        finally:
            await service.close()
        assert (external.issuer, external.client_id, external.external) == (trusted[0].issuer, "agency-x", True)
        assert external.subject == "f:9b1c:officer-0001"
        assert external.scopes == frozenset()
        assert (own.issuer, own.client_id, own.external) == ("axis-gateway", "agency-y", False)
        assert own.scopes == frozenset({"population:read"})

    asyncio.run(run())


# -- the bad-token battery --------------------------------------------------------------------------------------


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{signature}"


def _claims_of(world: World, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": world.idp.issuer("slow"),
        "aud": world.settings.token_audience,
        "sub": "officer",
        "azp": world.reader.client_id,
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return claims


def bad_tokens(world: World) -> dict[str, tuple[str, str]]:
    """Name -> (token, the reason counted for it)."""
    now = int(time.time())
    slow = world.realms["slow"]
    rsa_slow, ec_slow = slow.keys
    good = world.token("slow")
    head, payload, signature = good.split(".")
    tampered = b64(json.dumps(_claims_of(world, azp=world.other.client_id)).encode())
    stranger = rsa_key(kid=rsa_slow.kid)
    return {
        "expired": (world.token("slow", iat=now - 3600, nbf=now - 3600, exp=now - 600), "expired"),
        "not_yet_valid": (world.token("slow", nbf=now + 3600, exp=now + 7200), "not_yet_valid"),
        "issued_in_the_future": (world.token("slow", iat=now + 3600, exp=now + 7200), "not_yet_valid"),
        "wrong_issuer": (
            mint(rsa_slow, issuer="https://idp.example/realms/other", audience="axis-gateway"),
            "unknown_issuer",
        ),
        "no_issuer": (world.token("slow", iss=None), "bad_claims"),
        "wrong_audience": (world.token("slow", audience="account"), "wrong_audience"),
        "no_audience": (world.token("slow", audience=None), "wrong_audience"),
        "no_expiry": (world.token("slow", exp=None), "bad_claims"),
        "no_subject": (world.token("slow", sub=None), "bad_claims"),
        "empty_subject": (world.token("slow", sub=""), "bad_claims"),
        "no_client_claim": (world.token("slow", azp=None), "bad_claims"),
        "client_claim_not_a_string": (world.token("slow", azp=["a", "b"]), "bad_claims"),
        "unknown_client": (world.token("slow", azp="nobody-we-know"), "unknown_client"),
        "suspended_client": (world.token("slow", azp=world.suspended.client_id), "client_inactive"),
        "alg_none": (
            f"{b64(json.dumps({'alg': 'none', 'kid': rsa_slow.kid}).encode())}.{payload}.",
            "bad_algorithm",
        ),
        "hs256_with_public_key_pem": (
            _hs256({"alg": "HS256", "kid": rsa_slow.kid}, _claims_of(world), rsa_slow.public_pem),
            "bad_algorithm",
        ),
        "hs256_with_public_jwk": (
            _hs256({"alg": "HS256", "kid": rsa_slow.kid}, _claims_of(world), json.dumps(rsa_slow.public_jwk).encode()),
            "bad_algorithm",
        ),
        "rs256_header_on_the_ec_key": (world.token("slow", rsa_slow, kid=ec_slow.kid), "bad_algorithm"),
        "ps256_on_a_key_published_for_rs256": (world.token("fast", algorithm="PS256"), "bad_algorithm"),
        "hs256_with_an_hmac_key_of_the_jwks": (
            _hs256({"alg": "HS256", "kid": "hmac-key"}, _claims_of(world), b"shared-secret"),
            "bad_algorithm",
        ),
        "encryption_key": (world.token("slow", world.encryption_key), "unknown_kid"),
        "unknown_kid": (world.token("slow", kid="not-a-key-of-theirs"), "unknown_kid"),
        "no_kid": (jwt.encode(_claims_of(world), rsa_slow.private, algorithm="RS256"), "unknown_kid"),
        "key_of_another_trusted_issuer": (world.token("slow", world.realms["fast"].keys[0]), "unknown_kid"),
        "other_key_same_kid": (world.token("slow", stranger), "bad_signature"),
        "tampered_payload": (f"{head}.{tampered}.{signature}", "bad_signature"),
        "signature_removed": (f"{head}.{payload}.", "bad_signature"),
        "truncated": (good[: len(good) // 2], "malformed"),
        "huge_header": (
            b64(json.dumps({"alg": "RS256", "kid": rsa_slow.kid, "x": "a" * 20000}).encode())
            + f".{payload}.{signature}",
            "malformed",
        ),
        "deeply_nested_header": (b64(b"[" * 5000 + b"]" * 5000) + f".{payload}.{signature}", "malformed"),
        "non_json_payload": (f"{head}.{b64(b'{nope')}.{signature}", "malformed"),
        "garbage": ("not.a.token", "malformed"),
    }


BAD_TOKENS = [
    "expired",
    "not_yet_valid",
    "issued_in_the_future",
    "wrong_issuer",
    "no_issuer",
    "wrong_audience",
    "no_audience",
    "no_expiry",
    "no_subject",
    "empty_subject",
    "no_client_claim",
    "client_claim_not_a_string",
    "unknown_client",
    "suspended_client",
    "alg_none",
    "hs256_with_public_key_pem",
    "hs256_with_public_jwk",
    "rs256_header_on_the_ec_key",
    "ps256_on_a_key_published_for_rs256",
    "hs256_with_an_hmac_key_of_the_jwks",
    "encryption_key",
    "unknown_kid",
    "no_kid",
    "key_of_another_trusted_issuer",
    "other_key_same_kid",
    "tampered_payload",
    "signature_removed",
    "truncated",
    "huge_header",
    "deeply_nested_header",
    "non_json_payload",
    "garbage",
]


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_bad_external_tokens_get_401_and_their_reason_is_counted(
    world: World, api: httpx.Client, record_path: str, name: str
) -> None:
    token, reason = bad_tokens(world)[name]
    before = counter(api, "gateway_auth_failures_total", reason=reason)
    response = api.get(record_path, headers=bearer(token))
    assert_invalid_token(response)
    assert reason not in response.text
    assert counter(api, "gateway_auth_failures_total", reason=reason) == before + 1


def test_battery_lists_every_case(world: World) -> None:
    assert sorted(BAD_TOKENS) == sorted(bad_tokens(world))


# -- fetching keys: bounded, rotation picked up, provider down --------------------------------------------------


async def _flood(url: str, path: str, tokens: list[str], concurrency: int = 25) -> list[int]:
    statuses: list[int] = []
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(token: str) -> None:
            async with limit:
                response = await client.get(path, headers=bearer(token))
                statuses.append(response.status_code)

        await asyncio.gather(*(one(token) for token in tokens))
    return statuses


def test_a_flood_of_unknown_kids_fetches_at_most_once_per_interval(
    world: World, api: httpx.Client, record_path: str
) -> None:
    # Make sure the start-up fetch has happened, then count.
    assert api.get(record_path, headers=bearer(world.token("slow"))).status_code == 200
    slow, fast = world.realms["slow"], world.realms["fast"]
    key = slow.keys[0]
    tokens = [world.token("slow", key, kid=secrets.token_urlsafe(12)) for _ in range(1000)]
    before = slow.hits
    statuses = asyncio.run(_flood(world.gateway.url, record_path, tokens))
    assert Counter(statuses) == {401: 1000}
    assert slow.hits - before <= 1, slow.hits - before  # the slow realm refetches at most once an hour

    fast_key = fast.keys[0]
    tokens = [world.token("fast", fast_key, kid=secrets.token_urlsafe(12)) for _ in range(1000)]
    before = fast.hits
    started = time.monotonic()
    statuses = asyncio.run(_flood(world.gateway.url, record_path, tokens))
    elapsed = time.monotonic() - started
    assert Counter(statuses) == {401: 1000}
    assert fast.hits - before <= 1 + int(elapsed / FAST_INTERVAL) + 1, (fast.hits - before, elapsed)


def test_key_rotation_at_the_provider_is_picked_up_after_the_interval(
    world: World, api: httpx.Client, record_path: str
) -> None:
    fast = world.realms["fast"]
    old = fast.keys[0]
    # A token of the key about to be withdrawn, verified (and so cached) while the key is published.
    cached = world.token("fast", old)
    assert api.get(record_path, headers=bearer(cached)).status_code == 200
    # A fetch now (a token with an unknown kid, once the interval since the last fetch has passed).
    time.sleep(FAST_INTERVAL + 0.2)
    hits = fast.hits
    assert_invalid_token(api.get(record_path, headers=bearer(world.token("fast", kid="unknown-kid-1"))))
    assert fast.hits == hits + 1
    fetched = time.monotonic()

    new = rsa_key(alg="RS256")
    fast.keys = [new]  # the provider rotates: the old key is gone, a new one signs
    early = api.get(record_path, headers=bearer(world.token("fast", new)))
    if time.monotonic() - fetched < FAST_INTERVAL:
        assert_invalid_token(early)  # within the interval: not fetched again
        assert fast.hits == hits + 1
    time.sleep(max(0.0, FAST_INTERVAL - (time.monotonic() - fetched)) + 0.2)
    response = api.get(record_path, headers=bearer(world.token("fast", new)))
    assert response.status_code == 200, response.text
    assert fast.hits == hits + 2
    # Tokens of the withdrawn key are refused from then on, those verified (and cached) before included.
    assert_invalid_token(api.get(record_path, headers=bearer(world.token("fast", old))))
    assert_invalid_token(api.get(record_path, headers=bearer(cached)))
    fast.keys = [old, new]


def test_provider_down_keeps_cached_keys_working(world: World, api: httpx.Client, record_path: str) -> None:
    fast = world.realms["fast"]
    assert api.get(record_path, headers=bearer(world.token("fast", fast.keys[-1]))).status_code == 200
    errors = counter(api, "gateway_jwks_fetches_total", issuer=world.idp.issuer("fast"), outcome="error")
    fast.failing = True
    try:
        time.sleep(FAST_INTERVAL + 0.2)
        hits = fast.hits
        # An unknown kid makes the gateway ask, the provider fails: still a 401, never a 500.
        assert_invalid_token(api.get(record_path, headers=bearer(world.token("fast", kid="unknown-kid-2"))))
        assert fast.hits == hits + 1
        assert (
            counter(api, "gateway_jwks_fetches_total", issuer=world.idp.issuer("fast"), outcome="error") == errors + 1
        )
        # Keys fetched before keep verifying (fresh tokens, so that no verified token comes from the cache).
        for _ in range(3):
            response = api.get(record_path, headers=bearer(world.token("fast", fast.keys[-1])))
            assert response.status_code == 200, response.text
    finally:
        fast.failing = False


def test_provider_unreachable_keeps_cached_keys_working(
    make_settings: Callable[..., Settings], reader: ClientCredentials, record_path: str
) -> None:
    realm = Realm([ec_key()])
    idp = IdentityProvider({"p06": realm})
    issuer = ""

    def token(**kwargs: Any) -> str:
        return mint(
            realm.keys[0], issuer=issuer, audience="axis-gateway", algorithm="ES256", azp=reader.client_id, **kwargs
        )

    with idp:
        issuer = idp.issuer("p06")
        trusted = {"issuer": issuer, "jwks_url": idp.jwks_url("p06"), "min_refetch_seconds": 0.5, "timeout_seconds": 1}
        gateway = LiveServer(create_app(make_settings(trusted_issuers=[trusted])))
        gateway.__enter__()
        api = httpx.Client(base_url=gateway.url, timeout=30)
        # The keys are fetched while the provider is up...
        assert api.get(record_path, headers=bearer(token())).status_code == 200
    # ... and now nothing listens on its port.
    try:
        errors = counter(api, "gateway_jwks_fetches_total", issuer=issuer, outcome="error")
        time.sleep(0.6)
        assert_invalid_token(api.get(record_path, headers=bearer(token(kid="unknown-kid"))))
        assert counter(api, "gateway_jwks_fetches_total", issuer=issuer, outcome="error") == errors + 1
        for _ in range(3):
            response = api.get(record_path, headers=bearer(token()))
            assert response.status_code == 200, response.text
    finally:
        api.close()
        gateway.__exit__(None, None, None)
