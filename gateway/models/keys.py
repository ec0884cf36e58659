"""The gateway's own token-signing keys: public halves, and private parts encrypted with the data keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow


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
