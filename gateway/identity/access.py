"""Access control: each client's live status and grants, cached with invalidation, and the decision for one
data request (database, operation, purpose, actor -> the fields it may see).

The cache keeps a client's grants for ``ttl`` seconds. Changes made through the admin API or the CLI invalidate
it at once: in the process that made them, and, on PostgreSQL, in every other gateway process through a
``NOTIFY`` on the channel ``gateway_access``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.db import utcnow
from gateway.core.listeners import listen
from gateway.core.logs import get_logger
from gateway.core.problems import AccessDenied, BadHeader
from gateway.identity.models import Client, ClientKey, ClientSecret, ClientStatus, Grant

NOTIFY_CHANNEL = "gateway_access"
CLIENTS = SQLModel.metadata.tables["clients"]
#: An entry unchanged at its checks is read whole again after this many times the cache's time-to-live.
FULL_READ_TTLS = 10
#: How far below the newest change seen a sweep looks: another process's clock may be this much behind.
SWEEP_OVERLAP = timedelta(minutes=5)
#: How often a process on SQLite reads the clients changed lately (:meth:`AccessControl.start`).
POLL_SECONDS = 1.0
#: How long closing waits for the SQLite poll's read under way.
CLOSE_POLL_SECONDS = 5.0
PURPOSE_HEADER = "X-Purpose"
ACTOR_HEADER = "X-Actor-Id"
# Procedure codes (1.001234.000.00.00.H41), staff codes, personal ids: printable, no spaces, bounded.
HEADER_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,63}$")
NON_DATA_SCOPES = frozenset({"admin", "audit", "axis"})
OPERATIONS = ("read", "search", "submit", "delete")

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class GrantRule:
    """A grant as the access decision sees it."""

    id: int
    database: str
    operations: frozenset[str]
    fields: frozenset[str] | None
    purposes: frozenset[str] | None
    require_purpose: bool
    require_actor: bool
    valid_from: datetime | None
    valid_until: datetime | None

    def in_force(self, now: datetime) -> bool:
        """Whether ``now`` lies within the grant's validity."""
        return (self.valid_from is None or self.valid_from <= now) and (
            self.valid_until is None or now < self.valid_until
        )

    @classmethod
    def of(cls, grant: Grant) -> GrantRule:
        """The rule of a stored grant."""
        assert grant.id is not None
        return cls(
            id=grant.id,
            database=grant.database,
            operations=frozenset(grant.operations),
            fields=None if grant.fields is None else frozenset(grant.fields),
            purposes=None if grant.purposes is None else frozenset(grant.purposes),
            require_purpose=grant.require_purpose,
            require_actor=grant.require_actor,
            valid_from=grant.valid_from,
            valid_until=grant.valid_until,
        )


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """One of a client's secrets as stored (its hash, never the secret), and until when it works."""

    id: int
    secret_hash: str = field(repr=False)
    expires_at: datetime | None

    def in_force(self, now: datetime) -> bool:
        """Whether the secret still works at ``now``."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One of a client's registered public keys as its tokens see it: until when it may sign an assertion."""

    kid: str
    not_after: datetime | None
    revoked_at: datetime | None

    def in_force(self, now: datetime) -> bool:
        """Whether the key is usable at ``now``: not revoked, its certificate (if any) not expired."""
        return self.revoked_at is None and (self.not_after is None or now < self.not_after)


@dataclass(frozen=True, slots=True)
class ClientAccess:
    """A client's status, non-data scopes, rate limits, grants, secrets' hashes and electronic agency code, as
    loaded at one moment."""

    client_id: str
    active: bool
    scopes: frozenset[str]
    grants: tuple[GrantRule, ...]
    rate_limit_per_second: int | None = None
    rate_limit_per_day: int | None = None
    secrets: tuple[StoredSecret, ...] = field(default=(), repr=False)
    agency_code: str | None = None
    keys: tuple[StoredKey, ...] = ()

    def knows_credential(self, credential: str) -> bool:
        """Whether the credential a token names is among the client's secrets and keys as loaded (a token
        obtained with one added since is checked against the client's access read again)."""
        kind, _, name = credential.partition(":")
        if kind == "secret":
            return any(str(s.id) == name for s in self.secrets)
        if kind == "key":
            return any(k.kid == name for k in self.keys)
        return True

    def credential_in_force(self, credential: str, now: datetime) -> bool:
        """Whether the credential a token of the gateway names (``secret:<id>``, ``key:<kid>``) still works at
        ``now``: a token lasts no longer than the secret or key it was obtained with (a rotation's overlap, a
        revocation and a certificate's expiry end its tokens too)."""
        kind, _, name = credential.partition(":")
        if kind == "secret":
            return any(str(s.id) == name and s.in_force(now) for s in self.secrets)
        if kind == "key":
            return any(k.kid == name and k.in_force(now) for k in self.keys)
        return False

    def secrets_in_force(self, now: datetime) -> list[StoredSecret]:
        """The secrets that work at ``now`` (one, or two during a rotation's overlap)."""
        return [s for s in self.secrets if s.in_force(now)]

    def grants_for(self, database: str, operation: str, now: datetime) -> list[GrantRule]:
        """The grants in force that allow ``operation`` on ``database``."""
        return [g for g in self.grants if g.database == database and operation in g.operations and g.in_force(now)]

    def token_scopes(self, now: datetime) -> list[str]:
        """The scopes a token issued now carries: non-data scopes, and ``database:operation`` per grant."""
        data = {f"{g.database}:{op}" for g in self.grants if g.in_force(now) for op in g.operations}
        return sorted(self.scopes) + sorted(data)


@dataclass(frozen=True, slots=True)
class Decision:
    """An allowed data request: who, on what, why, and which fields the answer may carry."""

    client_id: str
    database: str
    operation: str
    purpose: str | None
    actor: str | None
    fields: frozenset[str] | None
    grant_ids: tuple[int, ...]
    may_delete: bool = False
    """(``submit``) Whether a grant used allows deleting whole records: one on every field, or with ``delete``."""

    def covers(self, path: str) -> bool:
        """Whether a granted path is ``path`` or an object that holds it (``a`` covers ``a.b``)."""
        if self.fields is None:
            return True
        parts = path.split(".")
        return any(".".join(parts[:n]) in self.fields for n in range(1, len(parts) + 1))

    def visible_paths(self, paths: Iterable[str]) -> list[str]:
        """What a reader may learn of ``paths`` (fields written by a change): each path its grant covers, and,
        of a path naming an object it is granted only part of, the granted paths inside that object."""
        if self.fields is None:
            return sorted(set(paths))
        seen: set[str] = set()
        for path in paths:
            if self.covers(path):
                seen.add(path)
            else:
                seen.update(f for f in self.fields if f.startswith(path + "."))
        return sorted(seen)

    def allows_fields(self, names: Iterable[str]) -> list[str]:
        """The names among ``names`` (top-level fields) that the grants do not cover."""
        if self.fields is None:
            return []
        granted = {f.split(".", 1)[0] for f in self.fields}
        return sorted(n for n in names if n not in granted)

    def projection(self, record_key: str) -> dict[str, Any] | None:
        """The pydantic ``include`` that keeps only granted fields (and always the record key)."""
        return None if self.fields is None else _include(self.fields | {record_key})


@lru_cache(maxsize=1024)
def _include(fields: frozenset[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(fields, key=lambda p: p.count(".")):
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.get(part)
            if child is True:  # the whole parent is already granted
                break
            node = node.setdefault(part, {})
        else:
            node[leaf] = True
    return tree


def header_value(value: str | None, header: str) -> str | None:
    """A purpose or actor header's value, or ``None`` when absent; 400 naming the header when malformed."""
    if value is None or value == "":
        return None
    if not HEADER_VALUE.fullmatch(value):
        raise BadHeader(
            f"The {header} header is malformed: 1-64 letters, digits and . _ : @ / -, starting with a letter or digit.",
            header=header,
        )
    return value


def decide(
    access: ClientAccess,
    *,
    database: str,
    operation: str,
    purpose: str | None,
    actor: str | None,
    now: datetime,
) -> Decision:
    """Allow the request under the client's grants, or raise: 400 naming a missing header a grant requires,
    403 when no grant in force allows this operation for this purpose."""
    candidates = access.grants_for(database, operation, now)
    if not candidates:
        raise AccessDenied(f"No grant allows {operation!r} on {database!r}.")
    for_purpose = [g for g in candidates if g.purposes is None or (purpose is not None and purpose in g.purposes)]
    if not for_purpose:
        if purpose is None:
            raise BadHeader(f"The {PURPOSE_HEADER} header is required.", header=PURPOSE_HEADER)
        raise AccessDenied(f"No grant allows {operation!r} on {database!r} for this purpose.")
    usable = [
        g
        for g in for_purpose
        if (purpose is not None or not g.require_purpose) and (actor is not None or not g.require_actor)
    ]
    if not usable:
        missing = PURPOSE_HEADER if purpose is None and all(g.require_purpose for g in for_purpose) else ACTOR_HEADER
        raise BadHeader(f"The {missing} header is required.", header=missing)
    may_delete = operation == "submit" and any(g.fields is None or "delete" in g.operations for g in usable)
    fields: frozenset[str] | None = frozenset()
    for grant in usable:
        if grant.fields is None:
            fields = None
            break
        assert fields is not None
        fields = fields | grant.fields
    return Decision(
        client_id=access.client_id,
        database=database,
        operation=operation,
        purpose=purpose,
        actor=actor,
        fields=fields,
        grant_ids=tuple(g.id for g in usable),
        may_delete=may_delete,
    )


async def load_access(session: AsyncSession, client_id: str) -> ClientAccess | None:
    """A client's access as stored now (revoked grants left out), or ``None`` for an unknown client."""
    access, _version = await _load_access(session, client_id)
    return access


async def _load_access(session: AsyncSession, client_id: str) -> tuple[ClientAccess | None, datetime | None]:
    """:func:`load_access`, and the client row's ``updated_at`` it was loaded at (its version)."""
    client = await session.get(Client, client_id)
    if client is None:
        return None, None
    grants = await session.exec(
        select(Grant).where(Grant.client_id == client_id, col(Grant.revoked_at).is_(None)).order_by(col(Grant.id))
    )
    secrets = await session.exec(
        select(ClientSecret).where(ClientSecret.client_id == client_id).order_by(col(ClientSecret.id))
    )
    keys = await session.exec(
        select(ClientKey.kid, ClientKey.not_after, ClientKey.revoked_at).where(ClientKey.client_id == client_id)
    )
    access = ClientAccess(
        client_id=client.client_id,
        active=client.status == ClientStatus.ACTIVE,
        scopes=frozenset(client.scopes) & NON_DATA_SCOPES,
        grants=tuple(GrantRule.of(g) for g in grants),
        rate_limit_per_second=client.rate_limit_per_second,
        rate_limit_per_day=client.rate_limit_per_day,
        secrets=tuple(StoredSecret(s.id or 0, s.secret_hash, s.expires_at) for s in secrets),
        agency_code=client.agency_code,
        keys=tuple(StoredKey(kid, not_after, revoked_at) for kid, not_after, revoked_at in keys),
    )
    return access, client.updated_at


async def announce_change(session: AsyncSession, client_id: str) -> None:
    """Tell every gateway process that ``client_id``'s access changed (delivered when the session commits).

    The client row's ``updated_at`` moves, in every database: once a process's cached entries have outlived the
    cache's time-to-live, one read of the clients changed lately tells it which to load again. On PostgreSQL a
    ``NOTIFY`` besides tells every process at once; on SQLite, which has no such channel, every process reads the
    clients changed lately each second (:meth:`AccessControl.start`).
    """
    client = await session.get(Client, client_id)
    if client is not None:  # None: created in this session (nothing cached it), or gone
        client.updated_at = utcnow()
        session.add(client)
    connection = await session.connection()
    if session.get_bind().dialect.name == "postgresql":
        statement = text("SELECT pg_notify(:channel, :client)").bindparams(channel=NOTIFY_CHANNEL, client=client_id)
        # On the session's connection, in its transaction (``session.execute`` is deprecated by SQLModel).
        await connection.execute(statement)


@dataclass
class _Entry:
    access: ClientAccess | None
    loaded: float
    #: The client row's ``updated_at`` when loaded (``None`` for an unknown client: loaded again on expiry).
    version: datetime | None = None
    #: When it was last read whole (``loaded`` moves on at each unchanged check).
    read: float = 0.0


@dataclass
class AccessControl:
    """The per-process cache of client access, with a time-to-live and explicit invalidation."""

    sessionmaker: async_sessionmaker[AsyncSession]
    ttl_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _loading: dict[str, asyncio.Task[ClientAccess | None]] = field(default_factory=dict)
    # Bumped by every invalidation (per client, and for everyone): a load that started before an invalidation
    # may have read the old rows, so its result is not cached.
    _versions: dict[str, int] = field(default_factory=dict)
    _epoch: int = 0
    _listener: asyncio.Task[None] | None = None
    # Set by close(): the poll on SQLite ends between two reads (cancelled in a read, its connection's rollback
    # would be cancelled too, and the pool would log it).
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    # The last sweep (one read of the clients changed lately, for every entry past its time): when it started, the
    # newest ``updated_at`` it saw, and the sweep running now.
    _swept: float = -math.inf
    _high_water: datetime | None = None
    _sweeping: asyncio.Task[None] | None = None
    #: Set while this cache hears the changes other processes announce (PostgreSQL's ``NOTIFY``), from the moment
    #: it listens (after forgetting what it held: anything may have changed before) until the connection is lost.
    listening: asyncio.Event = field(default_factory=asyncio.Event)

    async def get(self, client_id: str, *, cache_unknown: bool = True) -> ClientAccess | None:
        """The client's access (``None`` if unknown), from the cache when fresh. Concurrent misses for one
        client share a single database read, which runs in its own task: a caller that is cancelled does not
        cancel it for the others. With ``cache_unknown=False`` an unknown client is not remembered (the token
        endpoint, where anyone can make up client ids, must not fill the cache)."""
        entry = self._entries.get(client_id)
        if entry is not None:
            now = self.clock()
            if now - max(entry.loaded, self._swept) < self.ttl_seconds:
                return entry.access
            if entry.version is not None and now - entry.read < FULL_READ_TTLS * self.ttl_seconds:
                # Past its time: one sweep for every such entry, which forgets those whose client changed.
                await self._sweep()
                entry = self._entries.get(client_id)
                if entry is not None and self.clock() - max(entry.loaded, self._swept) < self.ttl_seconds:
                    return entry.access
        task = self._loading.get(client_id)
        if task is None:
            load = self._load(client_id, cache_unknown=cache_unknown)
            task = asyncio.get_running_loop().create_task(load, name="access-load")
            self._loading[client_id] = task
            task.add_done_callback(partial(self._loaded, client_id))
        return await asyncio.shield(task)

    def _version(self, client_id: str) -> tuple[int, int]:
        return self._epoch, self._versions.get(client_id, 0)

    async def _load(self, client_id: str, *, cache_unknown: bool) -> ClientAccess | None:
        version = self._version(client_id)
        started = self.clock()
        async with self.sessionmaker() as session:
            access, stored = await _load_access(session, client_id)
        if self._version(client_id) == version and (access is not None or cache_unknown):
            self._entries[client_id] = _Entry(access, started, stored, started)
        return access

    async def _sweep(self) -> None:
        """Run (or join) the sweep: concurrent callers share one read, and a cancelled caller does not cancel it."""
        if self._sweeping is None or self._sweeping.done():
            self._sweeping = asyncio.get_running_loop().create_task(self._run_sweep(), name="access-sweep")
        await asyncio.shield(self._sweeping)

    async def _run_sweep(self, *, refresh: bool = True) -> None:
        """One read of the clients whose row changed since the newest change seen (less :data:`SWEEP_OVERLAP`, for
        the clocks of other processes): those whose cached version differs are forgotten, the others stay fresh for
        another time-to-live (unless not ``refresh``: the poll on SQLite only forgets). Ten thousand cached clients
        cost this one read per period, not one each."""
        started, epoch = self.clock(), self._epoch
        statement = sa.select(CLIENTS.c.client_id, CLIENTS.c.updated_at)
        if self._high_water is not None:
            statement = statement.where(CLIENTS.c.updated_at > self._high_water - SWEEP_OVERLAP)
        async with self.sessionmaker() as session:
            connection = await session.connection()
            rows = (await connection.execute(statement)).all()
        for client_id, updated in rows:
            if self._high_water is None or updated > self._high_water:
                self._high_water = updated
            entry = self._entries.get(client_id)
            if entry is not None and entry.version != updated:
                self.invalidate(client_id)
        if refresh and self._epoch == epoch:
            self._swept = started

    def _loaded(self, client_id: str, task: asyncio.Task[ClientAccess | None]) -> None:
        if self._loading.get(client_id) is task:
            del self._loading[client_id]
        if not task.cancelled():
            task.exception()  # retrieved: the callers re-raise it, nobody else needs to

    def invalidate(self, client_id: str | None = None) -> None:
        """Forget one client's cached access, or everyone's; loads already running are not cached, and later
        callers do not wait for them."""
        if client_id is None:
            self._epoch += 1
            self._entries.clear()
            self._loading.clear()
        else:
            self._versions[client_id] = self._versions.get(client_id, 0) + 1
            self._entries.pop(client_id, None)
            self._loading.pop(client_id, None)

    async def start(self, engine: AsyncEngine) -> None:
        """Hear of the changes other processes make (the command line's, other workers'): on PostgreSQL they are
        announced (``NOTIFY``); on SQLite, which has no such channel, the clients changed lately are read every
        :data:`POLL_SECONDS`, so that a change takes effect within about a second there too."""
        if self._listener is not None:
            return
        if engine.dialect.name == "postgresql":
            self._listener = asyncio.create_task(self._listen(engine), name="access-listener")
        else:
            self._listener = asyncio.create_task(self._poll(), name="access-poller")

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._closing.wait()
                    return
            try:
                await self._run_sweep(refresh=False)
            except Exception:  # the database may be away for a while: the next round tries again
                log.warning("could not read the clients changed lately", exc_info=True)

    async def close(self) -> None:
        """Stop listening and abandon the loads (and the sweep) still running."""
        for task in list(self._loading.values()):
            task.cancel()
        self._loading.clear()
        if self._sweeping is not None:
            self._sweeping.cancel()
        if self._listener is not None:
            self._closing.set()
            if self._listener.get_name() == "access-poller":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._listener), CLOSE_POLL_SECONDS)
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
            self.listening.clear()

    async def _listen(self, engine: AsyncEngine) -> None:
        await listen(
            engine,
            NOTIFY_CHANNEL,
            self.invalidate,
            name="access listener",
            on_listening=self._heard,
            on_lost=self._deaf,
            logger=log,
        )

    def _heard(self) -> None:
        # Anything may have changed while no one was listening.
        self.invalidate()
        self.listening.set()

    def _deaf(self) -> None:
        self.listening.clear()
        self.invalidate()
