"""The gateway's own token-signing keys (their public halves)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow


class SigningKey(SQLModel, table=True):
    """A public key of the gateway's token-signing keys, published in the JWKS while it may verify tokens.

    The newest key without ``retired_at`` signs; a retired key stays published until the tokens it signed
    have expired.
    """

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=16)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    retired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
