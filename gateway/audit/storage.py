"""The audit tables and the connections that write and read them.

Appending must be serialised across every gateway process: the batch transaction locks the single
``audit_head`` row (``SELECT ... FOR UPDATE`` on PostgreSQL). SQLite has no row locks, so the audit engine opens
its write transactions with ``BEGIN IMMEDIATE``, taking the database's write lock before reading the head, and
commits them with ``synchronous=FULL`` (as the gateway's other connections do): an event is on disk before its
answer leaves. Readers that must see one consistent state (``verify``) get a snapshot: ``REPEATABLE
READ`` on PostgreSQL, one deferred transaction on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit.events import GENESIS
from gateway.audit.models import AuditEvent, AuditHead, AuditSeal, AuditSubject
from gateway.core.db import create_engine, utcnow
from gateway.identity.models import SigningKey

EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
SUBJECTS: sa.Table = AuditSubject.__table__  # type: ignore[attr-defined]
HEAD: sa.Table = AuditHead.__table__  # type: ignore[attr-defined]
SEALS: sa.Table = AuditSeal.__table__  # type: ignore[attr-defined]
SIGNING_KEYS: sa.Table = SigningKey.__table__  # type: ignore[attr-defined]
HEAD_ID = 1


def audit_engine(database_url: str, *, writer: bool) -> AsyncEngine:
    """An engine of the gateway's database for the audit trail: a small pool; on SQLite, a ``writer``'s
    transactions begun with ``BEGIN IMMEDIATE``. A reader that must see one state reads in :func:`consistent_read`,
    whatever its engine."""
    if "sqlite" in database_url:
        engine = create_engine(database_url)
    else:
        # No ping per checkout: a round trip per batch; a dead connection fails one batch (503) and is replaced.
        engine = create_engine(database_url, pool_size=2, max_overflow=2, pool_pre_ping=False)
    if writer and engine.dialect.name == "sqlite":

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver would otherwise begin transactions itself, lazily, at the first write.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        def on_begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        event.listen(engine.sync_engine, "connect", on_connect)
        event.listen(engine.sync_engine, "begin", on_begin)
    return engine


@asynccontextmanager
async def consistent_read(connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """A transaction on ``connection`` whose reads all see the database as its first read saw it, whatever is
    committed meanwhile: ``REPEATABLE READ``, read only, on PostgreSQL; on SQLite one deferred transaction (in WAL
    mode it keeps its first read's snapshot until it ends), begun here when the engine's driver would begin it only
    at the first write, each ``SELECT`` before then seeing the database of its own moment (on a writer's engine,
    :func:`audit_engine` has begun it already)."""
    if connection.dialect.name == "postgresql":
        connection = await connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    async with connection.begin():
        if connection.dialect.name == "sqlite":
            driver: Any = (await connection.get_raw_connection()).driver_connection
            if not driver.in_transaction:
                await connection.exec_driver_sql("BEGIN")
        yield connection


#: A chain position known from outside the database, ``(seq, hash)``: the last event a gateway process appended
#: or sealed (kept in its memory), or an anchor an operator kept.
Known = tuple[int, str]


def head_problem(head: tuple[int, str], known: Known | None) -> str | None:
    """Why the chain's ``head`` cannot follow the position ``known``, seen from the head alone (a head never moves
    back, and an event never changes); ``None`` when it can."""
    if known is None:
        return None
    seq, hash_ = known
    if head[0] < seq:
        return f"the head is at seq {head[0]}, behind seq {seq} known to be written (the tail was cut)"
    if head[0] == seq and head[1] != hash_:
        return f"the head's hash at seq {seq} is not the one known (the chain was rewritten)"
    return None


def hash_problem(known: Known, found: str | None) -> str | None:
    """Why the chain no longer holds the position ``known`` when the hash it holds at that seq is ``found``
    (``None``: no event there); ``None`` when it does."""
    seq, hash_ = known
    if found is None:
        return f"seq {seq}, known to be written, is not in the chain (the chain was cut)"
    if found != hash_:
        return f"the hash of seq {seq} is not the one known (the chain was rewritten)"
    return None


class HeadMissing(RuntimeError):
    """The chain has events but no head row: it was tampered with; nothing is appended until it is repaired."""


async def ensure_head(connection: AsyncConnection) -> None:
    """Create the chain head at the genesis when the trail is empty (the first start ever)."""
    if await read_head(connection) is not None:
        return
    if (await connection.execute(sa.select(EVENTS.c.seq).limit(1))).first() is not None:
        raise HeadMissing("audit_head is missing while audit_events holds events: run `gateway audit verify`")
    await connection.execute(sa.insert(HEAD).values(id=HEAD_ID, seq=0, hash=GENESIS, updated_at=utcnow()))


async def lock_head(connection: AsyncConnection) -> tuple[int, str]:
    """Lock the chain head for this transaction and return its ``(seq, hash)``."""
    statement = sa.select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == HEAD_ID).with_for_update()
    row = (await connection.execute(statement)).first()
    if row is None:
        raise HeadMissing("audit_head is missing: run `gateway audit verify`")
    return int(row.seq), str(row.hash)


async def move_head(connection: AsyncConnection, seq: int, hash_: str) -> None:
    """Point the (locked) head at the event ``seq`` whose hash is ``hash_``."""
    await connection.execute(
        sa.update(HEAD).where(HEAD.c.id == HEAD_ID).values(seq=seq, hash=hash_, updated_at=utcnow())
    )


async def read_head(connection: AsyncConnection) -> tuple[int, str] | None:
    """The chain head's ``(seq, hash)`` without locking it, or ``None`` when there is none yet."""
    row = (await connection.execute(sa.select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == HEAD_ID))).first()
    return None if row is None else (int(row.seq), str(row.hash))
