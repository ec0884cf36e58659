"""The axis history behind the monthly connection report: state transitions and hourly check counts.

The transitions start from each connection's present state, entered at its ``since``.

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from gateway.core.db import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "axis_transitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(500), nullable=True),
    )
    op.create_index("ix_axis_transitions_database_at", "axis_transitions", ["database_id", "at"])
    op.create_table(
        "axis_check_counts",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("hour", UTCDateTime(), primary_key=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO axis_transitions (database_id, at, state, cause) "
        "SELECT database_id, since, CASE WHEN maintenance THEN 'maintenance' ELSE state END, "
        "CASE WHEN maintenance THEN 'under maintenance' ELSE error END FROM axis_connections"
    )


def downgrade() -> None:
    op.drop_table("axis_check_counts")
    op.drop_index("ix_axis_transitions_database_at", table_name="axis_transitions")
    op.drop_table("axis_transitions")
