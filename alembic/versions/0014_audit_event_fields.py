"""Audit events name the fields an allowed data exchange's answer could carry (the fields its grants cover, or
``*`` for every field), so that an inspector learns what personal data was disclosed, not only of whom. The events
recorded before hold none (null), and their hashes are unchanged: a null ``fields`` is not hashed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alembic import op
from gateway.core.migrations import MigrationRefused

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("fields", sa.JSON(), nullable=True))


def refuse_downgrade(connection: Connection) -> str | None:
    """Why going below this revision would lose data (the gateway refuses before any step), or ``None``."""
    named = connection.execute(sa.text("SELECT count(*) FROM audit_events WHERE fields IS NOT NULL")).scalar()
    if not named:
        return None
    return (
        f"{named} audit events name the fields they disclosed since 0014, and their hashes cover those names: going "
        "below it would erase them, and the audit chain would no longer verify from the first of them. Stay at "
        "0014 or later"
    )


def downgrade() -> None:
    if reason := refuse_downgrade(op.get_bind()):
        raise MigrationRefused(reason)
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("fields")
