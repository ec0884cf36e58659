"""Clients (agency systems), their secrets and their registered public keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow


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
