"""Running the Alembic migrations of the gateway's database from code (the CLI, the demo, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command


def script_location() -> Path:
    """The migration scripts: packaged inside ``gateway`` in a wheel, or the repository's ``alembic/``."""
    here = Path(__file__).resolve().parent
    packaged = here / "_alembic"
    return packaged if (packaged / "env.py").exists() else here.parent / "alembic"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for ``database_url`` that needs no ``alembic.ini``."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (synchronous; call it outside an event loop)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade the database to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest revision of the migration scripts."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the connected database is at (``None`` when it was never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


class SchemaNotCurrent(RuntimeError):
    """The gateway's database is not at the newest migration."""


async def ensure_current(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaNotCurrent`, saying what to run, unless the database is at the newest revision."""
    async with engine.connect() as conn:
        current = await conn.run_sync(current_revision)
    head = head_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"the gateway database is at revision {current or 'none'}, the code needs {head}: run `gateway db upgrade`"
        )
