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

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column("secret", existing_type=sa.String(128), type_=sa.String(512), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column("secret", existing_type=sa.String(512), type_=sa.String(128), existing_nullable=False)
