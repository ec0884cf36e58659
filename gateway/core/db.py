"""The gateway's own database: engine and session factory (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, DateTime, Table, event, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.sql.urls import is_sqlite, sqlite_file, to_async_url
from gateway.core.files import private_sqlite_file


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC; :class:`ValueError` when it has no zone, or when its time in UTC lies outside the range
    of :class:`datetime` (``0001-01-01T00:00:00+14:00`` is 31 December of year 0 in UTC, which does not exist)."""
    if value.utcoffset() is None:
        raise ValueError("naive datetime given for a UTC column")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time in UTC lies outside the years 1 to 9999") from None


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone). It stores what
    :data:`StorableDatetime` admits (:func:`in_utc`); a value from a client reaches it only through that type."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = in_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: The message of a date-time refused by :data:`StorableDatetime` (its error type: ``datetime_out_of_range``).
OUT_OF_RANGE = "Input should be a date-time whose time in UTC lies between the years 1 and 9999"


def check_storable(value: datetime) -> datetime:
    """``value``, if a :class:`UTCDateTime` column can store it; else the validation error of
    :data:`StorableDatetime` (for validators that parse a date-time themselves)."""
    try:
        in_utc(value)
    except ValueError:
        raise PydanticCustomError("datetime_out_of_range", OUT_OF_RANGE) from None
    return value


#: Checks that an aware date-time can be stored in a :class:`UTCDateTime` column (422 otherwise); the value is kept
#: as given, with its offset. After :func:`assume_utc` in a type that takes a date-time without zone as UTC.
STORABLE = AfterValidator(check_storable)

#: The message of a date-time given as a number (seconds since 1970): refused, the offset would be a guess.
AS_TEXT = "Input should be a date-time with its UTC offset, as text (RFC 3339)"


def as_text(value: object) -> object:
    """``value`` unless it is a number (pydantic would take it for seconds since 1970, in UTC)."""
    if isinstance(value, int | float):  # bool included
        raise PydanticCustomError("datetime_type", AS_TEXT)
    return value


StorableDatetime = Annotated[AwareDatetime, BeforeValidator(as_text), STORABLE]
"""A date-time with its UTC offset that the gateway's database can store: its time in UTC lies within the years 1
to 9999 (``0001-01-01T00:00:00+14:00`` and ``9999-12-31T23:00:00-14:00`` do not). Every date-time a client sends
that reaches the database is of this type, so that one refused at intake is a 422, never a failure later."""


def assume_utc(value: datetime) -> datetime:
    """``value``, in UTC when it has no zone (for query parameters that document so)."""
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns, so that an accepted submission (answered 202) survives a power
    # loss, not only a crash of the process. The gateway's own writes are few; the read path writes none here.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine of the gateway's database; SQLite runs in WAL mode, its file (and directory)
    created private to the gateway's user (:mod:`gateway.core.files`)."""
    url = to_async_url(database_url)
    if is_sqlite(url):
        path = sqlite_file(url)
        if path is not None:
            private_sqlite_file(path)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class OneTransaction(AsyncSession):
    """A session whose :meth:`commit` only flushes: everything done in it is committed by :meth:`commit_all`.

    An administrator's change runs in one (the services it calls commit as they go) so that its audit event can
    join its transaction: the change is committed with its event, or not at all."""

    async def commit(self) -> None:
        """Send what is pending to the database, in the transaction that stays open."""
        await self.flush()

    async def commit_all(self) -> None:
        """Commit the transaction."""
        await super().commit()


def one_transaction_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[OneTransaction]:
    """:class:`OneTransaction` sessions, keeping loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=OneTransaction, expire_on_commit=False)


async def ping(engine: AsyncEngine, *, writable: bool = False) -> None:
    """Run ``SELECT 1``; raises when the database is unreachable. ``writable``: also write, in a transaction
    rolled back, to the audit chain's head (no row changes): raises (or waits) when the database cannot take a
    write now: a PostgreSQL standby or read-only transaction, a SQLite file another process holds locked."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        if writable:
            try:
                await conn.execute(text("UPDATE audit_head SET seq = seq WHERE 1 = 0"))
            finally:
                await conn.rollback()


@asynccontextmanager
async def standalone_session(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session on its own short-lived engine, for command-line tools."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def lock_rows(connection: AsyncConnection, table: Table, where: ColumnElement[bool]) -> list[Any]:
    """Lock the rows of ``table`` matching ``where`` until the transaction ends; their primary keys (the first
    key column).

    PostgreSQL locks the rows (``SELECT ... FOR UPDATE``). SQLite has no row locks, and its driver runs a
    ``SELECT`` outside the transaction (which it begins only at the first write), so a check read there may be
    stale by the time the writes that follow it run. On SQLite the lock is therefore a write that changes
    nothing: it begins the transaction and takes the database's write lock, held until commit.
    """
    key = next(iter(table.primary_key.columns))
    if connection.dialect.name == "sqlite":
        statement = update(table).where(where).values({key.name: key}).returning(key)
        return list((await connection.execute(statement)).scalars())
    return list((await connection.execute(select(key).where(where).with_for_update())).scalars())
