"""Logging failures that repeat: one line when they start, one when they end, never a traceback per round.

While the gateway's database is down, every background loop (the dispatcher, webhook sender, health checks, the
signing keys' refresh, the audit writer) fails each round, several times a second. :func:`database_outage` gives
the record of one database's failures, shared by every part of the process that uses it: the first failure is
logged (``gateway database unavailable``, with the failing part and the error's class; never its text, which may
hold SQL parameters), the following ones are only counted, and the first success after them logs ``gateway
database available again`` with the seconds it lasted, the failed rounds of each part and the part that reached
it. Failures of another kind (a bug) are collapsed the same way per loop by :class:`LoopErrors`, whose first
failure is logged with its traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from gateway.core.logs import get_logger

log = get_logger(__name__)

# The driver's errors (found behind SQLAlchemy's wrappers): a refused or lost connection, a closed one, a server
# shutting down. Not SQLAlchemy's OperationalError as such: on SQLite it also says that a table is missing.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the connection pool's
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


#: PostgreSQL's error codes of a database out of reach: connection exceptions (class 08), the server shutting
#: down or starting up (57P01-57P03), the database gone (3D000).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "3D000")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached, lost the connection or is gone (as opposed to a bug
    or a refused statement); the driver's error wrapped in SQLAlchemy's is looked at too."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def error_name(exc: BaseException) -> str:
    """The error's class, and its driver's for a database error (``OperationalError/ConnectionRefusedError``)."""
    name = type(exc).__name__
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException) and orig is not exc:
        name = f"{name}/{type(orig).__name__}"
    return name


class Outage:
    """Failures of one resource (the gateway's database) reported by the parts of a process."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failures: Counter[str] = Counter()
        self.since: float | None = None
        self.ended: float | None = None

    @property
    def ongoing(self) -> bool:
        """Whether failures were reported since the last success."""
        return self.since is not None

    def failed(self, part: str, exc: BaseException, *, began: float | None = None) -> None:
        """``part`` failed because of ``exc`` (logged only when it starts an outage).

        ``began`` is the ``time.monotonic()`` at which a long attempt started (a child process verifying the audit
        chain takes seconds): one that started before the last outage was over failed in that outage, and is
        not taken for a new one."""
        if self.since is None and began is not None and self.ended is not None and began < self.ended:
            return
        if self.since is None:
            self.since = time.monotonic()
            log.error(f"{self.what} unavailable", part=part, error=error_name(exc))
        self.failures[part] += 1

    def succeeded(self, part: str) -> None:
        """``part`` reached the resource: the outage, if there was one, has ended."""
        if self.since is None:
            return
        seconds = round(time.monotonic() - self.since, 1)
        failed = dict(sorted(self.failures.items()))
        self.since, self.failures, self.ended = None, Counter(), time.monotonic()
        log.warning(
            f"{self.what} available again",
            seconds=seconds,
            failed_rounds=sum(failed.values()),
            by_part=failed,
            reached_by=part,
        )


_OUTAGES: dict[tuple[str, str | None, int | None, str | None], Outage] = {}


def database_outage(url: str | URL) -> Outage:
    """The outage record of the gateway database at ``url``: one per database in a process, whatever driver its
    URL names (a process that serves several gateways, as the tests do, keeps their outages apart)."""
    parsed = make_url(url) if isinstance(url, str) else url
    key = (parsed.get_backend_name(), parsed.host, parsed.port, parsed.database)
    outage = _OUTAGES.get(key)
    if outage is None:
        outage = _OUTAGES[key] = Outage("gateway database")
    return outage


class LoopErrors:
    """The failed rounds of one background loop: database outages go to its database's :class:`Outage`; other errors are
    logged once with their traceback, counted, and summed up when a round succeeds again."""

    def __init__(self, part: str, outage: Outage) -> None:
        self.part = part
        self.outage = outage
        self.failed_rounds = 0

    def failed(self, exc: BaseException) -> None:
        """Record a failed round (call from the loop's ``except Exception``)."""
        if isinstance(exc, asyncio.CancelledError):
            return
        if database_unavailable(exc):
            self.outage.failed(self.part, exc)
            return
        if self.failed_rounds == 0:
            log.error(f"{self.part} round failed", error=error_name(exc), exc_info=exc)
        self.failed_rounds += 1

    def succeeded(self, *, reached_database: bool = True) -> None:
        """Record a round that went through (and, unless told otherwise, used the database)."""
        if reached_database:
            self.outage.succeeded(self.part)
        if self.failed_rounds:
            log.warning(f"{self.part} rounds succeed again", failed_rounds=self.failed_rounds)
            self.failed_rounds = 0
