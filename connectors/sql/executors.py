"""Running a connector's statements on its database.

Statements are SQLAlchemy Core objects built once; how they run depends on the database:

* PostgreSQL runs on an ``asyncpg`` pool, each statement compiled once to SQL text (asyncpg then prepares
  and caches it per connection);
* SQLite runs on ``sqlite3`` connections in a small thread pool, one thread hop per statement, files opened
  read-only, a statement past its deadline interrupted;
* every other database runs through SQLAlchemy's asyncio engine and its driver.

The first two skip SQLAlchemy's per-call machinery, which costs more CPU than the query itself on the read path.
Each executor turns its driver's errors into connector errors; driver messages (they can quote SQL and values)
are logged at debug level only, never passed on.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as sqlite_dialect
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import Compiled

from connectors.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

from .urls import is_sqlite, sqlite_file, to_async_url

logger = logging.getLogger(__name__)

Row = Mapping[Any, Any]


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Connection pool settings shared by the executors."""

    size: int
    max_overflow: int
    connect_timeout: float
    statement_timeout: float
    read_only: bool


class Executor(ABC):
    """Runs statements on one database and returns rows that can be indexed by column name."""

    def __init__(self, label: str) -> None:
        self.label = label

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare the pool; never fails because the database is down."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection."""

    @abstractmethod
    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        """All rows of ``statement`` run with ``params``."""

    def unavailable(self, exc: BaseException) -> UpstreamUnavailable:
        logger.debug("%s: database unreachable: %r", self.label, exc)
        return UpstreamUnavailable(f"{self.label}: the sector database cannot be reached ({type(exc).__name__})")

    def failed(self, exc: BaseException) -> UpstreamError:
        logger.debug("%s: database error: %r", self.label, exc)
        return UpstreamError(f"{self.label}: the sector database failed ({type(exc).__name__})", reason="protocol")

    def timed_out(self, exc: BaseException) -> UpstreamTimeout:
        logger.debug("%s: database timeout: %r", self.label, exc)
        return UpstreamTimeout(f"{self.label}: the sector database did not answer in time ({type(exc).__name__})")


class _CompiledCache:
    """SQL text and positional parameter order of each statement, compiled once for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[Executable, Compiled] = {}

    def arguments(self, statement: Executable, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        compiled: Any = self._compiled.get(statement)
        if compiled is None:
            compiled = statement.compile(dialect=self._dialect)  # type: ignore[attr-defined]
            self._compiled[statement] = compiled
        values = compiled.construct_params(params)
        return str(compiled.string), [values[name] for name in compiled.positiontup]


# PostgreSQL error classes: connection problems and cancellations (SQLSTATE).
_PG_UNAVAILABLE = ("08", "53300", "57P01", "57P02", "57P03", "3D000", "28000", "28P01")
_PG_TIMEOUT = ("57014", "55P03")


class AsyncpgExecutor(Executor):
    """PostgreSQL through an asyncpg pool; connections open on demand, up to the pool size."""

    def __init__(self, url: URL, options: PoolOptions, label: str) -> None:
        super().__init__(label)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._options = options
        self._sql = _CompiledCache(asyncpg_dialect(paramstyle="numeric_dollar"))  # type: ignore[no-untyped-call]
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,
                        max_size=self._options.size,
                        timeout=self._options.connect_timeout,
                        max_inactive_connection_lifetime=300,
                    )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                pool.terminate()

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        import asyncpg

        sql, arguments = self._sql.arguments(statement, params)
        try:
            pool = await self._get_pool()
            async with pool.acquire() as connection:
                rows: Sequence[Row] = await connection.fetch(sql, *arguments)
                return rows
        except asyncpg.PostgresError as exc:
            state = str(getattr(exc, "sqlstate", "") or "")
            if state.startswith(_PG_TIMEOUT):
                raise self.timed_out(exc) from None
            if state.startswith(_PG_UNAVAILABLE):
                raise self.unavailable(exc) from None
            raise self.failed(exc) from None
        except (OSError, asyncpg.InterfaceError) as exc:
            raise self.unavailable(exc) from None


# SQLite result codes (the primary code is the low byte of an extended code).
_SQLITE_TIMEOUT = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT})
_SQLITE_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}
)


class SqliteExecutor(Executor):
    """SQLite through ``sqlite3`` in a thread pool: one hop per statement, one connection per thread."""

    def __init__(self, url: URL, options: PoolOptions, label: str) -> None:
        super().__init__(label)
        path = sqlite_file(url)
        if path is None:
            raise ValueError("an in-memory SQLite database cannot be shared by a connection pool")
        self._target = f"file:{path}?mode=ro" if options.read_only else f"file:{path}"
        self._options = options
        self._sql = _CompiledCache(sqlite_dialect(paramstyle="qmark"))
        self._threads = ThreadPoolExecutor(max_workers=options.size, thread_name_prefix=f"sqlite-{label}")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # sqlite3's timeout is how long a statement waits for another connection's lock.
            busy = min(self._options.connect_timeout, self._options.statement_timeout)
            connection = sqlite3.connect(self._target, uri=True, timeout=busy, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
            with self._guard:
                self._connections.append(connection)
        return connection

    def _run(self, holder: list[sqlite3.Connection], sql: str, arguments: list[Any]) -> Sequence[Row]:
        connection = self._connection()
        holder.append(connection)
        rows: list[Any] = connection.execute(sql, arguments).fetchall()
        return rows

    async def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        with self._guard:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        sql, arguments = self._sql.arguments(statement, params)
        holder: list[sqlite3.Connection] = []
        loop = asyncio.get_running_loop()
        try:
            rows: Sequence[Row] = await loop.run_in_executor(self._threads, self._run, holder, sql, arguments)
            return rows
        except asyncio.CancelledError:
            # Past the deadline: stop the statement instead of letting the thread run on.
            for connection in holder:
                connection.interrupt()
            raise
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            primary = code & 0xFF if isinstance(code, int) else None
            if primary in _SQLITE_TIMEOUT:
                raise self.timed_out(exc) from None
            if primary in _SQLITE_UNAVAILABLE or (isinstance(exc, sqlite3.OperationalError) and primary is None):
                raise self.unavailable(exc) from None
            raise self.failed(exc) from None
        except RuntimeError as exc:  # the thread pool was shut down
            raise self.unavailable(exc) from None


class SqlAlchemyExecutor(Executor):
    """Any other database, through SQLAlchemy's asyncio engine and the URL's driver."""

    def __init__(self, url: URL, options: PoolOptions, label: str) -> None:
        super().__init__(label)
        self.engine: AsyncEngine = create_async_engine(
            to_async_url(url),
            pool_size=options.size,
            max_overflow=options.max_overflow,
            pool_timeout=options.connect_timeout,
            # Reads only: no BEGIN/ROLLBACK round trips around each statement.
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,
        )

    async def close(self) -> None:
        await self.engine.dispose()

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(statement, dict(params))
                return result.mappings().all()
        except (OSError, sa_exc.TimeoutError) as exc:
            raise self.unavailable(exc) from None
        except sa_exc.DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
                raise self.unavailable(exc) from None
            raise self.failed(exc) from None
        except sa_exc.SQLAlchemyError as exc:
            raise self.failed(exc) from None


def make_executor(url: URL, options: PoolOptions, label: str) -> Executor:
    """The executor for ``url``: asyncpg for PostgreSQL, sqlite3 threads for SQLite files, else SQLAlchemy."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql" and driver in ("asyncpg", "psycopg2", "psycopg", "pg8000"):
        return AsyncpgExecutor(url, options, label)
    if is_sqlite(url) and sqlite_file(url) is not None:
        return SqliteExecutor(url, options, label)
    return SqlAlchemyExecutor(url, options, label)
