"""Reading the axis: every catalogued database with its connection state, for the API, the CLI and the metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.base import Capability
from gateway.axis._states import STALE, STATES, UP_STATES, ConnectionState, overdue_since, stale_after
from gateway.axis.catalogue import Catalogue, CatalogueEntry
from gateway.axis.models import AxisCheck, AxisConnection, AxisEvidence, OpsStatus
from gateway.axis.routes import Route
from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.settings import HealthPolicy, Settings
from gateway.exchange.manage import exchange_backlog
from gateway.identity.models import ClientKey, SigningKey
from gateway.records.registry import ConnectorRegistry

AUDIT_CHAIN = "audit_chain"
NOT_CONFIGURED = "no connector configured"
#: The cause of a database down because its connector could not be loaded or built.
NOT_LOADED = "connector-not-loaded"
#: The cause of a database down because its connector serves records of a contract the catalogue does not list
#: for it (the connection is another database's).
CONTRACT_MISMATCH = "contract-mismatch"


class StaticState(NamedTuple):
    """A state that needs no health check, why (``error``), and its ``cause`` when it is ``down``."""

    state: ConnectionState
    error: str | None
    cause: str | None = None


class DatabaseConnection(BaseModel):
    """One catalogued database and its connection through the axis."""

    id: str
    name: str = Field(description="Vietnamese name.")
    name_en: str
    agency: str
    contracts: list[str]
    state: ConnectionState
    since: datetime | None = Field(description="When the connection entered its state.")
    last_check: datetime | None
    latency_ms: float | None = Field(description="Latency of the last health check.")
    error: str | None = Field(description="Why the connection is not connected (null when it is).")
    cause: str | None = Field(
        default=None,
        description="The evidence behind the state: circuit-open, contract-violation, slow, check-timeout...",
    )
    route: Route | None = Field(
        default=None,
        description=(
            "How the gateway reaches it: `direct`, or `axis` (through the national axis NDXP or the province's "
            "LGSP: its connector has an axis profile); null when no connector is configured."
        ),
    )
    platform: str | None = Field(default=None, description="The platform of an `axis` route (NDXP, an LGSP).")


#: Database id -> (route, platform), from :func:`gateway.axis.routes.connection_routes`.
Routes = Mapping[str, tuple[Route, str | None]]
#: Database id -> seconds without a recorded check after which its state is ``unknown`` (:func:`stale_bounds`).
StaleBounds = Mapping[str, float]


class _StaleBounds(dict[str, float]):
    """Database id -> :func:`stale_bound`; a database configured no more has the default policy's (its stored state
    is still read, by the command line, and a check of long ago is no evidence)."""

    def __init__(self, bounds: Mapping[str, float], default: float) -> None:
        super().__init__(bounds)
        self.default = default

    def __missing__(self, key: str) -> float:
        return self.default


def stale_bounds(settings: Settings) -> dict[str, float]:
    """Each configured database's :func:`stale_bound`, from its health policy; for any other, the default policy's
    (looked up by ``bounds[id]``)."""
    bounds = {db_id: stale_bound(settings, db_id) for db_id in settings.connectors}
    return _StaleBounds(bounds, stale_after(HealthPolicy(), settings.axis_lease_seconds))


def _bound(stale: StaleBounds | None, database_id: str) -> float | None:
    """The bound of ``database_id`` in ``stale`` (its default when it has one), ``None`` without."""
    if stale is None:
        return None
    try:
        return stale[database_id]
    except KeyError:
        return None


def stale_bound(settings: Settings, database_id: str) -> float:
    """:func:`~gateway.axis._states.stale_after` of ``database_id``: its health policy's, or the default policy's
    for a database configured no more (its last checks were made under a policy no longer known)."""
    instance = settings.connectors.get(database_id)
    return stale_after(instance.health if instance is not None else HealthPolicy(), settings.axis_lease_seconds)


class AxisOverview(BaseModel):
    """The integration axis: how many catalogued databases are connected, and each one's state."""

    total: int
    connected: int = Field(description="Databases connected through the axis (connected or degraded).")
    target: int = Field(description="How many the plan says must be connected.")
    by_state: dict[ConnectionState, int]
    databases: list[DatabaseConnection]


class CheckRecord(BaseModel):
    """One health check and the state it left the connection in."""

    checked_at: datetime
    ok: bool
    latency_ms: float | None
    state: ConnectionState
    error: str | None
    cause: str | None = None


class OperationCalls(BaseModel):
    """The real calls of one operation in the evidence window, all processes together."""

    operation: str = Field(description="`read` or `search`.")
    calls: int
    failed: int


class RecentCalls(BaseModel):
    """The real calls of clients through the gateway to a database in the evidence window (``health.window_seconds``)
    of every gateway process sharing it lately: evidence that its data is served, beyond the health checks."""

    calls: int = Field(description="Reads and searches sent to the sector system in the window.")
    answered: int = Field(description="Calls answered with records that keep the contract.")
    failed: int = Field(description="Calls that got no usable answer (timeout, refused, 5xx, unreadable).")
    violations: int = Field(description="Calls answered with records breaking the contract.")
    processes: int = Field(description="Gateway processes whose evidence is counted.")
    as_of: datetime = Field(description="When the freshest of those processes last wrote its evidence.")
    operations: list[OperationCalls] = Field(
        default_factory=list,
        description="The calls and failures of each operation: a search failing every time among many good reads.",
    )


class DatabaseDetail(DatabaseConnection):
    """A database's connection with its recent health checks, newest first."""

    last_success: datetime | None = Field(description="The last good health check (canary included).")
    last_answered: datetime | None = Field(
        default=None,
        description="The last real call through the gateway (any process) that the sector system answered well: "
        "not a failure, no record breaking the contract. With the checks good and this old while calls fail, the "
        "clients' calls have failed since then.",
    )
    maintenance: bool = Field(description="Put under maintenance by an operator.")
    recent_calls: RecentCalls | None = Field(
        default=None,
        description="The real calls of the evidence window, all processes together; null when no process has "
        "shared evidence lately. A connection can answer its checks while its clients' calls fail: this says.",
    )
    checks: list[CheckRecord]


def shared_operations(rows: Iterable[AxisEvidence], counts: dict[str, list[int]] | None = None) -> dict[str, list[int]]:
    """The calls and failures of each operation (``[calls, failures]``) of the processes' evidence ``rows``, added
    to ``counts``; an entry that is not two integers (written by another version) is left out."""
    totals = counts if counts is not None else {}
    for row in rows:
        for operation, shared in (row.operations or {}).items():
            if isinstance(shared, list) and len(shared) == 2 and all(type(n) is int for n in shared):
                total = totals.setdefault(operation, [0, 0])
                total[0], total[1] = total[0] + shared[0], total[1] + shared[1]
    return totals


async def recent_calls(session: AsyncSession, database_id: str, fresh_seconds: float | None) -> RecentCalls | None:
    """The calls of ``database_id`` in the windows of the processes that shared their evidence in the last
    ``fresh_seconds`` (every row stored when ``None``)."""
    query = select(AxisEvidence).where(col(AxisEvidence.database_id) == database_id)
    if fresh_seconds is not None:
        query = query.where(col(AxisEvidence.updated_at) >= utcnow() - timedelta(seconds=fresh_seconds))
    rows = (await session.exec(query)).all()
    if not rows:
        return None
    calls = sum(row.calls for row in rows)
    failed = sum(row.failures for row in rows)
    violations = sum(row.violations for row in rows)
    by_operation = shared_operations(rows)
    return RecentCalls(
        calls=calls,
        answered=max(0, calls - failed - violations),
        failed=failed,
        violations=violations,
        processes=len(rows),
        as_of=max(row.updated_at for row in rows),
        operations=[OperationCalls(operation=op, calls=n, failed=f) for op, (n, f) in sorted(by_operation.items())],
    )


def static_state(entry: CatalogueEntry, registry: ConnectorRegistry | None) -> StaticState | None:
    """The state an entry has whatever its health: maintenance, pending, or down because its connector failed or
    serves another database's records (a contract the entry does not list: configured under the wrong id, or a
    copy of another database's configuration).

    Without a registry (a command-line tool, which does not load connectors) only the catalogue is consulted.
    """
    if not entry.enabled:
        return StaticState(ConnectionState.MAINTENANCE, "disabled in the catalogue")
    if registry is None:
        return None
    if entry.id in registry.failures:
        return StaticState(ConnectionState.DOWN, f"connector not loaded: {registry.failures[entry.id]}", NOT_LOADED)
    database = registry.databases.get(entry.id)
    if database is None:
        return StaticState(ConnectionState.PENDING, NOT_CONFIGURED)
    served = getattr(database.connector.contract, "contract_name", None)
    if entry.contracts and served not in entry.contracts:
        error = (
            f"the connector serves {served} records, not those of this database ({', '.join(entry.contracts)}): its "
            "connector is another database's"
        )
        return StaticState(ConnectionState.DOWN, error, CONTRACT_MISMATCH)
    return None


def _connection(
    entry: CatalogueEntry,
    registry: ConnectorRegistry | None,
    row: AxisConnection | None,
    routes: Routes | None = None,
    stale: StaleBounds | None = None,
) -> DatabaseConnection:
    fixed = static_state(entry, registry)
    since = row.since if row is not None else None
    last_check = row.last_check if row is not None else None
    latency = None
    cause: str | None = None
    error: str | None
    if row is not None and row.maintenance:
        # The operator's word first, in every view: a connector that failed to load, or none configured, is
        # maintenance too while the operator says so (the CLI, which loads no connector, shows the same).
        state, error = ConnectionState.MAINTENANCE, "under maintenance"
    elif fixed is not None:
        state, error, cause = fixed
        if row is None or row.state != state.value:
            since = last_check = None
    elif row is None:
        state = ConnectionState.PENDING
        error = "awaiting the first health check" if registry is not None else NOT_CONFIGURED
    else:
        state, error, latency, cause = ConnectionState(row.state), row.error, row.latency_ms, row.cause
        bound = _bound(stale, entry.id)
        now = utcnow()
        overdue = overdue_since(row.last_check, bound, now) if bound is not None else None
        if overdue is not None and row.last_check is not None:
            # The last check's word is no longer evidence: no process has recorded one since.
            state, cause, since = ConnectionState.UNKNOWN, STALE, overdue
            error = (
                f"no health check recorded for {(now - row.last_check).total_seconds():.0f} s (at most "
                f"{bound:.0f} s expected): no gateway process is checking it, or the results cannot be written"
            )
        elif bound is not None and row.last_check is not None and row.last_check > now + timedelta(seconds=bound):
            # Stamped by a clock that was ahead: no proof that checks go on (it would be, until that moment came).
            state, cause, since = ConnectionState.UNKNOWN, STALE, None
            error = (
                f"the last health check is recorded {(row.last_check - now).total_seconds():.0f} s ahead of this "
                "clock (the clock of the process that recorded it was ahead): whether checks go on is not known"
            )
    route, platform = (routes or {}).get(entry.id, (None, None))
    return DatabaseConnection(
        id=entry.id,
        name=entry.name_vi,
        name_en=entry.name_en,
        agency=entry.agency,
        contracts=list(entry.contracts),
        state=state,
        since=since,
        last_check=last_check,
        latency_ms=latency,
        error=error,
        cause=cause,
        route=route,
        platform=platform,
    )


async def _rows(session: AsyncSession) -> dict[str, AxisConnection]:
    rows = (await session.exec(select(AxisConnection))).all()
    return {row.database_id: row for row in rows}


def summarise(connections: Sequence[DatabaseConnection], target: int) -> AxisOverview:
    """The totals of ``connections``."""
    by_state = dict.fromkeys(STATES, 0)
    for connection in connections:
        by_state[connection.state] += 1
    return AxisOverview(
        total=len(connections),
        connected=sum(count for state, count in by_state.items() if state in UP_STATES),
        target=target,
        by_state=by_state,
        databases=list(connections),
    )


def connected_target(catalogue: Catalogue, configured: int | None) -> int:
    """The plan's target: the configured one, else every catalogued database."""
    return len(catalogue.databases) if configured is None else configured


async def axis_overview(
    session: AsyncSession,
    catalogue: Catalogue,
    registry: ConnectorRegistry | None,
    target: int,
    *,
    routes: Routes | None = None,
    stale: StaleBounds | None = None,
) -> AxisOverview:
    """Every catalogued database's connection, in catalogue order, and the totals. ``registry`` is the process's
    own view of which connectors are configured; without it the states are those the health-check runner wrote.
    ``routes`` says how each configured connection goes (direct, or through the axis); ``stale`` when a state the
    runner wrote is too old to tell (:func:`stale_bounds`)."""
    rows = await _rows(session)
    return summarise(
        [_connection(entry, registry, rows.get(entry.id), routes, stale) for entry in catalogue.databases], target
    )


async def database_detail(
    session: AsyncSession,
    entry: CatalogueEntry,
    registry: ConnectorRegistry | None,
    *,
    history: int = 50,
    routes: Routes | None = None,
    stale: StaleBounds | None = None,
) -> DatabaseDetail:
    """One database's connection and its last ``history`` health checks."""
    row = await session.get(AxisConnection, entry.id)
    checks = (
        await session.exec(
            select(AxisCheck)
            .where(col(AxisCheck.database_id) == entry.id)
            .order_by(col(AxisCheck.id).desc())
            .limit(history)
        )
    ).all()
    base = _connection(entry, registry, row, routes, stale)
    return DatabaseDetail(
        **base.model_dump(),
        last_success=row.last_success if row is not None else None,
        last_answered=row.last_answered_at if row is not None else None,
        maintenance=bool(row is not None and row.maintenance),
        recent_calls=await recent_calls(session, entry.id, _bound(stale, entry.id)),
        checks=[
            CheckRecord(
                checked_at=check.checked_at,
                ok=check.ok,
                latency_ms=check.latency_ms,
                state=ConnectionState(check.state),
                error=check.error,
                cause=check.cause,
            )
            for check in checks
        ],
    )


async def ops_snapshot(
    session: AsyncSession,
    catalogue: Catalogue,
    registry: ConnectorRegistry,
    *,
    target: int,
    signing_key_max_age: timedelta,
    stale: StaleBounds | None = None,
) -> metrics.OpsSnapshot:
    """What the metrics export from the shared database: axis states, audit verification, key expiry."""
    overview = await axis_overview(session, catalogue, registry, target, stale=stale)
    rows = await _rows(session)
    audit = await session.get(OpsStatus, AUDIT_CHAIN)
    keys = (await session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None)))).all()
    certificates = (
        await session.exec(
            select(ClientKey).where(col(ClientKey.revoked_at).is_(None), col(ClientKey.not_after).is_not(None))
        )
    ).all()
    exchange_databases = tuple(
        sorted(db_id for db_id, db in registry.databases.items() if db.connector.offers(Capability.SUBMIT))
    )
    depth, oldest = await exchange_backlog(session) if exchange_databases else ({}, {})
    return metrics.OpsSnapshot(
        exchange_databases=exchange_databases,
        exchange_depth=depth,
        exchange_oldest_pending=oldest,
        states={connection.id: connection.state.value for connection in overview.databases},
        states_all=tuple(state.value for state in STATES),
        up_states=frozenset(state.value for state in UP_STATES),
        connected_target=target,
        last_success={
            db_id: row.last_success.timestamp()
            for db_id, row in rows.items()
            if row.last_success is not None and catalogue.get(db_id) is not None
        },
        last_answered={
            db_id: row.last_answered_at.timestamp()
            for db_id, row in rows.items()
            if row.last_answered_at is not None and catalogue.get(db_id) is not None
        },
        audit_verified=None if audit is None else audit.ok,
        audit_good_at=None if audit is None or audit.good_at is None else audit.good_at.timestamp(),
        signing_key_expiry={key.kid: (key.created_at + signing_key_max_age).timestamp() for key in keys},
        certificate_expiry={
            (key.client_id, key.kid): key.not_after.timestamp() for key in certificates if key.not_after is not None
        },
    )
