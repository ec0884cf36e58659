"""Dead letters of updates that would have broken the contract no longer quote the record: the message of each
rule quoted values of the stored record (a date of death before the date of birth told the date of birth to a
writer who may not read it). From this version the rules are named by path and type only; the ones recorded
before are replaced by a message without them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "the update would make the record break the contract: "
ERASED = (
    "the update would make the record break the contract (the rules broken were recorded with the record's "
    "values by an earlier version, and erased)"
)


def upgrade() -> None:
    operations = sa.table("exchange_operations", sa.column("last_error", sa.String()))
    op.execute(
        operations.update()
        .where(operations.c.last_error.like(PREFIX + "%"))
        .values(last_error=ERASED)
    )


def downgrade() -> None:
    """The values erased are not restored."""
