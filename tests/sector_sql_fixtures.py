"""Helpers of the SQL sector connectors' conformance tests: a locked SQLite copy, a slow PostgreSQL view."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine


@contextmanager
def locked_sqlite_copy(source: Path, target: Path) -> Iterator[str]:
    """A copy of the SQLite database ``source`` at ``target`` that another connection holds an exclusive lock on
    for the duration of the block; yields its URL."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    holder = sqlite3.connect(target, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=DELETE")
        holder.execute("BEGIN EXCLUSIVE")
        yield f"sqlite:///{target}"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def create_slow_view(url: str, table: str, view: str, seconds: float = 3) -> None:
    """Create, in the PostgreSQL database at ``url``, a view of ``table`` that takes ``seconds`` to read."""

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text(
                        f"CREATE VIEW {view} AS SELECT t.* FROM {table} t CROSS JOIN (SELECT pg_sleep({seconds})) s"
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(run())
