"""Audit events say what an administrator did: the action (``grant.add``, ``client.suspend``, ``key.revoke``...),
the client acted on (``target_client``, indexed for the events that have one: administration only) and what changed
(``change``: identifiers only, never a secret nor personal data), for the admin API and the command line alike. The
events recorded before hold none (null), and their hashes are unchanged: a null column is not hashed.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alembic import op
from gateway.core.migrations import MigrationRefused

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TARGETED_CLAUSE = "target_client IS NOT NULL"


def upgrade() -> None:
    # Added in place (the table is the largest of the database): nothing is rewritten.
    op.add_column("audit_events", sa.Column("action", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("target_client", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("change", sa.JSON(), nullable=True))
    op.create_index(
        "ix_audit_events_target",
        "audit_events",
        ["target_client", "seq"],
        postgresql_where=sa.text(TARGETED_CLAUSE),
        sqlite_where=sa.text(TARGETED_CLAUSE),
    )


def refuse_downgrade(connection: Connection) -> str | None:
    """Why going below this revision would lose data (the gateway refuses before any step), or ``None``."""
    described = connection.execute(
        sa.text(
            "SELECT count(*) FROM audit_events WHERE action IS NOT NULL OR target_client IS NOT NULL "
            "OR change IS NOT NULL"
        )
    ).scalar()
    if not described:
        return None
    return (
        f"{described} audit events say what an administrator did since 0018, and their hashes cover it: going below "
        "it would erase that, and the audit chain would no longer verify from the first of them. Stay at 0018 or "
        "later"
    )


def downgrade() -> None:
    if reason := refuse_downgrade(op.get_bind()):
        raise MigrationRefused(reason)
    op.drop_index("ix_audit_events_target", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("change")
        batch.drop_column("target_client")
        batch.drop_column("action")
