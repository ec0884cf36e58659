"""The exchange: submissions received (receipts), the operations they carry and their delivery, the change feed
of each database, and webhook subscriptions to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from gateway.core.db import UTCDateTime, utcnow

UNFINISHED_CLAUSE = "state IN ('pending', 'delivering')"
#: The operations waiting for their delivery (not those a dispatcher has taken): an index with this condition takes
#: an entry when an operation is stored or sent back to wait, never when it is claimed or delivered.
WAITING_CLAUSE = "state = 'pending'"
#: Finished operations whose field values are still kept: what the retention job walks.
RETAINED_CLAUSE = "payload_erased_at IS NULL AND state IN ('delivered', 'dead')"
# SQLite numbers rows only through an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer, "sqlite")


class ExchangeReceipt(SQLModel, table=True):
    """One accepted submission: who sent it under which idempotency key, and the receipt it was answered with.

    A repeated ``(client_id, database_id, idempotency_key)`` is answered with the stored receipt; ``request_hash``
    tells a true repetition from a different request reusing the key.
    """

    __tablename__ = "exchange_receipts"
    __table_args__ = (UniqueConstraint("client_id", "database_id", "idempotency_key", name="uq_exchange_receipt_key"),)

    id: str = Field(primary_key=True, max_length=36)
    client_id: str = Field(sa_column=Column(String(64), nullable=False))
    database_id: str = Field(sa_column=Column(String(32), nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(128), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    purpose: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    accepted: int = Field(sa_column=Column(Integer, nullable=False))
    rejected: int = Field(sa_column=Column(Integer, nullable=False))
    rejections: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Data-quality rules the accepted operations break, flagged at intake (``None`` before revision 0012).
    findings: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ExchangeOperation(SQLModel, table=True):
    """One accepted create/update/delete of one record, waiting for or past its delivery to the sector system.

    ``state``: ``pending`` (to deliver at ``next_attempt_at``), ``delivering`` (claimed by a dispatcher until
    ``claimed_until``), ``delivered``, ``dead`` (dead-lettered after too many failures or a permanent refusal).
    ``generation`` is raised by a replay, so that the sector system sees a new idempotency token.
    ``fields`` (the submitted values) are erased once the operation's retention has ended
    (``payload_erased_at``); its key, metadata, state and outcome stay, for the receipt and the feed.
    ``client_id`` is the submitting client's (its receipt's), kept on the operation so that a client's unfinished
    operations are counted from one index (the bound on a client's queue, :mod:`gateway.exchange.intake`);
    ``None`` only for a row stored without a receipt.
    """

    __tablename__ = "exchange_operations"
    __table_args__ = (
        Index("ix_exchange_operations_due", "state", "next_attempt_at"),
        # The operations still to deliver, in order: what a dispatcher's claim walks.
        Index(
            "ix_exchange_operations_queue",
            "id",
            postgresql_where=text(UNFINISHED_CLAUSE),
            sqlite_where=text(UNFINISHED_CLAUSE),
        ),
        Index("ix_exchange_operations_receipt", "receipt_id", "position"),
        # The waiting operations of one client on one database: what the bound on a client's queue counts.
        Index(
            "ix_exchange_operations_client_queue",
            "client_id",
            "database_id",
            postgresql_where=text(WAITING_CLAUSE),
            sqlite_where=text(WAITING_CLAUSE),
        ),
        Index(
            "ix_exchange_operations_retained",
            "id",
            postgresql_where=text(RETAINED_CLAUSE),
            sqlite_where=text(RETAINED_CLAUSE),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    receipt_id: str = Field(sa_column=Column(String(36), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    database_id: str = Field(sa_column=Column(String(32), nullable=False))
    client_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    record_id: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))
    state: str = Field(sa_column=Column(String(12), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    generation: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    accepted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    reference: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    payload_erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ExchangeFeed(SQLModel, table=True):
    """The last position of one database's change feed; incremented under a row lock, so that positions follow
    commit order and a reader never skips a change committed late."""

    __tablename__ = "exchange_feeds"

    database_id: str = Field(primary_key=True, max_length=32)
    position: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ExchangeChange(SQLModel, table=True):
    """One entry of a database's change feed: a delivered operation, at its position in the feed."""

    __tablename__ = "exchange_changes"
    __table_args__ = (
        # A record's changes by when they were made: what a dispatcher reads to find the changes applied with a
        # later ``changed_at`` than an operation's own (which supersede it, wholly or in part).
        Index("ix_exchange_changes_record", "database_id", "record_id", "changed_at"),
    )

    database_id: str = Field(sa_column=Column(String(32), primary_key=True))
    position: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    record_id: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    changed_fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    operation_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    receipt_id: str = Field(sa_column=Column(String(36), nullable=False))
    changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    delivered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookSubscription(SQLModel, table=True):
    """A client's subscription to a database's change feed: where to post, the signing secret, how far it got."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_client", "client_id"),)

    id: str = Field(primary_key=True, max_length=36)
    client_id: str = Field(sa_column=Column(String(64), nullable=False))
    database_id: str = Field(sa_column=Column(String(32), nullable=False))
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    secret: str = Field(sa_column=Column(String(512), nullable=False))
    purpose: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    position: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    active: bool = Field(default=True)
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
