"""A database's change feed is read by record and time of change: before delivering an update or a delete, a dispatcher
looks for changes of the same record applied already with a later ``changed_at``, which supersede it (an older change
delivered late must not overwrite a newer one). Changes stored before are indexed too.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_exchange_changes_record", "exchange_changes", ["database_id", "record_id", "changed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_changes_record", table_name="exchange_changes")
