"""Grants: what one client may do with one national database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow


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
