"""The integration axis keeps when a real call through the gateway was last answered by each sector system (any
process, a good answer: not a failure, not a record breaking the contract), beside the last good health check: a
connection can answer its checks while its clients' calls fail, and a window's counts alone do not say since when.
Connections recorded before hold null until their next answered call.

Each process's shared evidence also counts the calls and failures of each operation (``axis_evidence.operations``):
a search failing every time is lost among many good reads in the window's totals.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from gateway.core.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("axis_connections", sa.Column("last_answered_at", UTCDateTime(), nullable=True))
    op.add_column("axis_evidence", sa.Column("operations", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("axis_evidence") as batch:
        batch.drop_column("operations")
    with op.batch_alter_table("axis_connections") as batch:
        batch.drop_column("last_answered_at")
