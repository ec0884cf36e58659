"""Named leases in the shared database: the one process allowed to run a periodic job, taken over when it stops.

A lease is a row of the ``leases`` table (created by the migrations), taken with a conditional update, renewed
while held, and released on shutdown so that another process takes over at once. :class:`LeasedLoop` is the
background loop of such a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from sqlalchemy import Column
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, or_, update
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.db import UTCDateTime, utcnow
from gateway.core.outages import LoopErrors, database_outage
from gateway.core.settings import Settings

#: How long :meth:`LeasedLoop.close` lets a round under way finish before cancelling it.
CLOSE_GRACE_SECONDS = 5.0


class Lease(SQLModel, table=True):
    """A named lease: the one process (``holder``) allowed to run a periodic job until ``expires_at``."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def holder_id() -> str:
    """This process's name in leases: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseHolder:
    """Holds the lease ``name`` for ``seconds`` at a time, renewing it when half of it is left."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], name: str, seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self.name = name
        self.seconds = seconds
        self.holder = holder_id()
        self.held = False
        self._until = 0.0
        #: Whether the last :meth:`hold` asked the database (else it answered from memory).
        self.asked_database = False

    async def hold(self) -> bool:
        """Take or renew the lease; whether this process holds it now."""
        now = time.monotonic()
        self.asked_database = False
        if self.held and self._until - now > self.seconds / 2:
            return True
        self.asked_database = True
        async with self._sessionmaker() as session:
            result = await session.exec(
                update(Lease)
                .where(
                    col(Lease.name) == self.name,
                    or_(col(Lease.holder) == self.holder, col(Lease.expires_at) < utcnow()),
                )
                .values(holder=self.holder, expires_at=utcnow() + timedelta(seconds=self.seconds))
            )
            await session.commit()
        self.held = result.rowcount == 1
        self._until = now + self.seconds if self.held else 0.0
        return self.held

    async def release(self) -> None:
        """Give the lease up, so that another process takes it at once."""
        if not self.held:
            return
        async with self._sessionmaker() as session:
            await session.exec(
                update(Lease)
                .where(col(Lease.name) == self.name, col(Lease.holder) == self.holder)
                .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
            )
            await session.commit()
        self.held = False


async def stop_task(task: asyncio.Task[None] | None, grace: float) -> None:
    """Let ``task`` (told to stop) end by itself for up to ``grace`` seconds, then cancel it; its errors are
    dropped (the loop has logged them)."""
    if task is None or task.done():
        return
    await asyncio.wait({task}, timeout=grace)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class LeasedLoop(ABC):
    """The background loop of a job that one process at a time runs: the one holding the lease :attr:`lease_name`.

    Every round takes or renews the lease; its holder runs :meth:`run_once` when that is due (every
    :attr:`interval_seconds`, and at once in a process that takes the lease over), then the loop waits
    :attr:`tick_seconds`, unless the job said more is waiting. Failed rounds are logged as :attr:`part`'s
    (:class:`~gateway.core.outages.LoopErrors`). :meth:`close` stops the loop and releases the lease, so that another
    process takes the job over at once.
    """

    #: The lease's name (its row is created by a migration).
    lease_name: ClassVar[str]
    #: The name of the loop's task.
    task_name: ClassVar[str]
    #: The loop's name in the logs of its failed rounds.
    part: ClassVar[str]

    def __init__(self, *, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.lease = LeaseHolder(sessionmaker, self.lease_name, settings.axis_lease_seconds)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def interval_seconds(self) -> float:
        """The time between two runs of the job in the lease's holder (by default none: every round)."""
        return 0.0

    @property
    @abstractmethod
    def tick_seconds(self) -> float:
        """The wait between two rounds; the lease is renewed (or sought) every round."""

    @abstractmethod
    async def run_once(self) -> object:
        """Run the job once."""

    async def _work(self) -> bool:
        """Run the job once (this process holds the lease); whether more is waiting (the next round starts at
        once)."""
        await self.run_once()
        return False

    def start(self) -> None:
        """Start the background loop (its first round runs at once)."""
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def close(self) -> None:
        """Stop, and hand the lease over."""
        self._stopping.set()
        await stop_task(self._task, CLOSE_GRACE_SECONDS)
        with contextlib.suppress(Exception):
            await self.lease.release()

    async def _run(self) -> None:
        errors = LoopErrors(self.part, database_outage(self.settings.database_url))
        due = 0.0
        while not self._stopping.is_set():
            busy = False
            try:
                ran = False
                if await self.lease.hold() and time.monotonic() >= due:
                    busy = await self._work()
                    due = time.monotonic() + self.interval_seconds
                    ran = True
                # A round that only kept its lease in memory says nothing of the database.
                errors.succeeded(reached_database=ran or self.lease.asked_database)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors.failed(exc)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.tick_seconds)
