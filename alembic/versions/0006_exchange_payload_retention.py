"""The exchange's payload retention: when an operation's submitted field values were erased, and the lease of
the job that erases them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gateway.core.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETAINED_CLAUSE = "payload_erased_at IS NULL AND state IN ('delivered', 'dead')"


def upgrade() -> None:
    with op.batch_alter_table("exchange_operations") as batch:
        batch.add_column(sa.Column("payload_erased_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_exchange_operations_retained",
        "exchange_operations",
        ["id"],
        postgresql_where=sa.text(RETAINED_CLAUSE),
        sqlite_where=sa.text(RETAINED_CLAUSE),
    )
    leases = sa.table("leases", sa.column("name"), sa.column("holder"), sa.column("expires_at", UTCDateTime()))
    op.bulk_insert(
        leases, [{"name": "exchange-retention", "holder": "", "expires_at": datetime(1970, 1, 1, tzinfo=UTC)}]
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM leases WHERE name = 'exchange-retention'"))
    op.drop_index("ix_exchange_operations_retained", table_name="exchange_operations")
    with op.batch_alter_table("exchange_operations") as batch:
        batch.drop_column("payload_erased_at")
