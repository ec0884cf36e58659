"""The exchange: receipts, operations and their delivery, change feeds, webhook subscriptions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gateway.core.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "exchange_receipts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("rejections", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("client_id", "database_id", "idempotency_key", name="uq_exchange_receipt_key"),
    )
    op.create_table(
        "exchange_operations",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("receipt_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_exchange_operations_due", "exchange_operations", ["state", "next_attempt_at"])
    unfinished = sa.text("state IN ('pending', 'delivering')")
    op.create_index(
        "ix_exchange_operations_queue",
        "exchange_operations",
        ["id"],
        postgresql_where=unfinished,
        sqlite_where=unfinished,
    )
    op.create_index("ix_exchange_operations_receipt", "exchange_operations", ["receipt_id", "position"])
    op.create_table(
        "exchange_feeds",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "exchange_changes",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("operation_id", sa.BigInteger(), nullable=False),
        sa.Column("receipt_id", sa.String(36), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_delivered_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_webhook_subscriptions_client", "webhook_subscriptions", ["client_id"])
    leases = sa.table("leases", sa.column("name"), sa.column("holder"), sa.column("expires_at", UTCDateTime()))
    op.bulk_insert(
        leases,
        [
            {"name": name, "holder": "", "expires_at": datetime(1970, 1, 1, tzinfo=UTC)}
            for name in ("exchange-dispatch", "exchange-webhooks")
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM leases WHERE name IN ('exchange-dispatch', 'exchange-webhooks')"))
    op.drop_index("ix_webhook_subscriptions_client", table_name="webhook_subscriptions")
    op.drop_table("webhook_subscriptions")
    op.drop_table("exchange_changes")
    op.drop_table("exchange_feeds")
    op.drop_index("ix_exchange_operations_receipt", table_name="exchange_operations")
    op.drop_index("ix_exchange_operations_queue", table_name="exchange_operations")
    op.drop_index("ix_exchange_operations_due", table_name="exchange_operations")
    op.drop_table("exchange_operations")
    op.drop_table("exchange_receipts")
