"""PostgreSQL notifications to this process: a ``LISTEN`` on a channel of the gateway's database, kept up through
lost connections.

Processes announce changes to each other with ``NOTIFY`` (a rotated signing key, a client's changed access). A
notification sent while a listener has no connection is lost, so the listener is told each time it starts (again)
listening, and may look at the database anew.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.stdlib import BoundLogger

from gateway.core.logs import get_logger
from gateway.core.outages import database_outage, database_unavailable

log = get_logger(__name__)


async def listen(
    engine: AsyncEngine,
    channel: str,
    on_notify: Callable[[str], None],
    *,
    name: str,
    part: str | None = None,
    on_listening: Callable[[], None] | None = None,
    on_lost: Callable[[], None] | None = None,
    retry_seconds: float = 5.0,
    reconnect_seconds: float = 1.0,
    logger: BoundLogger | None = None,
) -> None:
    """Call ``on_notify`` with the payload of every notification on ``channel`` of ``engine``'s (PostgreSQL)
    database, until cancelled.

    The listener holds a connection of its own (outside the engine's pool). ``on_listening`` is called each time
    it listens, first and after a reconnection: notifications sent meanwhile were missed. When the connection is
    lost (logged as ``<name> lost its connection``) ``on_lost`` is called and it connects again after
    ``reconnect_seconds``; a connection that cannot be made is tried again every ``retry_seconds`` (an
    unreachable database is reported as ``part``'s failure in the database's outage, else logged as ``<name>
    cannot connect``, by ``logger``, by default this module's). ``part`` defaults to ``name``.
    """
    logger = logger or log
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            connection = await asyncpg.connect(dsn, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            if database_unavailable(exc):
                database_outage(engine.url).failed(part or name, exc)
            else:
                logger.warning(f"{name} cannot connect", error=type(exc).__name__)
            await asyncio.sleep(retry_seconds)
            continue
        lost = asyncio.Event()
        try:
            await connection.add_listener(channel, lambda *args: on_notify(str(args[3])))
            connection.add_termination_listener(lambda _conn, lost=lost: lost.set())
            if on_listening is not None:
                on_listening()
            await lost.wait()
            logger.warning(f"{name} lost its connection")
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
        if on_lost is not None:
            on_lost()
        await asyncio.sleep(reconnect_seconds)
