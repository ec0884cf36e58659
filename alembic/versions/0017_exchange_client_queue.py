"""Each operation names the client that submitted it (``client_id``, as its receipt does), and the operations
waiting for delivery of one client on one database have an index of their own: a submission that would take its client past
``GATEWAY_EXCHANGE_CLIENT_QUEUE_MAX`` operations waiting for delivery is refused, and that count is read from this index
(a few entries per operation the client has waiting) rather than from every operation waiting or every receipt the
client ever had.

The operations stored before are given their receipt's client (all of them: a dead letter retried, or a delivered
operation replayed, waits again); one without a receipt keeps none and is counted for no client.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING_CLAUSE = "state = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table("exchange_operations") as batch:
        batch.add_column(sa.Column("client_id", sa.String(64), nullable=True))
    operations = sa.table("exchange_operations", sa.column("receipt_id", sa.String()), sa.column("client_id"))
    receipts = sa.table("exchange_receipts", sa.column("id", sa.String()), sa.column("client_id", sa.String()))
    submitter = sa.select(receipts.c.client_id).where(receipts.c.id == operations.c.receipt_id).scalar_subquery()
    op.execute(operations.update().values(client_id=submitter))
    op.create_index(
        "ix_exchange_operations_client_queue",
        "exchange_operations",
        ["client_id", "database_id"],
        postgresql_where=sa.text(WAITING_CLAUSE),
        sqlite_where=sa.text(WAITING_CLAUSE),
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_operations_client_queue", table_name="exchange_operations")
    with op.batch_alter_table("exchange_operations") as batch:
        batch.drop_column("client_id")
