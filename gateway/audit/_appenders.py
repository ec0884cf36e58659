"""Appending one batch of events to the chain, in one transaction, as cheaply as each database allows.

The chain is serialised by the head row: lock it, read ``(seq, hash)``, number and chain the events, insert them
and their data subjects, move the head, seal if due, commit. How:

* PostgreSQL: one asyncpg connection. A batch is ONE statement (one round trip, where locking the head first
  takes six): it moves the head from the ``(seq, hash)`` this process last wrote, only if the head
  is still there, and inserts the events and their data subjects only if it moved. When another process appended
  meanwhile (or at the first batch, or when a seal is due), the batch takes the locking path instead:
  ``SELECT ... FOR UPDATE`` on the head, ``executemany`` inserts, in a transaction.
* SQLite: ``BEGIN IMMEDIATE`` (the database's write lock) and ``synchronous=FULL``. When the write lock is free at
  once, the batch's statements run on the event loop's thread (microseconds: a worker thread would wait for the
  interpreter's lock at every statement while requests keep the loop busy) and only the commit, whose ``fsync`` may
  take milliseconds on a busy disk, runs in a dedicated thread. When another process holds the lock, the whole
  batch runs in that thread, waiting up to the busy timeout.
* anything else: SQLAlchemy's engine.

On the read path every answer waits for its batch's commit, so the appender's latency is the audit's cost.

Whenever a batch reads the head, it checks it against the chain position this process knows (the last event it
appended, see :class:`Known`): a head behind it, or at it with another hash, means the chain was cut or rewritten
behind the gateway's back. Before sealing, the chain must also still hold that event's hash. Otherwise the batch
is appended without a seal and the appender says why (:attr:`Appended.altered`): the gateway must never sign a
chain it did not write.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit._seals import Seal, store_seal
from gateway.audit.events import PendingEvent, subject_ids
from gateway.audit.storage import (
    EVENTS,
    HEAD_ID,
    SUBJECTS,
    HeadMissing,
    Known,
    hash_problem,
    head_problem,
    lock_head,
    move_head,
)
from gateway.core.db import utcnow

#: Makes the seal of the chain head ``(seq, hash)``, when one is due with this batch.
SealMaker = Callable[[int, str], Seal]


@dataclass(frozen=True, slots=True)
class Appended:
    """What a batch wrote: its events' ``seq`` numbers, the hash of the last one, the seal made (if one was due and
    the chain still holds what this process knew), and, when it does not, why (``altered``)."""

    seqs: list[int]
    hash: str
    seal: Seal | None = None
    altered: str | None = None


def chain(
    events: Sequence[PendingEvent], seq: int, prev_hash: str
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """The rows of ``events`` placed after ``(seq, prev_hash)``, and their ``(subject_id, seq)`` pairs."""
    rows: list[dict[str, Any]] = []
    subjects: list[tuple[str, int]] = []
    for event in events:
        seq += 1
        row = event.chained(seq, prev_hash)
        prev_hash = row["hash"]
        rows.append(row)
        subjects.extend((subject, seq) for subject in subject_ids(event.record_ids))
    return rows, subjects


class Appender(ABC):
    """Appends batches to the chain of one database."""

    @abstractmethod
    async def append(
        self, events: Sequence[PendingEvent], seal: SealMaker | None, known: Known | None = None
    ) -> Appended:
        """Append ``events`` in one transaction, after checking the head against ``known`` (the chain position this
        process knows); seal the new head if ``seal`` was given and the chain still holds ``known``."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections and threads."""


class SqlAlchemyAppender(Appender):
    """Through the audit engine (databases without a dedicated path)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def append(
        self, events: Sequence[PendingEvent], seal: SealMaker | None, known: Known | None = None
    ) -> Appended:
        async with self.engine.begin() as connection:
            seq, prev_hash = await lock_head(connection)
            altered = head_problem((seq, prev_hash), known)
            if altered is None and seal is not None and known is not None and seq > known[0]:
                found = (await connection.execute(sa.select(EVENTS.c.hash).where(EVENTS.c.seq == known[0]))).first()
                altered = hash_problem(known, None if found is None else str(found.hash))
            rows, subjects = chain(events, seq, prev_hash)
            await connection.execute(sa.insert(EVENTS), rows)
            if subjects:
                await connection.execute(sa.insert(SUBJECTS), [{"subject_id": s, "seq": n} for s, n in subjects])
            await move_head(connection, rows[-1]["seq"], rows[-1]["hash"])
            made = seal(rows[-1]["seq"], rows[-1]["hash"]) if seal is not None and altered is None else None
            if made is not None:
                await store_seal(connection, made)
        return Appended([row["seq"] for row in rows], rows[-1]["hash"], made, altered)

    async def close(self) -> None:
        pass


def _insert_event(dialect: Any) -> tuple[str, tuple[str, ...]]:
    """The INSERT of one event row for a driver's paramstyle, and the order of its parameters."""
    compiled: Any = sa.insert(EVENTS).compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup)


_PG_INSERT_EVENT, _PG_EVENT_COLUMNS = _insert_event(asyncpg_dialect(paramstyle="numeric_dollar"))  # type: ignore[no-untyped-call]
#: The JSON columns: bound as text, cast to ``json`` by the statement.
_JSON_COLUMNS = frozenset({"record_ids", "fields", "change"})
_PG_JSON_INDEXES = tuple(i for i, c in enumerate(_PG_EVENT_COLUMNS) if c in _JSON_COLUMNS)
#: The PostgreSQL array type of each event column's values, in the order of :data:`_PG_EVENT_COLUMNS`.
_PG_ARRAY_TYPES = {
    "seq": "bigint[]",
    "occurred_at": "timestamptz[]",
    "record_ids": "text[]",
    "status": "integer[]",
    "latency_ms": "float8[]",
}


def _json_or_null(value: Any) -> str | None:
    """A JSON column's value as the text bound for it; ``None`` (SQL null) for ``None``."""
    return None if value is None else orjson.dumps(value).decode()


def _pg_append_statement() -> str:
    """The one-statement batch: move the head if it is still where this process left it, and only then insert the
    events (their columns as arrays) and their data subjects. Answers 1 when the head moved, 0 when it did not."""
    columns = ", ".join(_PG_EVENT_COLUMNS)
    arrays = ", ".join(f"${9 + i}::{_PG_ARRAY_TYPES.get(c, 'text[]')}" for i, c in enumerate(_PG_EVENT_COLUMNS))
    selected = ", ".join(f"{c}::json" if c in _JSON_COLUMNS else c for c in _PG_EVENT_COLUMNS)
    # The names are the table's own columns; every value is a bound parameter.
    return (
        "WITH moved AS (UPDATE audit_head SET seq = $1, hash = $2, updated_at = $3 "  # noqa: S608
        "WHERE id = $4 AND seq = $5 AND hash = $6 RETURNING seq), "
        f"events AS (INSERT INTO audit_events ({columns}) SELECT {selected} "
        f"FROM unnest({arrays}) AS e({columns}) WHERE EXISTS (SELECT FROM moved)), "
        "subjects AS (INSERT INTO audit_subjects (subject_id, seq) "
        "SELECT * FROM unnest($7::text[], $8::bigint[]) WHERE EXISTS (SELECT FROM moved)) "
        "SELECT count(*) FROM moved"
    )


_PG_APPEND = _pg_append_statement()


class AsyncpgAppender(Appender):
    """PostgreSQL through one asyncpg connection (a single writer per process), opened on demand."""

    def __init__(self, database_url: str, *, timeout_seconds: float = 5.0) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        # The server's own limit on a batch's statements, below the writer's (see append).
        self._statement_timeout_ms = max(1, int(timeout_seconds * 800))
        self._connection: Any = None
        #: The head as this process's last batch left it: where the next batch expects it to be.
        self._head: tuple[int, str] | None = None

    async def _connect(self) -> Any:
        if self._connection is None or self._connection.is_closed():
            import asyncpg

            self._connection = await asyncpg.connect(
                self._dsn, timeout=10, server_settings={"statement_timeout": str(self._statement_timeout_ms)}
            )
        return self._connection

    async def append(
        self, events: Sequence[PendingEvent], seal: SealMaker | None, known: Known | None = None
    ) -> Appended:
        connection = await self._connect()
        if self._head is not None and seal is None:
            seq, prev_hash = self._head
            rows, subjects = chain(events, seq, prev_hash)
            last = rows[-1]
            columns = [[row[c] for row in rows] for c in _PG_EVENT_COLUMNS]
            for index in _PG_JSON_INDEXES:
                columns[index] = [_json_or_null(value) for value in columns[index]]
            try:
                # One round trip, committed on its own. The server gives up on it (statement_timeout, set below the
                # writer's timeout) before the writer does, so a batch answered as failed does not commit later.
                moved = await connection.fetchval(
                    _PG_APPEND,
                    last["seq"],
                    last["hash"],
                    utcnow(),
                    HEAD_ID,
                    seq,
                    prev_hash,
                    [subject for subject, _ in subjects],
                    [number for _, number in subjects],
                    *columns,
                )
            except BaseException:
                self._head = None
                await self._discard()
                raise
            if moved:
                self._head = (last["seq"], last["hash"])
                return Appended([row["seq"] for row in rows], last["hash"])
            # Another process appended since: the locking path reads the head it left.
        self._head = None
        try:
            async with connection.transaction():
                head = await connection.fetchrow("SELECT seq, hash FROM audit_head WHERE id = $1 FOR UPDATE", HEAD_ID)
                if head is None:
                    raise HeadMissing("audit_head is missing: run `gateway audit verify`")
                altered = head_problem((int(head["seq"]), str(head["hash"])), known)
                if altered is None and seal is not None and known is not None and int(head["seq"]) > known[0]:
                    found = await connection.fetchval("SELECT hash FROM audit_events WHERE seq = $1", known[0])
                    altered = hash_problem(known, found)
                rows, subjects = chain(events, int(head["seq"]), str(head["hash"]))
                await connection.executemany(
                    _PG_INSERT_EVENT,
                    [
                        tuple(_json_or_null(row[c]) if c in _JSON_COLUMNS else row[c] for c in _PG_EVENT_COLUMNS)
                        for row in rows
                    ],
                )
                if subjects:
                    await connection.executemany(
                        "INSERT INTO audit_subjects (subject_id, seq) VALUES ($1, $2)", subjects
                    )
                last = rows[-1]
                await connection.execute(
                    "UPDATE audit_head SET seq = $1, hash = $2, updated_at = $3 WHERE id = $4",
                    last["seq"],
                    last["hash"],
                    utcnow(),
                    HEAD_ID,
                )
                made = seal(last["seq"], last["hash"]) if seal is not None and altered is None else None
                if made is not None:
                    await connection.execute(
                        "INSERT INTO audit_seals (seq, hash, kid, signature, sealed_at) VALUES ($1, $2, $3, $4, $5)",
                        made.seq,
                        made.hash,
                        made.kid,
                        made.signature,
                        made.sealed_at,
                    )
        except BaseException:
            # A failed or cancelled batch may leave the connection mid-transaction: start afresh next time.
            await self._discard()
            raise
        self._head = (rows[-1]["seq"], rows[-1]["hash"])
        return Appended([row["seq"] for row in rows], rows[-1]["hash"], made, altered)

    async def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close(timeout=5)


def _sqlite_time(value: datetime) -> str:
    # The format SQLAlchemy's SQLite DateTime stores, so that the readers (verify, the audit API) parse it.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


_SQLITE_INSERT_EVENT, _SQLITE_EVENT_COLUMNS = _insert_event(sqlite_dialect(paramstyle="qmark"))


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


_SQLITE_CONVERTED: dict[str, Callable[[Any], Any]] = {
    "occurred_at": _sqlite_time,
    "record_ids": _json_text,
    "fields": _json_or_null,
    "change": _json_or_null,
}
#: Per column of the insert, in its order: the row's key and the conversion of its value (``None``: as it is).
_SQLITE_PLAN = tuple((column, _SQLITE_CONVERTED.get(column)) for column in _SQLITE_EVENT_COLUMNS)


def _sqlite_row(row: dict[str, Any]) -> tuple[Any, ...]:
    """The parameters of the insert of one chained event row."""
    return tuple(row[column] if convert is None else convert(row[column]) for column, convert in _SQLITE_PLAN)


class SqliteAppender(Appender):
    """SQLite: the whole batch in one transaction, on the event loop's thread when the write lock is free at once,
    else in one dedicated thread that waits for it (see the module's description)."""

    def __init__(self, database_url: str, *, busy_timeout: float = 30.0) -> None:
        database = make_url(database_url).database
        if not database:
            raise ValueError("the audit trail needs a SQLite file, not an in-memory database")
        self._path = database
        self._busy_timeout = busy_timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sqlite")
        self._local = threading.local()
        self._now: sqlite3.Connection | None = None

    def _open(self, busy_timeout: float) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._open(self._busy_timeout)
        return connection

    def _append(self, events: Sequence[PendingEvent], seal: SealMaker | None, known: Known | None) -> Appended:
        """The whole batch in the dedicated thread, waiting for the write lock up to the busy timeout."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        written = self._stage(connection, events, seal, known)
        self._commit(connection)
        return written

    def _stage(
        self,
        connection: sqlite3.Connection,
        events: Sequence[PendingEvent],
        seal: SealMaker | None,
        known: Known | None,
    ) -> Appended:
        """The batch's statements, in the transaction just begun on ``connection`` (rolled back and raised on
        failure); the commit is the caller's."""
        try:
            head = connection.execute("SELECT seq, hash FROM audit_head WHERE id = ?", (HEAD_ID,)).fetchone()
            if head is None:
                raise HeadMissing("audit_head is missing: run `gateway audit verify`")
            altered = head_problem((int(head[0]), str(head[1])), known)
            if altered is None and seal is not None and known is not None and int(head[0]) > known[0]:
                found = connection.execute("SELECT hash FROM audit_events WHERE seq = ?", (known[0],)).fetchone()
                altered = hash_problem(known, None if found is None else str(found[0]))
            rows, subjects = chain(events, int(head[0]), str(head[1]))
            connection.executemany(_SQLITE_INSERT_EVENT, [_sqlite_row(row) for row in rows])
            if subjects:
                connection.executemany("INSERT INTO audit_subjects (subject_id, seq) VALUES (?, ?)", subjects)
            last = rows[-1]
            connection.execute(
                "UPDATE audit_head SET seq = ?, hash = ?, updated_at = ? WHERE id = ?",
                (last["seq"], last["hash"], _sqlite_time(utcnow()), HEAD_ID),
            )
            made = seal(last["seq"], last["hash"]) if seal is not None and altered is None else None
            if made is not None:
                connection.execute(
                    "INSERT INTO audit_seals (seq, hash, kid, signature, sealed_at) VALUES (?, ?, ?, ?, ?)",
                    (made.seq, made.hash, made.kid, made.signature, _sqlite_time(made.sealed_at)),
                )
        except BaseException:
            self._rollback(connection)
            raise
        return Appended([row["seq"] for row in rows], last["hash"], made, altered)

    def _commit(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("COMMIT")
        except BaseException:
            self._rollback(connection)
            raise

    @staticmethod
    def _rollback(connection: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")

    async def append(
        self, events: Sequence[PendingEvent], seal: SealMaker | None, known: Known | None = None
    ) -> Appended:
        loop = asyncio.get_running_loop()
        if self._now is None:
            self._now = self._open(0.0)
        try:
            self._now.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # "database is locked": another process is writing; wait in the thread
            # Shielded: a batch once started is committed or rolled back by its thread, never abandoned half-way.
            return await asyncio.shield(loop.run_in_executor(self._thread, self._append, events, seal, known))
        # The write lock is ours: the statements take microseconds here; the commit (its fsync) is the thread's.
        written = self._stage(self._now, events, seal, known)
        await asyncio.shield(loop.run_in_executor(self._thread, self._commit, self._now))
        return written

    async def close(self) -> None:
        def close_connection() -> None:
            connection = getattr(self._local, "connection", None)
            if connection is not None:
                connection.close()

        if self._now is not None:
            self._now.close()
            self._now = None
        await asyncio.get_running_loop().run_in_executor(self._thread, close_connection)
        self._thread.shutdown(wait=True)


def make_appender(database_url: str, engine: AsyncEngine, *, timeout_seconds: float = 5.0) -> Appender:
    """The appender for the gateway's database: asyncpg, a sqlite3 thread, or SQLAlchemy."""
    backend = engine.dialect.name
    if backend == "postgresql":
        return AsyncpgAppender(database_url, timeout_seconds=timeout_seconds)
    if backend == "sqlite" and make_url(database_url).database not in (None, "", ":memory:"):
        return SqliteAppender(database_url)
    return SqlAlchemyAppender(engine)
