"""Tables of the gateway's own database. They are created only by the Alembic migrations in ``alembic/``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from .db import UTCDateTime, utcnow


class ClientStatus(StrEnum):
    """Whether a client may obtain and use tokens."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class Client(SQLModel, table=True):
    """An agency system allowed to call the gateway (OAuth 2.0 confidential client)."""

    __tablename__ = "clients"

    client_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    agency_code: str | None = Field(default=None, max_length=32, description="Electronic agency code.")
    secret_hash: str = Field(max_length=255, description="argon2id hash of the client secret.")
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
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SigningKey(SQLModel, table=True):
    """A public key of the gateway's token-signing keys, published in the JWKS while it may verify tokens."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=16)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    retired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
