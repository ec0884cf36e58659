"""Grants, rotating client secrets, client keys, used assertions, the audit trail.

Data scopes of existing clients (``database:operation``) become grants on every field, without purpose or
actor requirements (what those clients could do before); client secrets move to ``client_secrets``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gateway.core.db import UTCDateTime, utcnow

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA_SCOPE_OPERATIONS = ("read", "search", "submit")


def _client_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "client_id", sa.String(64), sa.ForeignKey("clients.client_id", ondelete="CASCADE"), nullable=False, index=True
    )


def upgrade() -> None:
    # Read the old columns before altering "clients": on SQLite the batch alter recreates the table, and no
    # table may reference it yet (dropping a parent table cascades to its children there).
    bind = op.get_bind()
    old_clients = sa.table(
        "clients", sa.column("client_id", sa.String), sa.column("secret_hash", sa.String), sa.column("scopes", sa.JSON)
    )
    existing = bind.execute(sa.select(old_clients.c.client_id, old_clients.c.secret_hash, old_clients.c.scopes)).all()
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("secret_hash")
        batch.add_column(sa.Column("contact", sa.String(200), nullable=True))
        batch.add_column(sa.Column("rate_limit_per_second", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rate_limit_per_day", sa.Integer(), nullable=True))

    op.create_table(
        "client_secrets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _client_fk(),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "client_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        _client_fk(),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "used_assertions",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("jti", sa.String(128), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _client_fk(),
        sa.Column("database", sa.String(32), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("purposes", sa.JSON(), nullable=True),
        sa.Column("require_purpose", sa.Boolean(), nullable=False),
        sa.Column("require_actor", sa.Boolean(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=True),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("database", sa.String(32), nullable=True),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("response_sha256", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_client_time", "audit_events", ["client_id", "occurred_at"])
    op.create_index("ix_audit_events_database_time", "audit_events", ["database", "occurred_at"])
    op.create_index("ix_audit_events_purpose_time", "audit_events", ["purpose", "occurred_at"])
    op.create_index("ix_audit_events_time", "audit_events", ["occurred_at"])
    op.create_table(
        "audit_subjects",
        sa.Column("subject_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "audit_seals",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
    )

    clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("scopes", sa.JSON))
    secrets = sa.table(
        "client_secrets",
        sa.column("client_id", sa.String),
        sa.column("secret_hash", sa.String),
        sa.column("created_at", UTCDateTime()),
    )
    grants = sa.table(
        "grants",
        sa.column("client_id", sa.String),
        sa.column("database", sa.String),
        sa.column("operations", sa.JSON),
        sa.column("require_purpose", sa.Boolean),
        sa.column("require_actor", sa.Boolean),
        sa.column("created_at", UTCDateTime()),
    )
    now = utcnow()
    for client_id, secret_hash, scopes in existing:
        bind.execute(secrets.insert().values(client_id=client_id, secret_hash=secret_hash, created_at=now))
        by_database: dict[str, list[str]] = {}
        kept: list[str] = []
        for scope in scopes or []:
            database, _, operation = scope.partition(":")
            if operation in DATA_SCOPE_OPERATIONS:
                by_database.setdefault(database, []).append(operation)
            else:
                kept.append(scope)
        for database, operations in by_database.items():
            bind.execute(
                grants.insert().values(
                    client_id=client_id,
                    database=database,
                    operations=operations,
                    require_purpose=False,
                    require_actor=False,
                    created_at=now,
                )
            )
        bind.execute(clients.update().where(clients.c.client_id == client_id).values(scopes=kept))


def downgrade() -> None:
    bind = op.get_bind()
    clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("scopes", sa.JSON))
    secrets = sa.table(
        "client_secrets", sa.column("id", sa.Integer), sa.column("client_id", sa.String), sa.column("secret_hash", sa.String)
    )
    grants = sa.table(
        "grants",
        sa.column("client_id", sa.String),
        sa.column("database", sa.String),
        sa.column("operations", sa.JSON),
        sa.column("revoked_at", UTCDateTime()),
    )
    restored: dict[str, tuple[str, list[str]]] = {}
    for client_id, scopes in bind.execute(sa.select(clients.c.client_id, clients.c.scopes)).all():
        newest = bind.execute(
            sa.select(secrets.c.secret_hash)
            .where(secrets.c.client_id == client_id)
            .order_by(secrets.c.id.desc())
            .limit(1)
        ).scalar()
        all_scopes = list(scopes or [])
        for database, operations in bind.execute(
            sa.select(grants.c.database, grants.c.operations).where(
                grants.c.client_id == client_id, grants.c.revoked_at.is_(None)
            )
        ).all():
            all_scopes.extend(f"{database}:{operation}" for operation in operations)
        restored[client_id] = (newest or "!", list(dict.fromkeys(all_scopes)))

    for table in (
        "audit_seals",
        "audit_head",
        "audit_subjects",
        "audit_events",
        "grants",
        "used_assertions",
        "client_keys",
        "client_secrets",
    ):
        op.drop_table(table)

    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("secret_hash", sa.String(255), nullable=True))
        batch.drop_column("rate_limit_per_day")
        batch.drop_column("rate_limit_per_second")
        batch.drop_column("contact")
    old_clients = sa.table(
        "clients", sa.column("client_id", sa.String), sa.column("secret_hash", sa.String), sa.column("scopes", sa.JSON)
    )
    for client_id, (secret_hash, scopes) in restored.items():
        bind.execute(
            old_clients.update()
            .where(old_clients.c.client_id == client_id)
            .values(secret_hash=secret_hash, scopes=scopes)
        )
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("secret_hash", existing_type=sa.String(255), nullable=False)
