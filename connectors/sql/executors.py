"""Running a connector's statements on its database.

Statements are SQLAlchemy Core objects built once; how they run depends on the database:

* PostgreSQL runs on an ``asyncpg`` pool, each statement compiled once to SQL text (asyncpg then prepares
  and caches it per connection);
* SQLite runs on ``sqlite3`` connections in a small thread pool, one thread hop per statement, files opened
  read-only, a statement past its deadline interrupted;
* MariaDB and MySQL run through SQLAlchemy's asyncio engine and ``aiomysql`` (the extra ``axis-gateway[mysql]``),
  in ``utf8mb4``, text compared exactly (``utf8mb4_bin``) whatever the columns' collation, a statement past its
  deadline killed on the server;
* every other database runs through SQLAlchemy's asyncio engine and its driver.

The first two skip SQLAlchemy's per-call machinery, which costs more CPU than the query itself on the read path.
Each executor turns its driver's errors into connector errors; driver messages (they can quote SQL and values)
are logged at debug level only, never passed on.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as sqlite_dialect
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import Compiled

from connectors.errors import SubmissionRejected, UpstreamError, UpstreamTimeout, UpstreamUnavailable

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
    writable: bool = False
    naive_timezone: str = "UTC"
    """The zone of the database's zone-less timestamps (``naive_datetime_timezone``): an instant written to a
    ``timestamp`` or ``DATETIME`` column is its wall time there, as it is read back."""


class Executor(ABC):
    """Runs statements on one database and returns rows that can be indexed by column name."""

    text_collation: str | None = None
    """The collation under which text is compared exactly, where the columns' own may ignore case and accents
    (MariaDB's and MySQL's ``utf8mb4_general_ci``): ``None`` where the database compares text as it is stored."""

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

    async def transact(self, steps: Sequence[Step]) -> None:
        """Run ``steps`` in one transaction, committed only if every step succeeds: a step that breaks a
        unique key, or expects one row and changes none, rolls everything back and raises :class:`StepFailed`
        (or :class:`SubmissionRejected` for values the database refuses)."""
        (outcome,) = await self.transact_groups([steps])
        if outcome is not None:
            raise outcome

    @abstractmethod
    async def transact_groups(self, groups: Sequence[Sequence[Step]]) -> list[StepFailed | SubmissionRejected | None]:
        """Run each group of steps under its own savepoint, all in one transaction (one commit): a group that
        fails is rolled back alone and its error returned in its place; ``None`` for a group applied. A failure
        of the transaction itself (the database unreachable) raises and keeps nothing."""

    async def execute_ddl(self, sql: str) -> None:
        """Run one DDL statement (``CREATE TABLE IF NOT EXISTS ...``) in its own transaction. Two connections
        creating the same table at once: PostgreSQL fails the second with a unique violation (on its catalogue)
        although the table then exists, so a conflict counts as done."""
        try:
            await self.transact([Step(text(sql), {}, one_row=False)])
        except StepFailed as failed:
            if not failed.conflict:
                raise

    def unavailable(self, exc: BaseException) -> UpstreamUnavailable:
        """The error for a database that cannot be reached (logged at debug level with the driver's error)."""
        logger.debug("%s: database unreachable: %r", self.label, exc)
        return UpstreamUnavailable(f"{self.label}: the sector database cannot be reached ({type(exc).__name__})")

    def failed(self, exc: BaseException) -> UpstreamError:
        """The error for a database that answered with a failure (``protocol``: a missing table, a bad column...)."""
        logger.debug("%s: database error: %r", self.label, exc)
        return UpstreamError(f"{self.label}: the sector database failed ({type(exc).__name__})", reason="protocol")

    def refused(self, exc: BaseException) -> SubmissionRejected:
        """The error for values the database refuses to store (a constraint, a type): a submission refused for good."""
        logger.debug("%s: values refused: %r", self.label, exc)
        return SubmissionRejected(f"{self.label}: the sector database refused the values ({type(exc).__name__})")

    def read_only(self, exc: BaseException) -> UpstreamError:
        """The error for a write the database refuses because it accepts none (a standby replica, a database or a
        file set read-only): worth retrying (a failover can end it), and saying so when it is dead-lettered."""
        logger.debug("%s: database read only: %r", self.label, exc)
        return UpstreamError(
            f"{self.label}: the sector database accepts no writes (read only: a standby replica, or a database "
            "set read-only)",
            reason="protocol",
        )

    def timed_out(self, exc: BaseException) -> UpstreamTimeout:
        """The error for a statement the database gave up on (cancelled, or kept waiting on a lock or a busy file)."""
        logger.debug("%s: database timeout: %r", self.label, exc)
        return UpstreamTimeout(f"{self.label}: the sector database did not answer in time ({type(exc).__name__})")


@dataclass(frozen=True, slots=True)
class Step:
    """One write of a transaction: a statement, its parameters, and whether it must change exactly one row."""

    statement: Executable
    params: Mapping[str, Any]
    one_row: bool = True


class StepFailed(Exception):
    """Step ``index`` of a transaction broke a unique key (``conflict``), or changed ``rows`` rows where it had to
    change one (none: no row has the key; more: several have it); nothing was kept."""

    def __init__(self, index: int, *, conflict: bool, rows: int = 0) -> None:
        what = "conflicts with an existing row" if conflict else f"changed {rows} rows"
        super().__init__(f"step {index} {what}")
        self.index = index
        self.conflict = conflict
        self.rows = rows


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
_PG_READ_ONLY = "25006"  # read_only_sql_transaction: a hot standby, default_transaction_read_only
# Data exceptions and integrity violations: the values are refused, whatever the number of tries.
_PG_DATA_ERRORS = frozenset({"22", "23"})


async def _reset_connection(connection: Any) -> None:
    """Make a connection fit for the next caller as it goes back to the pool.

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every
    release: a round trip per read. The connector never sets session state (no ``SET``, ``LISTEN``, advisory locks
    or open cursors; its transactions end in their context managers), so only a transaction left open by a
    cancelled call needs undoing.
    """
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def _unpadded(value: str) -> str:
    """A ``char(n)`` value without the spaces PostgreSQL pads it with (they are no part of the value: the
    server ignores them in comparisons, and drops them when it casts the value to text)."""
    return value.rstrip(" ")


async def _init_connection(connection: Any) -> None:
    """Read ``char(n)`` columns as PostgreSQL compares them, without their padding: a key or a code kept in a
    ``char(15)`` column is then the key or code itself, not a value no contract pattern accepts."""
    await connection.set_type_codec("bpchar", schema="pg_catalog", encoder=str, decoder=_unpadded, format="text")


class AsyncpgExecutor(Executor):
    """PostgreSQL through an asyncpg pool; connections open on demand, up to the pool size."""

    def __init__(self, url: URL, options: PoolOptions, label: str) -> None:
        super().__init__(label)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._options = options
        self._sql = _CompiledCache(asyncpg_dialect(paramstyle="numeric_dollar"))  # type: ignore[no-untyped-call]
        self._pool: Any = None
        self._lock = asyncio.Lock()
        self._parameter_types: dict[str, tuple[str, ...]] = {}
        self._zone = ZoneInfo(options.naive_timezone)

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
                        reset=_reset_connection,
                        init=_init_connection,
                    )
        return self._pool

    async def close(self) -> None:
        """Close every connection (see :meth:`Executor.close`)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                pool.terminate()

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        """All rows of ``statement`` run with ``params`` (see :meth:`Executor.fetch`)."""
        import asyncpg

        sql, arguments = self._sql.arguments(statement, params)
        try:
            pool = await self._get_pool()
            async with pool.acquire() as connection:
                rows: Sequence[Row] = await connection.fetch(sql, *arguments)
                return rows
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise self._translated(exc) from None

    def _translated(self, exc: BaseException) -> UpstreamError:
        """The connector error of a driver error: timeouts and cancellations, connection problems, the rest."""
        import asyncpg

        if not isinstance(exc, asyncpg.PostgresError):
            return self.unavailable(exc)
        state = str(getattr(exc, "sqlstate", "") or "")
        if state.startswith(_PG_TIMEOUT):
            return self.timed_out(exc)
        if state == _PG_READ_ONLY:
            return self.read_only(exc)
        if state.startswith(_PG_UNAVAILABLE):
            return self.unavailable(exc)
        return self.failed(exc)

    async def transact_groups(self, groups: Sequence[Sequence[Step]]) -> list[StepFailed | SubmissionRejected | None]:
        """Each group under its own savepoint, in one transaction (see :meth:`Executor.transact_groups`)."""
        import asyncpg

        try:
            pool = await self._get_pool()
            async with pool.acquire() as connection:
                if len(groups) > 1:
                    # Most batches apply whole: try without a savepoint per group, the same statement of every
                    # group at once (executemany: one pipelined round trip), and start again with savepoints only
                    # when a group fails.
                    try:
                        async with connection.transaction():
                            await self._run_batched(connection, groups)
                        return [None] * len(groups)
                    except (StepFailed, SubmissionRejected):
                        pass
                outcomes: list[StepFailed | SubmissionRejected | None] = []
                async with connection.transaction():
                    for group in groups:
                        try:
                            async with connection.transaction():  # a savepoint
                                await self._run_group(connection, group)
                        except (StepFailed, SubmissionRejected) as failed:
                            outcomes.append(failed)
                        else:
                            outcomes.append(None)
                return outcomes
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise self._translated(exc) from None

    async def _typed(self, connection: Any, step: Step) -> tuple[str, list[Any]]:
        """The SQL of ``step`` and its arguments converted to the types of their parameters."""
        sql, arguments = self._sql.arguments(step.statement, step.params)
        types = self._parameter_types.get(sql)
        if types is None:
            # Learnt once per statement; later runs use asyncpg's own statement cache.
            prepared = await connection.prepare(sql)
            types = self._parameter_types[sql] = tuple(t.name for t in prepared.get_parameters())
        zone = self._zone
        return sql, [_pg_value(v, t, zone) for v, t in zip(arguments, types, strict=True)]

    async def _run_batched(self, connection: Any, groups: Sequence[Sequence[Step]]) -> None:
        """Run every group's steps in one transaction with as few round trips as possible: step ``i`` of every
        group, in group order, where runs of the same ``INSERT`` go as one ``executemany`` (an insert that does
        not fail changes its one row). Any failure raises, and the caller starts again group by group."""
        for runs in _runs_by_step(groups):
            for statement, steps in runs:
                if len(steps) > 1 and isinstance(statement, Insert):
                    typed = [await self._typed(connection, step) for step in steps]
                    await self._execute_many(connection, typed[0][0], [arguments for _, arguments in typed])
                else:
                    for step in steps:
                        await self._run_group(connection, [step])

    async def _execute_many(self, connection: Any, sql: str, arguments: list[list[Any]]) -> None:
        import asyncpg

        try:
            await connection.executemany(sql, arguments)
        except asyncpg.UniqueViolationError:
            raise StepFailed(0, conflict=True) from None
        except asyncpg.PostgresError as exc:
            if str(getattr(exc, "sqlstate", "") or "")[:2] in _PG_DATA_ERRORS:
                raise self.refused(exc) from None
            raise

    async def _run_group(self, connection: Any, group: Sequence[Step]) -> None:
        import asyncpg

        for index, step in enumerate(group):
            sql, typed = await self._typed(connection, step)
            try:
                status = await connection.execute(sql, *typed)
            except asyncpg.UniqueViolationError:
                raise StepFailed(index, conflict=True) from None
            except asyncpg.PostgresError as exc:
                if str(getattr(exc, "sqlstate", "") or "")[:2] in _PG_DATA_ERRORS:
                    raise self.refused(exc) from None
                raise
            if step.one_row and not status.endswith(" 1"):
                raise StepFailed(index, conflict=False, rows=_changed(status))


def _changed(status: str) -> int:
    """The rows a command changed, from its status (``UPDATE 2``, ``INSERT 0 1``); 0 when it does not say."""
    count = status.rsplit(" ", 1)[-1]
    return int(count) if count.isdigit() else 0


def _runs_by_step(groups: Sequence[Sequence[Step]]) -> list[list[tuple[Executable, list[Step]]]]:
    """For each step index ``i``: step ``i`` of every group that has one, in group order, cut into runs of
    consecutive steps with the same statement."""
    phases: list[list[tuple[Executable, list[Step]]]] = []
    for index in range(max((len(group) for group in groups), default=0)):
        runs: list[tuple[Executable, list[Step]]] = []
        for group in groups:
            if index < len(group):
                step = group[index]
                if runs and runs[-1][0] is step.statement:
                    runs[-1][1].append(step)
                else:
                    runs.append((step.statement, [step]))
        phases.append(runs)
    return phases


_PG_INTEGERS = frozenset({"int2", "int4", "int8"})


def _wall_time(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` as a zone-less column holds it: an instant as its wall time in ``zone``, a zone-less time as is."""
    return moment if moment.tzinfo is None else moment.astimezone(zone).replace(tzinfo=None)


def _pg_value(value: Any, type_name: str, zone: tzinfo) -> Any:  # noqa: PLR0911 - one return per type
    """A JSON-form value (text codes, ISO dates) as asyncpg binds it to a parameter of PostgreSQL type
    ``type_name``; asyncpg converts nothing itself. An instant bound to a zone-less ``timestamp`` is its wall time
    in ``zone`` (the zone of the database's naive timestamps), and a zone-less time bound to a ``timestamptz`` is
    taken to be in ``zone``. Values that do not convert are left for the server to refuse."""
    if not isinstance(value, str):
        return value
    try:
        if type_name in _PG_INTEGERS:
            return int(value)
        if type_name == "date":
            return date.fromisoformat(value)
        if type_name == "timestamp":
            return _wall_time(datetime.fromisoformat(value), zone)
        if type_name == "timestamptz":
            instant = datetime.fromisoformat(value)
            return instant if instant.tzinfo is not None else instant.replace(tzinfo=zone)
        if type_name == "numeric":
            return Decimal(value)
        if type_name in ("float4", "float8"):
            return float(value)
        if type_name == "bool":
            return value.lower() in ("1", "true", "t", "yes")
    except (ValueError, ArithmeticError):
        return value
    return value


# SQLite result codes (the primary code is the low byte of an extended code).
_SQLITE_TIMEOUT = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT})
_SQLITE_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}
)


_SQLITE_KEY_CONFLICTS = frozenset({1555, 2067})  # SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE

_SQLITE_NOT_UTF8 = "Could not decode to UTF-8"
"""How ``sqlite3`` starts the error of a text value it cannot decode (it has no error code)."""


def _text_or_bytes(value: bytes) -> str | bytes:
    """A SQLite text value as ``str``, or as the bytes stored when they are not UTF-8 (the contract's validation
    then refuses the record that holds them)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def sqlite_threads(pool_size: int) -> int:
    """The threads (each with its connection) of a SQLite pool of ``pool_size``: at most the CPUs this process
    may run on, at least two. ``sqlite3`` lets go of the interpreter's lock while SQLite works, so as many
    statements run at once as there are CPUs; a thread beyond that adds a connection (its caches, its statements,
    its thread) and no speed."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 2
    return min(pool_size, max(2, cpus))


class SqliteExecutor(Executor):
    """SQLite through ``sqlite3`` in a thread pool: one hop per statement, one connection per thread
    (:func:`sqlite_threads` of them)."""

    def __init__(self, url: URL, options: PoolOptions, label: str) -> None:
        super().__init__(label)
        path = sqlite_file(url)
        if path is None:
            raise ValueError("an in-memory SQLite database cannot be shared by a connection pool")
        # Read-only files fail when missing instead of being created; so do writable ones (mode=rw).
        mode = "?mode=rw" if options.writable else "?mode=ro" if options.read_only else ""
        self._target = f"file:{path}{mode}"
        self._options = options
        self._sql = _CompiledCache(sqlite_dialect(paramstyle="qmark"))
        self._threads = ThreadPoolExecutor(
            max_workers=sqlite_threads(options.size), thread_name_prefix=f"sqlite-{label}"
        )
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
        try:
            rows: list[Any] = connection.execute(sql, arguments).fetchall()
        except sqlite3.OperationalError as exc:
            if not str(exc).startswith(_SQLITE_NOT_UTF8):
                raise
            # Text that is not UTF-8 in a row (SQLite stores what it is given): read again, that text as bytes,
            # so that the record it belongs to breaks the contract alone instead of the whole answer failing
            # as if the database were down. Only then: the default decoder is C code, this one is not.
            connection.text_factory = _text_or_bytes
            try:
                rows = connection.execute(sql, arguments).fetchall()
            finally:
                connection.text_factory = str
        return rows

    def _transact(
        self,
        holder: list[sqlite3.Connection],
        groups: list[list[tuple[str, list[Any], bool]]],
        batched: list[tuple[str, list[list[Any]], bool, bool]] | None = None,
    ) -> list[StepFailed | SubmissionRejected | None]:
        connection = self._connection()
        holder.append(connection)
        if batched is not None and self._transact_batched(connection, batched):
            return [None] * len(groups)
        outcomes: list[StepFailed | SubmissionRejected | None] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for group in groups:
                connection.execute("SAVEPOINT step_group")
                try:
                    self._run_group(connection, group)
                except (StepFailed, SubmissionRejected) as failed:
                    connection.execute("ROLLBACK TO step_group")
                    outcomes.append(failed)
                else:
                    outcomes.append(None)
                connection.execute("RELEASE step_group")
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
        return outcomes

    def _transact_batched(
        self, connection: sqlite3.Connection, batched: list[tuple[str, list[list[Any]], bool, bool]]
    ) -> bool:
        """Most batches apply whole: run them without a savepoint per group, each run of the same ``INSERT`` as
        one ``executemany``; whether it was committed (else it was rolled back, to start again group by group)."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            for sql, arguments, one_row, many in batched:
                if many:
                    connection.executemany(sql, arguments)
                else:
                    for values in arguments:
                        self._run_group(connection, [(sql, values, one_row)])
        except (StepFailed, SubmissionRejected, sqlite3.IntegrityError):
            connection.rollback()
            return False
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
        return True

    def _run_group(self, connection: sqlite3.Connection, group: list[tuple[str, list[Any], bool]]) -> None:
        for index, (sql, arguments, one_row) in enumerate(group):
            try:
                cursor = connection.execute(sql, arguments)
            except sqlite3.IntegrityError as exc:
                if getattr(exc, "sqlite_errorcode", None) in _SQLITE_KEY_CONFLICTS:
                    raise StepFailed(index, conflict=True) from None
                raise self.refused(exc) from None
            if one_row and cursor.rowcount != 1:
                raise StepFailed(index, conflict=False, rows=max(cursor.rowcount, 0))

    async def transact_groups(self, groups: Sequence[Sequence[Step]]) -> list[StepFailed | SubmissionRejected | None]:
        """Each group under its own savepoint, in one transaction (see :meth:`Executor.transact_groups`)."""
        compiled = [
            [(*self._sql.arguments(step.statement, step.params), step.one_row) for step in group] for group in groups
        ]
        batched: list[tuple[str, list[list[Any]], bool, bool]] | None = None
        if len(groups) > 1:
            # Step i of every group, in group order, runs of the same statement together (see _runs_by_step).
            batched = []
            for index in range(max(len(group) for group in groups)):
                for group, steps in zip(groups, compiled, strict=True):
                    if index >= len(group):
                        continue
                    sql, values, one_row = steps[index]
                    if batched and batched[-1][0] == sql:
                        batched[-1][1].append(values)
                    else:
                        batched.append((sql, [values], one_row, isinstance(group[index].statement, Insert)))
        outcomes: list[StepFailed | SubmissionRejected | None] = await self._in_thread(
            self._transact, compiled, batched
        )
        return outcomes

    async def close(self) -> None:
        """Close every connection (see :meth:`Executor.close`)."""
        self._threads.shutdown(wait=True, cancel_futures=True)
        with self._guard:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        """All rows of ``statement`` run with ``params`` (see :meth:`Executor.fetch`)."""
        sql, arguments = self._sql.arguments(statement, params)
        rows: Sequence[Row] = await self._in_thread(self._run, sql, arguments)
        return rows

    async def _in_thread(self, work: Callable[..., Any], *arguments: Any) -> Any:
        holder: list[sqlite3.Connection] = []
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, work, holder, *arguments)
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
            if primary == sqlite3.SQLITE_READONLY:
                raise self.read_only(exc) from None
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
        """Close every connection (see :meth:`Executor.close`)."""
        await self.engine.dispose()

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        """All rows of ``statement`` run with ``params`` (see :meth:`Executor.fetch`)."""
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

    async def transact_groups(self, groups: Sequence[Sequence[Step]]) -> list[StepFailed | SubmissionRejected | None]:
        """Each group under its own savepoint, in one transaction (see :meth:`Executor.transact_groups`)."""
        outcomes: list[StepFailed | SubmissionRejected | None] = []
        try:
            async with self.engine.connect() as pooled:
                connection = await pooled.execution_options(isolation_level=self._write_isolation())
                async with connection.begin(), self._guarded(connection):
                    for group in groups:
                        try:
                            async with connection.begin_nested():
                                await self._run_group(connection, group)
                        except (StepFailed, SubmissionRejected) as failed:
                            outcomes.append(failed)
                        else:
                            outcomes.append(None)
        except (OSError, sa_exc.TimeoutError) as exc:
            raise self.unavailable(exc) from None
        except sa_exc.DBAPIError as exc:
            raise self._translated(exc) from None
        except sa_exc.SQLAlchemyError as exc:
            raise self.failed(exc) from None
        return outcomes

    def _guarded(self, connection: AsyncConnection) -> AbstractAsyncContextManager[None]:
        """Around a write transaction's statements: nothing here (a dialect may kill a statement given up on)."""
        return nullcontext()

    def _translated(self, exc: sa_exc.DBAPIError) -> UpstreamError:
        """The connector error of a driver error: unreachable when the connection went, else a failure."""
        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return self.unavailable(exc)
        return self.failed(exc)

    async def _run_group(self, connection: Any, group: Sequence[Step]) -> None:
        for index, step in enumerate(group):
            try:
                result = await connection.execute(step.statement, dict(step.params))
            except sa_exc.IntegrityError as exc:
                if "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower():
                    raise StepFailed(index, conflict=True) from None
                raise self.refused(exc) from None
            if step.one_row and result.rowcount != 1:
                raise StepFailed(index, conflict=False, rows=max(result.rowcount, 0))

    def _write_isolation(self) -> str:
        return "SERIALIZABLE" if self.engine.dialect.name == "sqlite" else "READ COMMITTED"


# MariaDB and MySQL error numbers (the server's ER_*, the client library's CR_* from 2000 on).
_MY_TIMEOUT = frozenset(
    {
        1205,  # ER_LOCK_WAIT_TIMEOUT
        1213,  # ER_LOCK_DEADLOCK: the transaction was rolled back, worth another try
        1317,  # ER_QUERY_INTERRUPTED
        1969,  # ER_STATEMENT_TIMEOUT (MariaDB's max_statement_time)
        3024,  # ER_QUERY_TIMEOUT (MySQL's max_execution_time)
    }
)
_MY_READ_ONLY = frozenset(
    {
        1290,  # ER_OPTION_PREVENTS_STATEMENT: --read-only (a replica), --super-read-only
        1792,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: a session or a transaction set read only
        1836,  # ER_READ_ONLY_MODE: InnoDB in read-only mode
    }
)
_MY_UNAVAILABLE = frozenset(
    {
        1040,  # ER_CON_COUNT_ERROR: too many connections
        1044,  # ER_DBACCESS_DENIED_ERROR
        1045,  # ER_ACCESS_DENIED_ERROR: an account it does not know, a wrong password
        1049,  # ER_BAD_DB_ERROR: no such database
        1053,  # ER_SERVER_SHUTDOWN
        1129,  # ER_HOST_IS_BLOCKED
        1130,  # ER_HOST_NOT_PRIVILEGED
        1203,  # ER_TOO_MANY_USER_CONNECTIONS
        1226,  # ER_USER_LIMIT_REACHED
        1927,  # ER_CONNECTION_KILLED (MariaDB)
        4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL: disconnected for inactivity)
    }
)
_MY_STALE = frozenset({2006, 2013, 1927, 4031})
"""A pooled connection the server closed while it was idle (``wait_timeout``, a restart): a read tries again once."""
_MY_KEY_CONFLICTS = frozenset({1062, 1586})  # ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME
_MY_REFUSED = frozenset(
    {
        1048,  # ER_BAD_NULL_ERROR
        1264,  # ER_WARN_DATA_OUT_OF_RANGE
        1292,  # ER_TRUNCATED_WRONG_VALUE: a date that is not one
        1364,  # ER_NO_DEFAULT_FOR_FIELD
        1366,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
        1406,  # ER_DATA_TOO_LONG
        1451,  # ER_ROW_IS_REFERENCED_2: a foreign key
        1452,  # ER_NO_REFERENCED_ROW_2
        3819,  # ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
        4025,  # ER_CONSTRAINT_FAILED (MariaDB's CHECK)
    }
)
_MY_DRIVERS = ("aiomysql", "asyncmy")


def _mysql_code(exc: BaseException) -> int | None:
    """The error number of a MariaDB/MySQL driver error (wrapped by SQLAlchemy or not), if it has one."""
    arguments = getattr(getattr(exc, "orig", exc), "args", ())
    return arguments[0] if arguments and isinstance(arguments[0], int) else None


def _thread_id(driver_connection: Any) -> int | None:
    """The server's id of a connection (``CONNECTION_ID()``), known since its handshake: no round trip."""
    thread = getattr(driver_connection, "thread_id", None)
    if callable(thread):
        thread = thread()
    return thread if isinstance(thread, int) else None


class MySqlExecutor(SqlAlchemyExecutor):
    """MariaDB and MySQL through SQLAlchemy's asyncio engine (``aiomysql``, or ``asyncmy`` when the URL names it).

    * connections speak ``utf8mb4`` (unless the URL sets ``charset``), so Vietnamese text arrives whole;
    * text is compared under ``utf8mb4_bin`` (:attr:`text_collation`): the usual ``utf8mb4_general_ci`` columns
      would otherwise find ``Lê`` for ``Le`` and ``30A-1`` for ``30a-1``, where PostgreSQL and SQLite do not;
    * a statement given up on (its deadline passed) has its connection dropped and killed on the server
      (``KILL``, from a connection of its own): it does not run on, holding locks, after the caller has gone;
    * a read on a pooled connection the server closed while idle (``wait_timeout``) is tried again once, and
      connections are replaced after five minutes, as the PostgreSQL pool's are when idle;
    * the server's error numbers say what failed: unreachable, timed out, read only, values refused, a failure.
    """

    text_collation = "utf8mb4_bin"

    def __init__(self, url: URL, options: PoolOptions, label: str) -> None:
        Executor.__init__(self, label)
        if "+" not in url.drivername:  # mysql://, mariadb://: the asyncio driver
            url = url.set(drivername=f"{url.get_backend_name()}+aiomysql")
        if url.get_driver_name() == "aiomysql" and importlib.util.find_spec("aiomysql") is None:
            raise ImportError("aiomysql is not installed: pip install 'axis-gateway[mysql]'")
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        connect_args = {"connect_timeout": options.connect_timeout}
        self.engine = create_async_engine(
            url,
            pool_size=options.size,
            max_overflow=options.max_overflow,
            pool_timeout=options.connect_timeout,
            pool_recycle=300,
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,
            connect_args=connect_args,
        )
        # Kills statements given up on: one connection at a time, opened when needed.
        self._killer = create_async_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args
        )
        self._kills: set[asyncio.Task[None]] = set()
        self._kill_seconds = options.connect_timeout + 5

    async def close(self) -> None:
        """Close every connection, once the statements given up on are killed (see :meth:`Executor.close`)."""
        if self._kills:
            await asyncio.wait(set(self._kills), timeout=self._kill_seconds)
        await self.engine.dispose()
        await self._killer.dispose()

    @asynccontextmanager
    async def _killed_if_cancelled(self, connection: AsyncConnection) -> AsyncIterator[None]:
        """Run the block; if it is cancelled (its deadline passed) while the server works, drop the connection
        (it is in the middle of an answer: never to be used again) and kill its statement on the server."""
        raw = await connection.get_raw_connection()
        thread = _thread_id(raw.driver_connection)
        try:
            yield
        except asyncio.CancelledError:
            await connection.invalidate()
            if thread is not None:
                task = asyncio.get_running_loop().create_task(self._kill(thread))
                self._kills.add(task)
                task.add_done_callback(self._kills.discard)
            raise

    async def _kill(self, thread: int) -> None:
        try:
            async with asyncio.timeout(self._kill_seconds):
                async with self._killer.connect() as connection:
                    await connection.exec_driver_sql(f"KILL {int(thread)}")
        except (sa_exc.SQLAlchemyError, OSError, TimeoutError) as exc:
            # 1094 (no such thread): the statement ended meanwhile.
            logger.debug("%s: could not kill connection %d: %r", self.label, thread, exc)

    def _translated(self, exc: BaseException) -> UpstreamError:
        """The connector error of a driver error, by the server's error number."""
        code = _mysql_code(exc)
        if code in _MY_TIMEOUT:
            return self.timed_out(exc)
        if code in _MY_READ_ONLY:
            return self.read_only(exc)
        if (
            code in _MY_UNAVAILABLE
            or (code is not None and 2000 <= code < 3000)  # the client library's: no connection
            or not isinstance(exc, sa_exc.DBAPIError)
            or exc.connection_invalidated
        ):
            return self.unavailable(exc)
        return self.failed(exc)

    async def fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        """All rows of ``statement`` run with ``params`` (see :meth:`Executor.fetch`)."""
        for attempt in (1, 2):
            try:
                async with self.engine.connect() as connection, self._killed_if_cancelled(connection):
                    result = await connection.execute(statement, dict(params))
                    return result.mappings().all()
            except sa_exc.DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated and _mysql_code(exc) in _MY_STALE:
                    logger.debug("%s: a pooled connection was closed by the server: %r", self.label, exc)
                    continue
                raise self._translated(exc) from None
            except (OSError, sa_exc.TimeoutError) as exc:
                raise self.unavailable(exc) from None
            except sa_exc.SQLAlchemyError as exc:
                raise self.failed(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def execute_ddl(self, sql: str) -> None:
        """Run one DDL statement on its own (see :meth:`Executor.execute_ddl`): MariaDB and MySQL commit around
        DDL, so a transaction and its savepoint would end under it."""
        try:
            async with self.engine.connect() as connection, self._killed_if_cancelled(connection):
                await connection.exec_driver_sql(sql)
        except sa_exc.DBAPIError as exc:
            raise self._translated(exc) from None
        except (OSError, sa_exc.TimeoutError) as exc:
            raise self.unavailable(exc) from None

    def _write_isolation(self) -> str:
        return "READ COMMITTED"

    def _guarded(self, connection: AsyncConnection) -> AbstractAsyncContextManager[None]:
        return self._killed_if_cancelled(connection)

    async def _run_group(self, connection: Any, group: Sequence[Step]) -> None:
        for index, step in enumerate(group):
            try:
                result = await connection.execute(step.statement, step.params)
            except sa_exc.DBAPIError as exc:
                code = _mysql_code(exc)
                if code in _MY_KEY_CONFLICTS:
                    raise StepFailed(index, conflict=True) from None
                if code in _MY_REFUSED or isinstance(exc, sa_exc.IntegrityError | sa_exc.DataError):
                    raise self.refused(exc) from None
                raise
            # The rows the key matched (SQLAlchemy asks for CLIENT.FOUND_ROWS), not only those whose values changed.
            if step.one_row and result.rowcount != 1:
                raise StepFailed(index, conflict=False, rows=max(result.rowcount, 0))


def make_executor(url: URL, options: PoolOptions, label: str) -> Executor:
    """The executor for ``url``: asyncpg for PostgreSQL, sqlite3 threads for SQLite files, aiomysql for MariaDB and
    MySQL, else SQLAlchemy."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql" and driver in ("asyncpg", "psycopg2", "psycopg", "pg8000"):
        return AsyncpgExecutor(url, options, label)
    if backend in ("mysql", "mariadb") and ("+" not in url.drivername or driver in _MY_DRIVERS):
        return MySqlExecutor(url, options, label)
    if is_sqlite(url) and sqlite_file(url) is not None:
        return SqliteExecutor(url, options, label)
    return SqlAlchemyExecutor(url, options, label)
