"""Creating and filling a simulated sector system's table, on SQLite or PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.sql.urls import is_sqlite, sqlite_file, to_async_url

__all__ = ["seed_table"]

_BATCH = 2000


async def seed_table(
    url: str, table: sa.Table, rows: Callable[[], Iterable[dict[str, Any]]], *, replace: bool = False
) -> int:
    """Create ``table`` (with the rest of its metadata) at the SQLAlchemy ``url`` and insert ``rows()``.

    Plain URLs get their asyncio driver and the directory of a SQLite file is created. A table that already has
    rows is left alone unless ``replace``, which empties it first. Returns the number of rows in the table.
    """
    target = to_async_url(url)
    path = sqlite_file(target) if is_sqlite(target) else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            existing = (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
            if existing and not replace:
                return int(existing)
            if existing:
                await conn.execute(table.delete())
            source = iter(rows())
            inserted = 0
            while batch := list(itertools.islice(source, _BATCH)):
                await conn.execute(table.insert(), batch)
                inserted += len(batch)
            return inserted
    finally:
        await engine.dispose()
