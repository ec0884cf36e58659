"""Tables of identity: clients (agency systems), their secrets and registered public keys, their grants, and the
gateway's own token-signing keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from gateway.core.db import UTCDateTime, utcnow


class ClientStatus(StrEnum):
    """Whether a client may obtain and use tokens."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


def _client_fk() -> Column[str]:
    return Column(String(64), ForeignKey("clients.client_id", ondelete="CASCADE"), nullable=False, index=True)


class Client(SQLModel, table=True):
    """An agency system allowed to call the gateway (OAuth 2.0 confidential client).

    What it may do with data comes from its grants; ``scopes`` holds only the non-data scopes (``admin``,
    ``audit``).
    """

    __tablename__ = "clients"

    client_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    agency_code: str | None = Field(default=None, max_length=32, description="Electronic agency code.")
    contact: str | None = Field(default=None, max_length=200, description="Who answers for the system.")
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: ClientStatus = Field(
        default=ClientStatus.ACTIVE,
        sa_column=Column(
            SAEnum(
                ClientStatus,
                name="client_status",
                native_enum=False,
                length=16,
                values_callable=lambda members: [member.value for member in members],
            ),
            nullable=False,
        ),
    )
    rate_limit_per_second: int | None = Field(default=None, description="Requests per second; default if None.")
    rate_limit_per_day: int | None = Field(default=None, description="Requests per day; default if None.")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ClientSecret(SQLModel, table=True):
    """One secret of a client, as a keyed hash (``hmac-sha256$<pepper id>$<hex>``; an argon2id hash if stored by an
    earlier version, until its next use). After a rotation the old one works until ``expires_at``."""

    __tablename__ = "client_secrets"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(sa_column=_client_fk())
    secret_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ClientKey(SQLModel, table=True):
    """A public key registered for a client, verifying its ``private_key_jwt`` assertions (RFC 7523)."""

    __tablename__ = "client_keys"

    kid: str = Field(primary_key=True, max_length=64, description="RFC 7638 thumbprint unless given.")
    client_id: str = Field(sa_column=_client_fk())
    algorithm: str = Field(max_length=16)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    not_after: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True), description="Certificate expiry, if any."
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class UsedAssertion(SQLModel, table=True):
    """The ``jti`` of a client assertion already used, kept until it expires, so it cannot be replayed."""

    __tablename__ = "used_assertions"

    client_id: str = Field(primary_key=True, max_length=64)
    jti: str = Field(primary_key=True, max_length=128)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class Grant(SQLModel, table=True):
    """Operations of one client on one database, limited to contract fields and, optionally, to purposes.

    ``fields`` ``None`` means every field of the contract; ``purposes`` ``None`` means any purpose. A grant
    applies from ``valid_from`` to ``valid_until`` (open ends when ``None``) unless revoked.
    """

    __tablename__ = "grants"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(
        sa_column=Column(String(64), ForeignKey("clients.client_id", ondelete="CASCADE"), nullable=False, index=True)
    )
    database: str = Field(max_length=32)
    operations: list[str] = Field(sa_column=Column(JSON, nullable=False))
    fields: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    purposes: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    require_purpose: bool = Field(default=True)
    require_actor: bool = Field(default=True)
    valid_from: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    valid_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class SigningKey(SQLModel, table=True):
    """A key of the gateway's token-signing keys, published in the JWKS while it may verify tokens.

    ``private_key`` is the private key's PEM encrypted with the data keys (``enc:v1:`` and a Fernet token), never
    plaintext; ``None`` for a key whose private part this database does not hold (keys published before the
    private parts moved into the database, or only to verify audit seals). ``serial`` numbers the keys that
    entered service here (generated or imported), and is unique: two processes that make a key at once cannot
    both succeed. The key with the highest ``serial`` that is not retired signs; a retired key stays published
    until the tokens it signed have expired.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (UniqueConstraint("serial", name="uq_signing_keys_serial"),)

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=16)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    retired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    private_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True), repr=False)
    serial: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
