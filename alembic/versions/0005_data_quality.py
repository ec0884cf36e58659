"""Data quality: scores per database and source, counts per dimension and rule, the worst records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gateway.core.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_scores",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("contract", sa.String(100), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "quality_dimension_counts",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
    )
    op.create_table(
        "quality_rule_counts",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("rule_id", sa.String(100), primary_key=True),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
    )
    op.create_table(
        "quality_worst_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("record_ref", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_quality_worst_records_rule", "quality_worst_records", ["database_id", "source", "rule_id"])


def downgrade() -> None:
    op.drop_index("ix_quality_worst_records_rule", table_name="quality_worst_records")
    op.drop_table("quality_worst_records")
    op.drop_table("quality_rule_counts")
    op.drop_table("quality_dimension_counts")
    op.drop_table("quality_scores")
