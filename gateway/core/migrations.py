"""Running the Alembic migrations of the gateway's database from code (the CLI, the demo, the tests).

Alembic (with Mako, about 10 MB of every process) is imported only when a database has to change: a gateway
that starts on a database already at :data:`HEAD` reads the revision with one query and never loads it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision of the migration scripts: the one this code needs. A test keeps it equal to Alembic's head;
#: a new migration changes it.
HEAD = "0019"


def script_location() -> Path:
    """The migration scripts: packaged inside ``gateway`` in a wheel, or the repository's ``alembic/``."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_alembic"
    return packaged if (packaged / "env.py").exists() else package.parent / "alembic"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for ``database_url`` that needs no ``alembic.ini``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (synchronous; call it outside an event loop). A database already at
    :data:`HEAD` asked for ``head`` is left as it is without loading Alembic."""
    if revision == "head" and _revision_at(database_url) == HEAD:
        return
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade the database to ``revision``. :class:`MigrationRefused`, before any step is taken, when one of
    them would lose what the gateway cannot make again: a migration says so by a module-level
    ``refuse_downgrade(connection) -> str | None`` (the reason, or ``None``), which its ``downgrade`` calls too."""
    from alembic.script import ScriptDirectory

    from alembic import command
    from gateway.core.db import create_engine

    config = alembic_config(database_url)
    current = _revision_at(database_url)
    checks = []
    if current is not None:
        for step in ScriptDirectory.from_config(config).iterate_revisions(current, revision):
            check = getattr(step.module, "refuse_downgrade", None)
            if check is not None:
                checks.append(check)

    async def reasons() -> list[str]:
        engine = create_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                found = [await connection.run_sync(check) for check in checks]
                return [reason for reason in found if reason]
        finally:
            await engine.dispose()

    if checks and (refused := asyncio.run(reasons())):
        raise MigrationRefused("; ".join(refused))
    command.downgrade(config, revision)


def head_revision() -> str | None:
    """The newest revision of the migration scripts, as Alembic reads them (:data:`HEAD` is the code's copy)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the connected database is at (``None`` when it was never migrated).

    One query of Alembic's ``alembic_version`` table, as Alembic itself reads it, without loading Alembic."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:  # several heads: a branched history the gateway's scripts never make
        raise SchemaNotCurrent(f"the gateway database has several revisions ({', '.join(sorted(versions))})")
    return versions[0] if versions else None


def _revision_at(database_url: str) -> str | None:
    """The revision of the database at ``database_url``; ``None`` when it has none or cannot be read (Alembic
    then creates it or says why)."""
    from gateway.core.db import create_engine

    async def read() -> str | None:
        engine = create_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(current_revision)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(read())
    except (SQLAlchemyError, OSError, SchemaNotCurrent):
        return None


class MigrationRefused(RuntimeError):
    """A migration that would lose data the gateway cannot make again refuses to run, saying why and what to do."""


class SchemaNotCurrent(RuntimeError):
    """The gateway's database is not at the newest migration."""


async def ensure_current(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaNotCurrent`, saying what to run, unless the database is at the newest revision."""
    async with engine.connect() as conn:
        current = await conn.run_sync(current_revision)
    head = HEAD
    if current is not None and newer_than_code(current):
        raise SchemaNotCurrent(ahead_of_code(current))
    if current != head:
        raise SchemaNotCurrent(
            f"the gateway database is at revision {current or 'none'}, the code needs {head}: run `gateway db upgrade`"
        )


def newer_than_code(revision: str) -> bool:
    """Whether ``revision`` comes after :data:`HEAD` (a newer version of the gateway migrated the database)."""
    return revision.isdigit() and HEAD.isdigit() and int(revision) > int(HEAD)


def ahead_of_code(revision: str) -> str:
    """What to do about a database a newer version of the gateway migrated to ``revision``."""
    return (
        f"the gateway database is at revision {revision}, newer than this version of the gateway knows (it needs "
        f"{HEAD}): a newer version migrated it. Run that version, or go back to this one by running, with the newer "
        f"version, `gateway db downgrade {HEAD}` first"
    )


def revision_of(database_url: str) -> str | None:
    """The revision of the database at ``database_url`` (``None`` when it has none or cannot be read)."""
    return _revision_at(database_url)
