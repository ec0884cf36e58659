"""SQLAlchemy URL helpers shared by everything that opens a database asynchronously."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

# Plain backend name -> the asyncio driver used for it.
ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mariadb+aiomysql",
}


def to_async_url(url: str | URL) -> URL:
    """Return ``url`` with an asyncio driver: ``sqlite:///x.db`` becomes ``sqlite+aiosqlite:///x.db``.

    URLs that already name a driver are returned unchanged.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    if "+" not in parsed.drivername and parsed.drivername in ASYNC_DRIVERS:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[parsed.drivername])
    return parsed


def is_sqlite(url: URL) -> bool:
    """Tell whether ``url`` points at SQLite."""
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """Return the database file of a SQLite URL, or ``None`` for an in-memory database."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:")
    return Path(database)
