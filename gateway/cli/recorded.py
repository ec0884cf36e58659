"""Administration by the command line, recorded in the audit trail.

Every command that changes clients, grants, keys, secrets or a connection's maintenance runs its change and the
audit event that says what it did (:mod:`gateway.audit.administration`: the action, the client acted on, what
changed; the OS user as actor, no client, a request id starting with ``cli-``) in ONE transaction. The functions
it calls are the admin API's, which commit as they go: in the session given here a commit only flushes, and the
one real commit comes after the event is appended to the chain. So the change is committed with its event, or
neither is: when the event cannot be appended, nothing is changed and the command fails, saying so
(:class:`NotRecorded`).

The event takes the chain's head with a write, after the change's own statements: a running gateway's writers
wait for the command's commit (milliseconds), then find the head ahead of what they wrote, another process's
append, and chain after it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

if TYPE_CHECKING:
    from gateway.identity.request_state import AdminDescriptor

T = TypeVar("T")
#: A command's change: done in the session given, its result and what it did.
Change = Callable[[AsyncSession], Awaitable[tuple[T, "AdminDescriptor"]]]


class NotRecorded(RuntimeError):
    """The change's audit event could not be appended: nothing was changed."""


async def _ensure_head(database_url: str) -> None:
    """Create the chain's head when the trail is empty (no gateway ever started on this database)."""
    from sqlalchemy.exc import IntegrityError

    from gateway.audit.storage import audit_engine, ensure_head

    engine = audit_engine(database_url, writer=True)
    try:
        async with engine.begin() as connection:
            await ensure_head(connection)
    except IntegrityError:
        pass  # a gateway or another command created it at the same moment
    finally:
        await engine.dispose()


async def run_recorded(database_url: str, change: Change[T]) -> T:
    """Run ``change`` in one transaction with its audit event; its result. A problem it raises (404, 409, 422)
    leaves nothing changed and nothing recorded; :class:`NotRecorded` when the event could not be appended."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.audit.administration import append_in_transaction, command_line_event, operating_system_user
    from gateway.audit.storage import HeadMissing
    from gateway.core.db import create_engine, one_transaction_sessionmaker, utcnow

    actor = operating_system_user()
    try:
        await _ensure_head(database_url)
    except (SQLAlchemyError, OSError, HeadMissing) as exc:
        raise NotRecorded(_why(exc)) from exc
    engine = create_engine(database_url)
    try:
        async with one_transaction_sessionmaker(engine)() as session:
            occurred_at, began = utcnow(), time.perf_counter()
            result, descriptor = await change(session)
            event = command_line_event(descriptor, occurred_at=occurred_at, began=began, actor=actor)
            try:
                await append_in_transaction(await session.connection(), event)
                await session.commit_all()
            except (SQLAlchemyError, OSError, HeadMissing) as exc:
                await session.rollback()
                raise NotRecorded(_why(exc)) from exc
            return result
    finally:
        await engine.dispose()


def _why(exc: BaseException) -> str:
    """What kept the event from the chain, without the database's own words (which may quote values)."""
    from gateway.audit.storage import HeadMissing

    return str(exc) if isinstance(exc, HeadMissing) else type(exc).__name__


def not_recorded_message(exc: NotRecorded) -> str:
    """The command's error line when its change could not be recorded."""
    return (
        f"error: nothing was changed: the change could not be recorded in the audit trail ({exc}); "
        "check that the gateway's database takes writes, then run the command again"
    )
