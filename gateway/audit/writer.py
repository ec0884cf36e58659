"""The audit writer: one per process, appending events to the chain in batches (group commit).

Exchanges hand their event to :meth:`AuditWriter.append` and wait. A single background task takes the waiting
events (after at most ``batch_wait`` when it was idle: events that arrive while a batch is being written form
the next batch at once), and appends them in ONE transaction: lock the head, number and chain the events,
insert them and their data subjects, move the head, commit. Only then does every waiter resume, and its answer
leave. When the transaction fails or times out, every waiter of the batch gets :class:`AuditUnavailable` (503):
no answer leaves unaudited.

The writer also seals the chain (see :mod:`.seals`): in the batch transaction once it has written
``seal_every_events`` events since its last seal, in a transaction of its own when ``seal_every_seconds`` have
passed since its last seal and it wrote anything since, and when it closes.

The writer remembers the last chain position it wrote (the ``seq`` and hash of its last event, or of the head it
sealed): memory the database cannot rewrite. A batch that finds the head behind it, or a seal due on a chain that
no longer holds it, means the chain was cut or rewritten behind the gateway's back: the writer logs it (``audit
chain altered``, with the position it knew: an anchor for ``gateway audit verify --anchor``), goes on appending but
never seals again (a seal would sign the altered chain as the gateway's), and gives the position it knew to this
process's periodic verification (:func:`known_anchors`), which then reports the chain broken.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.audit._appenders import Appended, Appender, SqlAlchemyAppender, make_appender
from gateway.audit._seals import Seal, make_seal, store_seal
from gateway.audit.events import PendingEvent
from gateway.audit.storage import (
    EVENTS,
    SEALS,
    Known,
    audit_engine,
    ensure_head,
    hash_problem,
    head_problem,
    lock_head,
)
from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.logs import get_logger
from gateway.core.outages import database_outage, database_unavailable, error_name
from gateway.core.problems import AuditUnavailable
from gateway.core.settings import Settings
from gateway.identity.key_material import SigningKeyFile
from gateway.identity.signing_keys import publish_signing_key

log = get_logger(__name__)

#: Attempts at the seal made on close, each on fresh connections, and the wait before the next one.
CLOSE_SEAL_ATTEMPTS = 3
CLOSE_SEAL_BACKOFF_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """How the writer batches and seals (see the ``audit_*`` settings)."""

    batch_wait_seconds: float = 0.0
    batch_max: int = 500
    queue_max: int = 10_000
    timeout_seconds: float = 5.0
    seal_every_events: int = 1000
    seal_every_seconds: float = 60.0


_Waiting = tuple[PendingEvent, "asyncio.Future[int]"]
#: The running writers of this process (see :func:`known_anchors`).
_RUNNING: weakref.WeakSet[AuditWriter] = weakref.WeakSet()


class ChainAltered(RuntimeError):
    """The chain no longer holds the position this process wrote: it was cut or rewritten; nothing is sealed."""


def known_anchors(database_url: str) -> list[Known]:
    """The chain positions the running writers of this process wrote to the database of ``database_url`` (or
    knew before they found the chain altered): anchors the chain must still hold, kept outside the database."""
    return sorted(
        writer.anchor
        for writer in list(_RUNNING)
        if writer.database_url == database_url and writer.running and writer.anchor is not None
    )


class AuditWriter:
    """Appends this process's events to the shared chain; see the module's description."""

    def __init__(
        self,
        engine: AsyncEngine,
        options: WriterOptions,
        *,
        signing_key: Callable[[], SigningKeyFile] | None = None,
        appender: Appender | None = None,
    ) -> None:
        self.engine = engine
        self.options = options
        self.appender = appender if appender is not None else SqlAlchemyAppender(engine)
        self._signing_key = signing_key
        self._published_kids: set[str] = set()
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._unsealed = 0
        self._last_seal = time.monotonic()
        #: The database the writer appends to, as its settings name it.
        self.database_url = engine.url.render_as_string(hide_password=False)
        self._known: Known | None = None
        self._altered: str | None = None

    @classmethod
    def for_database(
        cls, database_url: str, options: WriterOptions, *, signing_key: Callable[[], SigningKeyFile] | None = None
    ) -> AuditWriter:
        """A writer with its own connections to the gateway's database, appending by its fastest path."""
        engine = audit_engine(database_url, writer=True)
        writer = cls(
            engine,
            options,
            signing_key=signing_key,
            appender=make_appender(database_url, engine, timeout_seconds=options.timeout_seconds),
        )
        writer.database_url = database_url
        return writer

    @property
    def running(self) -> bool:
        """Whether events are being accepted."""
        return self._task is not None and not self._task.done() and not self._closing

    @property
    def anchor(self) -> Known | None:
        """The last chain position this writer wrote, ``(seq, hash)``; once it found the chain altered, the last
        one it wrote before that."""
        return self._known

    @property
    def altered(self) -> str | None:
        """Why the chain no longer holds what this writer wrote, once it found so (it seals no more)."""
        return self._altered

    async def start(self) -> None:
        """Create the chain head on first use, and start the background task."""
        metrics.declare_audit()
        try:
            async with self.engine.begin() as connection:
                await ensure_head(connection)
        except IntegrityError:
            pass  # another process created it at the same moment
        self._task = asyncio.create_task(self._run(), name="audit-writer")
        _RUNNING.add(self)

    async def append(self, event: PendingEvent) -> int:
        """Append ``event`` to the chain and return its ``seq`` once committed; :class:`AuditUnavailable` when
        it cannot be."""
        if not self.running or len(self._waiting) >= self.options.queue_max:
            metrics.AUDIT_WRITE_FAILURES.inc()
            raise AuditUnavailable
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Write what is waiting, seal the head, and stop."""
        self._closing = True
        _RUNNING.discard(self)
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail(list(self._waiting))
        self._waiting.clear()
        if self._unsealed and self._signing_key is not None and self._altered is None:
            await self._seal_on_close()
        await self.appender.close()
        await self.engine.dispose()

    async def _seal_on_close(self) -> None:
        """Seal the last events. The pool's connections may have died with the database since they were last
        used (a PostgreSQL restart): a failed attempt starts again on fresh connections."""
        for attempt in range(1, CLOSE_SEAL_ATTEMPTS + 1):
            try:
                await self.seal()
                return
            except ChainAltered:
                return  # logged: the altered chain is not sealed
            except Exception as exc:
                failure = exc
            await self.engine.dispose()
            if attempt < CLOSE_SEAL_ATTEMPTS:
                await asyncio.sleep(CLOSE_SEAL_BACKOFF_SECONDS * attempt)
        # The chain is intact; only the seal of its last events is missing (the next process's seal covers them).
        log.error("audit seal on close failed", error=error_name(failure), attempts=CLOSE_SEAL_ATTEMPTS)

    # -- the background task ------------------------------------------------------------------------------

    async def _run(self) -> None:
        options = self.options
        while True:
            if not self._waiting:
                if self._closing:
                    return
                self._wakeup.clear()
                if not await self._idle():
                    continue
                if options.batch_wait_seconds > 0 and not self._closing:
                    await asyncio.sleep(options.batch_wait_seconds)
            count = min(len(self._waiting), options.batch_max)
            if count:
                await self._commit([self._waiting.popleft() for _ in range(count)])

    async def _idle(self) -> bool:
        """Wait for an event; return ``False`` when a timed seal was due first (and made)."""
        if not self._unsealed or self._signing_key is None or self._altered is not None:
            await self._wakeup.wait()
            return True
        remaining = self.options.seal_every_seconds - (time.monotonic() - self._last_seal)
        if remaining > 0:
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
                return True
            except TimeoutError:
                pass
        try:
            await self.seal()
        except ChainAltered:
            pass  # logged; no seal is made any more
        except Exception as exc:
            if database_unavailable(exc):
                database_outage(self.engine.url).failed("audit seal", exc)
            else:
                log.error("audit seal failed", error=type(exc).__name__)
            self._last_seal = time.monotonic()  # try again after another interval
        return False

    async def _commit(self, batch: list[_Waiting]) -> None:
        events = [event for event, _future in batch]
        try:
            key = await self._key_for_seal() if self._seal_due(len(events)) else None
            async with asyncio.timeout(self.options.timeout_seconds):
                appended = await self._append(events, key)
        except Exception as exc:
            if database_unavailable(exc):
                database_outage(self.engine.url).failed("audit", exc)
            else:
                log.error("audit write failed", error=type(exc).__name__, events=len(batch))
            self._fail(batch)
            return
        database_outage(self.engine.url).succeeded("audit")
        if appended.altered is not None:
            self._found_altered(appended.altered)
        elif self._altered is None:
            self._known = (appended.seqs[-1], appended.hash)
        for (_event, future), seq in zip(batch, appended.seqs, strict=True):
            if not future.done():
                future.set_result(seq)
        metrics.AUDIT_BATCH_EVENTS.observe(len(events))
        for outcome, count in collections.Counter(event.outcome for event in events).items():
            metrics.AUDIT_EVENTS.labels(outcome).inc(count)
        self._unsealed += len(events)
        if appended.seal is not None:
            self._sealed(appended.seal)

    def _fail(self, batch: Sequence[_Waiting]) -> None:
        for _event, future in batch:
            if not future.done():
                metrics.AUDIT_WRITE_FAILURES.inc()
                future.set_exception(AuditUnavailable())

    async def _append(self, events: Sequence[PendingEvent], key: SigningKeyFile | None) -> Appended:
        seal = None if key is None else (lambda seq, hash_: make_seal(key, seq, hash_, utcnow()))
        return await self.appender.append(events, seal, None if self._altered is not None else self._known)

    def _found_altered(self, why: str) -> None:
        """The chain no longer holds what this writer wrote: say so once, with the position it knew, and seal no
        more."""
        if self._altered is not None:
            return
        self._altered = why
        metrics.AUDIT_CHAIN_ALTERED.set(1)
        seq, hash_ = self._known if self._known is not None else (None, None)
        log.error(
            "audit chain altered",
            detail=why,
            seq=seq,
            hash=hash_,
            action="no seal is made any more by this process; run `gateway audit verify --anchor SEQ:HASH` with "
            "this seq and hash",
        )

    # -- seals --------------------------------------------------------------------------------------------

    def _seal_due(self, more: int) -> bool:
        return (
            self._signing_key is not None
            and self._altered is None
            and self._unsealed + more >= self.options.seal_every_events
        )

    async def _key_for_seal(self) -> SigningKeyFile:
        """The current signing key, published first if this process has not seen it published (so that
        ``verify`` finds it)."""
        assert self._signing_key is not None
        key = self._signing_key()
        if key.kid not in self._published_kids:
            async with AsyncSession(self.engine) as session:
                await publish_signing_key(session, key)
            self._published_kids.add(key.kid)
        return key

    async def seal(self) -> Seal | None:
        """Seal the chain head now unless it is sealed already (or empty); the seal made, if any.
        :class:`ChainAltered` when the chain no longer holds what this writer wrote (nothing is sealed)."""
        if self._altered is not None:
            raise ChainAltered(self._altered)
        key = await self._key_for_seal()
        try:
            async with asyncio.timeout(self.options.timeout_seconds), self.engine.begin() as connection:
                seal = await seal_head(connection, key, known=self._known)
        except ChainAltered as exc:
            self._found_altered(str(exc))
            raise
        if seal is not None:
            self._known = (seal.seq, seal.hash)
            self._sealed(seal)
        else:
            self._unsealed, self._last_seal = 0, time.monotonic()
        return seal

    def _sealed(self, seal: Seal) -> None:
        self._unsealed, self._last_seal = 0, time.monotonic()
        metrics.AUDIT_SEALS.inc()
        log.info("audit chain sealed", seq=seal.seq, hash=seal.hash, kid=seal.kid, signature=seal.signature)


async def seal_head(connection: AsyncConnection, key: SigningKeyFile, *, known: Known | None = None) -> Seal | None:
    """In the caller's transaction: lock the head and seal it, unless the chain is empty or the head is sealed
    already. :class:`ChainAltered` when the chain no longer holds the position ``known`` (the last one the caller
    wrote)."""
    seq, hash_ = await lock_head(connection)
    problem = head_problem((seq, hash_), known)
    if problem is None and known is not None and seq > known[0]:
        found = (await connection.execute(sa.select(EVENTS.c.hash).where(EVENTS.c.seq == known[0]))).first()
        problem = hash_problem(known, None if found is None else str(found.hash))
    if problem is not None:
        raise ChainAltered(problem)
    if seq == 0:
        return None
    if (await connection.execute(sa.select(SEALS.c.seq).where(SEALS.c.seq == seq))).first() is not None:
        return None
    seal = make_seal(key, seq, hash_, utcnow())
    await store_seal(connection, seal)
    return seal


def writer_options(settings: Settings) -> WriterOptions:
    """The writer's options from the ``audit_*`` settings."""
    return WriterOptions(
        batch_wait_seconds=settings.audit_batch_wait_ms / 1000,
        batch_max=settings.audit_batch_max,
        queue_max=settings.audit_queue_max,
        timeout_seconds=settings.audit_write_timeout_seconds,
        seal_every_events=settings.audit_seal_every_events,
        seal_every_seconds=settings.audit_seal_every_seconds,
    )


async def start_writer(settings: Settings, *, signing_key: Callable[[], SigningKeyFile]) -> AuditWriter | None:
    """This process's started audit writer, sealing with ``signing_key()`` (the key that signs tokens now);
    ``None`` when auditing is off."""
    if not settings.audit_enabled:
        return None
    writer = AuditWriter.for_database(settings.database_url, writer_options(settings), signing_key=signing_key)
    await writer.start()
    return writer
