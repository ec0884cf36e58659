"""Helpers of the SQL sector connectors' conformance tests: a locked SQLite copy, a slow PostgreSQL or MariaDB
view, scratch MariaDB databases, and the failures of a database the kit checks (``failing_configs``): a view whose
reading fails, a file that is not a database, an account the server does not know or that may not read the table."""

from __future__ import annotations

import asyncio
import os
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
from support import need_service, port_open

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


MARIADB_SERVER_URL = os.environ.get("GATEWAY_TEST_MARIADB_URL", "mariadb://root@127.0.0.1:3306/test")
"""The MariaDB (or MySQL) server of the tests: an account that may create databases and users."""


def mariadb_run(*statements: str, database: str | None = None, server_url: str = MARIADB_SERVER_URL) -> list[Any]:
    """Run ``statements`` on the MariaDB server (in ``database`` when given), committed; the rows of the last."""
    import pymysql

    url = make_url(server_url)
    connection = pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=database,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=5,
    )
    try:
        rows: list[Any] = []
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
        return rows
    finally:
        connection.close()


@contextmanager
def mariadb_database(prefix: str = "gwtest", server_url: str = MARIADB_SERVER_URL) -> Iterator[str]:
    """A new, empty MariaDB database (``utf8mb4``, the server's default collation) for the duration of the block;
    yields its plain URL (``mariadb://...``: the connector picks the driver). Skipped when the server is not
    reachable or the driver is not installed, failed under CI=true."""
    url = make_url(server_url)
    if not port_open(url.host or "127.0.0.1", url.port or 3306):
        need_service(f"MariaDB is not reachable at {url.render_as_string()}")
    try:
        import aiomysql  # noqa: F401
        import pymysql  # noqa: F401
    except ImportError:
        need_service("the MariaDB/MySQL driver is not installed: pip install -e '.[mysql]'")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    mariadb_run(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", server_url=server_url)
    try:
        yield url.set(drivername=url.get_backend_name(), database=name).render_as_string(hide_password=False)
    finally:
        mariadb_run(f"DROP DATABASE IF EXISTS `{name}`", server_url=server_url)


def mariadb_slow_view(url: str, table: str, view: str, seconds: float = 3) -> None:
    """Create, in the MariaDB database at ``url``, a view of ``table`` that takes ``seconds`` to read."""
    mariadb_run(
        f"CREATE VIEW {view} AS SELECT t.* FROM {table} t CROSS JOIN (SELECT SLEEP({seconds}) AS s) w",
        database=make_url(url).database,
    )


@contextmanager
def mariadb_failing_configs(url: str, table: str) -> Iterator[dict[UpstreamFailure, Any]]:
    """The kit's ``failing_configs`` for the MariaDB sector database at ``url`` (of the table ``table``), for the
    duration of the block: :data:`FAILING_VIEW`, a view of ``table`` whose reading fails (an internal error), an
    account the server does not know (credentials refused) and one it knows that may read another table of the
    database but not ``table`` (access refused), dropped after."""
    database = make_url(url).database or ""
    account = f"lecteur_{uuid.uuid4().hex[:10]}"
    unknown = f"khong_co_{uuid.uuid4().hex[:10]}"
    # Evaluated when a row is read: a subquery that must give one value gives two ("Subquery returns more than
    # 1 row"); MariaDB's division by zero is only a warning.
    mariadb_run(
        f"CREATE VIEW {FAILING_VIEW} AS SELECT * FROM {table} WHERE (SELECT 1 UNION ALL SELECT 2) = 1",
        database=database,
    )
    mariadb_run(
        f"CREATE USER '{account}'@'%' IDENTIFIED BY 'pa55word'",
        f"GRANT SELECT ON `{database}`.{FAILING_VIEW} TO '{account}'@'%'",
    )
    as_user = make_url(url)
    try:
        yield {
            UpstreamFailure.SERVER_ERROR: {"url": url, "table": FAILING_VIEW},
            UpstreamFailure.UNAUTHORIZED: {"url": as_user.set(username=unknown).render_as_string(hide_password=False)},
            UpstreamFailure.FORBIDDEN: {
                "url": as_user.set(username=account, password="pa55word").render_as_string(hide_password=False)
            },
            UpstreamFailure.MALFORMED: "the MariaDB protocol is the driver's: the tests cannot make the server answer "
            "something malformed",
            **NOT_FROM_A_DATABASE,
        }
    finally:
        mariadb_run(f"DROP USER IF EXISTS '{account}'@'%'", f"DROP VIEW IF EXISTS `{database}`.{FAILING_VIEW}")
