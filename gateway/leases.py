"""Named leases in the shared database: the one process allowed to run a periodic job, taken over when it stops.

A lease is a row of the ``leases`` table (created by the migrations), taken with a conditional update, renewed
while held, and released on shutdown so that another process takes over at once.
"""

from __future__ import annotations

import os
import random
import socket
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, update
from sqlmodel.ext.asyncio.session import AsyncSession

from .db import utcnow
from .models import Lease


def holder_id() -> str:
    """This process's name in leases: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


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
