"""Client public keys and client authentication by assertion (``private_key_jwt``, RFC 7523 section 2.2).

A client registers public keys (a PEM public key, a PEM X.509 certificate - as agencies holding
government-issued certificates do - or a JWK); it then authenticates at the token endpoint with a short-lived JWT
signed by one of them. Each assertion's ``jti`` is used once: it is kept in ``used_assertions`` until the
assertion expires (expired rows are pruned as new ones are recorded), so a captured assertion cannot be replayed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.db import utcnow
from gateway.core.logs import get_logger
from gateway.core.problems import Conflict, NotFound, ValidationFailed
from gateway.core.settings import JwtAlgorithm, Settings
from gateway.identity.access import AccessControl, announce_change
from gateway.identity.key_material import SIGNATURE_ALGORITHMS, UnusableKey, load_client_public_key
from gateway.identity.models import Client, ClientKey, ClientStatus, UsedAssertion
from gateway.identity.tokens import AssertionRejected, ClientAssertion, TokenService

#: Key ids: printable ASCII without spaces, as long as the column allows.
KID_PATTERN = re.compile(r"^[\x21-\x7e]{1,64}$")
MAX_KEY_MATERIAL = 16384

log = get_logger(__name__)

Kid = Annotated[str, StringConstraints(pattern=KID_PATTERN.pattern)]


class ClientKeyRegistration(BaseModel):
    """A public key to register for a client: exactly one of ``pem`` (public key or certificate) and ``jwk``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["pem"]}, {"required": ["jwk"]}]}
    )

    pem: str | SkipJsonSchema[None] = Field(
        default=None,
        max_length=MAX_KEY_MATERIAL,
        description="A PEM public key (`BEGIN PUBLIC KEY`) or X.509 certificate (`BEGIN CERTIFICATE`); a "
        "certificate's expiry becomes the key's `not_after`.",
    )
    jwk: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None, description="A public JWK (EC P-256/384/521 or RSA >= 2048)."
    )
    kid: Kid | None = Field(default=None, description="The key id; the JWK's own, else its RFC 7638 thumbprint.")
    algorithm: JwtAlgorithm | None = Field(
        default=None, description="The algorithm the client signs with; the JWK's `alg`, else RS256 or the curve's."
    )

    @model_validator(mode="after")
    def _one_material(self) -> Self:
        if (self.pem is None) == (self.jwk is None):
            raise ValueError("give exactly one of pem and jwk")
        return self


class ClientKeyPublic(BaseModel):
    """A registered client key (public material only)."""

    model_config = ConfigDict(from_attributes=True)

    kid: str
    client_id: str
    algorithm: str
    public_jwk: dict[str, Any]
    not_after: datetime | None = Field(description="The certificate's expiry; the key is refused after it.")
    created_at: datetime
    revoked_at: datetime | None


def _invalid(loc: Sequence[str], message: str, kind: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"loc": ["body", *loc], "msg": message, "type": kind}])


async def require_client_exists(session: AsyncSession, client_id: str) -> Client:
    """The client, or 404."""
    client = await session.get(Client, client_id)
    if client is None:
        raise NotFound("There is no client with this id.")
    return client


async def register_client_key(
    session: AsyncSession,
    client_id: str,
    material: str | bytes | Mapping[str, Any],
    *,
    kid: str | None = None,
    algorithm: str | None = None,
) -> ClientKey:
    """Register a public key for ``client_id`` (404 for an unknown client, 422 for unusable material or an
    expired certificate, 409 when the key id is taken)."""
    await require_client_exists(session, client_id)
    if kid is not None and not KID_PATTERN.fullmatch(kid):
        raise _invalid(["kid"], "A key id is 1-64 printable ASCII characters without spaces.", "kid")
    if algorithm is not None and algorithm not in SIGNATURE_ALGORITHMS:
        raise _invalid(["algorithm"], f"Use one of {', '.join(sorted(SIGNATURE_ALGORITHMS))}.", "algorithm")
    where = "jwk" if isinstance(material, Mapping) else "pem"
    try:
        key = load_client_public_key(material, kid=kid, algorithm=algorithm)
    except UnusableKey as exc:
        raise _invalid([where], f"This key cannot be registered: {exc}.", "unusable_key") from None
    if not KID_PATTERN.fullmatch(key.kid):
        raise _invalid(["kid"], "The key's own id is not 1-64 printable ASCII characters; give one.", "kid")
    now = utcnow()
    if key.not_after is not None and key.not_after <= now:
        raise _invalid([where], "This certificate has expired.", "expired_certificate")
    if await session.get(ClientKey, key.kid) is not None:
        raise Conflict("A key with this id is already registered.", kid=key.kid)
    row = ClientKey(
        kid=key.kid,
        client_id=client_id,
        algorithm=key.algorithm,
        public_jwk=key.jwk,
        not_after=key.not_after,
        created_at=now,
    )
    session.add(row)
    # The tokens obtained with the key name it: every process learns of it (see ClientAccess.credential_in_force).
    await announce_change(session, client_id)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict("A key with this id is already registered.", kid=key.kid) from None
    log.info("client key registered", client_id=client_id, kid=key.kid, algorithm=key.algorithm)
    return row


async def list_client_keys(session: AsyncSession, client_id: str) -> list[ClientKey]:
    """Every key of the client, revoked ones included, oldest first (404 for an unknown client)."""
    await require_client_exists(session, client_id)
    rows = await session.exec(
        select(ClientKey).where(ClientKey.client_id == client_id).order_by(col(ClientKey.created_at))
    )
    return list(rows)


async def revoke_client_key(
    session: AsyncSession, kid: str, *, client_id: str | None = None, access: AccessControl | None = None
) -> ClientKey:
    """Revoke a key at once (404 when no such key, or not the given client's); revoking twice keeps the first
    date. The tokens obtained with it stop working too: every gateway process is told."""
    row = await session.get(ClientKey, kid)
    if row is None or (client_id is not None and row.client_id != client_id):
        raise NotFound("There is no such key for this client.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        await announce_change(session, row.client_id)
        await session.commit()
        if access is not None:
            access.invalidate(row.client_id)
        log.info("client key revoked", client_id=row.client_id, kid=kid)
    return row


async def usable_client_keys(session: AsyncSession, client_id: str, now: datetime) -> list[ClientKey]:
    """The client's keys that may sign an assertion now: not revoked, certificate not expired."""
    rows = await session.exec(
        select(ClientKey).where(
            ClientKey.client_id == client_id,
            col(ClientKey.revoked_at).is_(None),
            or_(col(ClientKey.not_after).is_(None), col(ClientKey.not_after) > now),
        )
    )
    return list(rows)


def assertion_audiences(settings: Settings) -> frozenset[str]:
    """What a client assertion's ``aud`` may name: the gateway's issuer identifier (``token_issuer``), and the
    token endpoint's public URL when it is configured (``token_endpoint_url``). The URL a request arrived at is
    not used: it comes from the request's own Host header."""
    audiences = {settings.token_issuer}
    if settings.token_endpoint_url:
        audiences.add(settings.token_endpoint_url)
    return frozenset(audiences)


class AssertionFailed(Exception):
    """Client authentication by assertion failed; ``reason`` is bounded (for metrics and logs)."""

    def __init__(self, reason: str, client_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.client_id = client_id


async def _consume(session: AsyncSession, assertion: ClientAssertion, now: datetime) -> None:
    """Record the assertion's ``jti`` (pruning expired ones); :class:`AssertionFailed` when already used."""
    await session.exec(delete(UsedAssertion).where(col(UsedAssertion.expires_at) < now))
    expires_at = datetime.fromtimestamp(assertion.expires_at, UTC)
    session.add(UsedAssertion(client_id=assertion.client_id, jti=assertion.jti, expires_at=expires_at))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise AssertionFailed("replayed", assertion.client_id) from None


async def authenticate_assertion(session: AsyncSession, tokens: TokenService, assertion: str) -> tuple[Client, str]:
    """The active client whose registered key signed this assertion, which had not been used before, and that
    key's id (the tokens issued name it: they stop working with it); else :class:`AssertionFailed`."""
    try:
        client_id = tokens.assertion_client_id(assertion)
    except AssertionRejected as exc:
        raise AssertionFailed(exc.reason) from None
    client = await session.get(Client, client_id)
    if client is None:
        raise AssertionFailed("unknown_client", client_id)
    if client.status != ClientStatus.ACTIVE:
        raise AssertionFailed("client_inactive", client_id)
    now = utcnow()
    keys = await usable_client_keys(session, client_id, now)
    try:
        verified = tokens.verify_client_assertion(
            assertion, [(key.kid, key.algorithm, key.public_jwk) for key in keys], now=now.timestamp()
        )
    except AssertionRejected as exc:
        raise AssertionFailed(exc.reason, client_id) from None
    await _consume(session, verified, now)
    return client, verified.kid
