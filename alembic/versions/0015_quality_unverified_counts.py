"""A scan's data-quality counts keep the records a rule could not verify (another database gave no usable answer),
beside those checked and failed, so that the report says how many of the records a score leaves out. Counts stored
before hold 0.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("quality_dimension_counts", "quality_rule_counts")


def upgrade() -> None:
    for table in TABLES:
        # The rows there are hold 0; the models give the value of the rows to come.
        op.add_column(table, sa.Column("unverified", sa.Integer(), nullable=False, server_default="0"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("unverified", server_default=None)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("unverified")
