"""Helpers of the SQL sector connectors' conformance tests: a locked SQLite copy, a slow PostgreSQL view, and the
failures of a database the kit checks (``failing_configs``): a view whose reading fails, a file that is not a
database, an account the server does not know or that may not read the table."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.testing import UpstreamFailure

FAILING_VIEW = "bang_loi"
"""The view whose reading fails in the database (an integer overflow in SQLite, a division by zero in
PostgreSQL): the kit's internal error of a sector database."""

#: The failures no database of the tests can produce, and why (the kit skips its check of each with the reason).
NOT_FROM_A_DATABASE: dict[UpstreamFailure, str] = {
    UpstreamFailure.UNAVAILABLE: "a database has no HTTP 503: one that is not serving refuses connections, which "
    "unreachable_config checks",
    UpstreamFailure.RATE_LIMITED: "a database answers no HTTP 429",
    UpstreamFailure.RESET: "the tests cannot make a database server reset every connection the connector opens",
}


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


def sqlite_failing_configs(source: Path, directory: Path, table: str) -> dict[UpstreamFailure, Any]:
    """The kit's ``failing_configs`` for the SQLite sector database ``source`` (of the table ``table``), in
    ``directory``: a copy of it with :data:`FAILING_VIEW`, a view of ``table`` whose reading fails (an internal
    error), and a file that is not a database (a malformed answer); SQLite has no accounts to refuse."""
    directory.mkdir(parents=True, exist_ok=True)
    failing = directory / "failing.db"
    shutil.copyfile(source, failing)
    database = sqlite3.connect(failing)
    try:
        # Evaluated when a row is read: -9223372036854775808 has no absolute value in 64 bits ("integer overflow").
        database.execute(f"CREATE VIEW {FAILING_VIEW} AS SELECT * FROM {table} WHERE abs(-9223372036854775808) > 0")
        database.commit()
    finally:
        database.close()
    garbage = directory / "not-a-database.db"
    garbage.write_bytes(b"This is not a SQLite database, though its name says so.\n" * 200)
    return {
        UpstreamFailure.SERVER_ERROR: {"url": f"sqlite:///{failing}", "table": FAILING_VIEW},
        UpstreamFailure.MALFORMED: {"url": f"sqlite:///{garbage}"},
        UpstreamFailure.UNAUTHORIZED: "SQLite has no accounts: it refuses no credentials",
        UpstreamFailure.FORBIDDEN: "SQLite has no accounts to deny a table to",
        **NOT_FROM_A_DATABASE,
    }


@contextmanager
def postgres_failing_configs(url: str, table: str) -> Iterator[dict[UpstreamFailure, Any]]:
    """The kit's ``failing_configs`` for the PostgreSQL sector database at ``url`` (of the table ``table``), for
    the duration of the block: :data:`FAILING_VIEW`, a view of ``table`` whose reading fails (an internal error),
    an account the server does not know (credentials refused) and one it knows that may not read the table
    (access refused), dropped after."""
    role = f"lecteur_{uuid.uuid4().hex[:10]}"
    unknown = f"khong_co_{uuid.uuid4().hex[:10]}"

    async def run(*statements: str) -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(sa.text(statement))
        finally:
            await engine.dispose()

    asyncio.run(
        run(
            # Evaluated when the view is read (random() is not folded into the plan): a division by zero.
            f"CREATE VIEW {FAILING_VIEW} AS SELECT * FROM {table} WHERE 1 / (random() * 0)::int = 1",
            f"CREATE ROLE {role} LOGIN",
        )
    )
    as_user = make_url(url)
    try:
        yield {
            UpstreamFailure.SERVER_ERROR: {"url": url, "table": FAILING_VIEW},
            UpstreamFailure.UNAUTHORIZED: {"url": as_user.set(username=unknown).render_as_string(hide_password=False)},
            UpstreamFailure.FORBIDDEN: {"url": as_user.set(username=role).render_as_string(hide_password=False)},
            UpstreamFailure.MALFORMED: "the PostgreSQL wire protocol is the driver's: the tests cannot make the server "
            "answer something malformed",
            **NOT_FROM_A_DATABASE,
        }
    finally:
        asyncio.run(run(f"DROP VIEW IF EXISTS {FAILING_VIEW}", f"DROP ROLE IF EXISTS {role}"))
