"""The gateway's signing keys live in the database: their private parts, encrypted with the data keys, and the
serial that orders the keys that entered service (unique, so that processes starting at once make one key).

Existing rows keep no private part: the gateway imports the key file on its first start (or ``gateway keys
import`` does), keeping its ``kid``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(sa.Column("private_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("serial", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_signing_keys_serial", ["serial"])


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_constraint("uq_signing_keys_serial", type_="unique")
        batch.drop_column("serial")
        batch.drop_column("private_key")
