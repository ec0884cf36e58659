"""The integration axis records the evidence behind each state: a cause on connections and checks.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("axis_connections", "axis_checks"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("cause", sa.String(32), nullable=True))


def downgrade() -> None:
    for table in ("axis_connections", "axis_checks"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("cause")
