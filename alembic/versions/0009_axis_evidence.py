"""The integration axis records the evidence behind each state: a cause on connections and checks, and each
process's passive evidence (circuit state, calls of the window) shared through ``axis_evidence``.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gateway.core.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("axis_connections", "axis_checks"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("cause", sa.String(32), nullable=True))
    op.create_table(
        "axis_evidence",
        sa.Column("database_id", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(200), primary_key=True),
        sa.Column("circuit", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("violations", sa.Integer(), nullable=False),
        sa.Column("p95_ms", sa.Float(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("axis_evidence")
    for table in ("axis_connections", "axis_checks"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("cause")
