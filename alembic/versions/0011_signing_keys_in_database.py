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
from sqlalchemy.engine import Connection

from alembic import op
from gateway.core.migrations import MigrationRefused

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(sa.Column("private_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("serial", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_signing_keys_serial", ["serial"])


def refuse_downgrade(connection: Connection) -> str | None:
    """Why going below this revision would lose data (the gateway refuses before any step), or ``None``."""
    held = connection.execute(sa.text("SELECT count(*) FROM signing_keys WHERE private_key IS NOT NULL")).scalar()
    if not held:
        return None
    return (
        f"{held} signing keys keep their private part in the database since 0011: going below it would erase "
        "them, and the audit seals they signed could no longer be checked against a key the data key vouches for. "
        "Save the public keys first (GET /.well-known/jwks.json, for `gateway audit verify --trusted-keys`), and "
        "keep a signing key file to import; or stay at 0011 or later"
    )


def downgrade() -> None:
    if reason := refuse_downgrade(op.get_bind()):
        raise MigrationRefused(reason)
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_constraint("uq_signing_keys_serial", type_="unique")
        batch.drop_column("serial")
        batch.drop_column("private_key")
