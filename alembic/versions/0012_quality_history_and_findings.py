"""Data quality over time and at the gate: the scores of every scan, kept (``quality_history``), and the quality
findings a receipt carries for the operations it accepted with a flag (``exchange_receipts.findings``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op
from gateway.core.db import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_quality_history_database_time", "quality_history", ["database_id", "recorded_at"])
    leases = sa.table("leases", sa.column("name"), sa.column("holder"), sa.column("expires_at", UTCDateTime()))
    # The lease of the process pruning the history past its retention.
    op.bulk_insert(
        leases, [{"name": "quality-history", "holder": "", "expires_at": datetime(1970, 1, 1, tzinfo=UTC)}]
    )
    with op.batch_alter_table("exchange_receipts") as batch:
        batch.add_column(sa.Column("findings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_receipts") as batch:
        batch.drop_column("findings")
    op.execute(sa.text("DELETE FROM leases WHERE name = 'quality-history'"))
    op.drop_index("ix_quality_history_database_time", table_name="quality_history")
    op.drop_table("quality_history")
