"""The integration axis: connection states, health-check history, leases, operational status.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gateway.core.db import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "axis_connections",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("last_check", UTCDateTime(), nullable=True),
        sa.Column("last_success", UTCDateTime(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("maintenance", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "axis_checks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
    )
    op.create_index("ix_axis_checks_database_checked", "axis_checks", ["database_id", "checked_at"])
    leases = op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.bulk_insert(leases, [{"name": "axis-health", "holder": "", "expires_at": datetime(1970, 1, 1, tzinfo=UTC)}])
    op.create_table(
        "ops_status",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("good_at", UTCDateTime(), nullable=True),
        sa.Column("detail", sa.String(1000), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("ops_status")
    op.drop_table("leases")
    op.drop_index("ix_axis_checks_database_checked", table_name="axis_checks")
    op.drop_table("axis_checks")
    op.drop_table("axis_connections")
