"""The audit trail: hash-chained events, the chain head, signed seals, and the data subjects each event touched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from gateway.core.db import UTCDateTime

#: The events that name a target client: administration only, a few among millions of exchanges.
TARGETED_CLAUSE = "target_client IS NOT NULL"


class AuditEvent(SQLModel, table=True):
    """One exchange, allowed or refused, or one administrative change. ``hash`` covers every other column and
    ``prev_hash`` (``fields``, ``action``, ``target_client`` and ``change`` when they are not null).

    Events carry identifiers (client, actor, purpose, record ids, the ids an administrator acted on), never the
    personal data exchanged nor a secret; the response body is represented by its SHA-256 only.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_client_time", "client_id", "occurred_at"),
        Index("ix_audit_events_database_time", "database", "occurred_at"),
        Index("ix_audit_events_purpose_time", "purpose", "occurred_at"),
        Index("ix_audit_events_time", "occurred_at"),
        # Only the administration events are in it: the exchanges' inserts do not maintain it.
        Index(
            "ix_audit_events_target",
            "target_client",
            "seq",
            postgresql_where=text(TARGETED_CLAUSE),
            sqlite_where=text(TARGETED_CLAUSE),
        ),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    request_id: str = Field(max_length=128)
    client_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    purpose: str | None = Field(default=None, max_length=64)
    database: str | None = Field(default=None, max_length=32)
    operation: str = Field(max_length=32)
    record_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    outcome: str = Field(max_length=16, description="allowed, refused or failed")
    status: int
    reason: str | None = Field(default=None, max_length=64, description="Why it was refused or failed.")
    latency_ms: float
    response_sha256: str = Field(max_length=64)
    fields: list[str] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="The fields an allowed data exchange's answer could carry (``*``: every field); null otherwise.",
    )
    action: str | None = Field(
        default=None,
        max_length=64,
        description="What an administrator did (``grant.add``, ``client.suspend``...); null for the other events.",
    )
    target_client: str | None = Field(
        default=None, max_length=64, description="The client an administrator acted on (or asked to), if any."
    )
    change: dict[str, Any] | None = Field(
        default=None,
        sa_column=Column(JSON(none_as_null=True), nullable=True),
        description="What the administrator's action changed, as identifiers (ids, database, operations, field "
        "names, purposes, scopes), never a secret nor personal data; null for the other events.",
    )
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditSubject(SQLModel, table=True):
    """Which events touched which data subject (a record id), for "who looked at my record?"."""

    __tablename__ = "audit_subjects"

    subject_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class AuditHead(SQLModel, table=True):
    """The single row holding the chain's last sequence number and hash; writers lock it to append."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AuditSeal(SQLModel, table=True):
    """A signature by the gateway's key over the chain head at ``seq``: truncating or rewriting the chain up
    to a seal cannot go unnoticed without the private key."""

    __tablename__ = "audit_seals"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=64)
    kid: str = Field(max_length=64)
    signature: str = Field(sa_column=Column(Text, nullable=False), description="Compact JWS over seq and hash.")
    sealed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
