"""Webhook signing secrets are stored encrypted (``enc:v1:`` and a Fernet token): the column is widened.

Rows still in plaintext are encrypted by the gateway at startup, and by ``gateway keys rotate-data-key``
(the migration does not hold the data keys).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from gateway.core.migrations import MigrationRefused

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column("secret", existing_type=sa.String(128), type_=sa.String(512), existing_nullable=False)


def refuse_downgrade(connection: Connection) -> str | None:
    """Why going below this revision would lose data (the gateway refuses before any step), or ``None``."""
    longer = connection.execute(sa.text("SELECT count(*) FROM webhook_subscriptions WHERE length(secret) > 128"))
    if not (count := longer.scalar()):
        return None
    return (
        f"{count} webhook subscriptions keep encrypted secrets longer than the 128 characters the column held "
        "before 0007: going below it would cut them. End those subscriptions first, or stay at 0007 or later"
    )


def downgrade() -> None:
    if reason := refuse_downgrade(op.get_bind()):
        raise MigrationRefused(reason)
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column("secret", existing_type=sa.String(512), type_=sa.String(128), existing_nullable=False)
