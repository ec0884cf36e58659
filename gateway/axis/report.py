"""The monthly connection report of the integration axis: for each catalogued database, the share of the month in
each state, its incidents, the health checks made and the requests served, and "n of 16 connected at month end".

The month runs from midnight on its first day to midnight on the first of the next, in the province's time zone
(``axis_report_timezone``). The states come from ``axis_transitions`` (the state at the month's start is the one
entered last before it), the checks from the hourly ``axis_check_counts``, the requests from the audit trail,
counted per database and outcome in one grouped query. A month still under way is reported up to now; time before
the retained history (``axis_history_retention_days``) or before a database's first recorded state is ``unknown``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.audit.events import OUTCOMES
from gateway.audit.models import AuditEvent
from gateway.axis._states import STALE, UP_STATES, ConnectionState, overdue_since
from gateway.axis.catalogue import Catalogue
from gateway.axis.models import AxisCheckCount, AxisConnection, AxisTransition
from gateway.core.db import in_utc
from gateway.quality.monthly import MonthQuality, build_month_quality

__all__ = [
    "MONTH_PATTERN",
    "UNKNOWN",
    "AxisMonthReport",
    "DatabaseMonth",
    "Incident",
    "InvalidMonth",
    "build_month_report",
    "month_bounds",
    "parse_month",
]

#: Time with no known state: before the history, before a database's first state, or while no check was recorded
#: (the state ``unknown``: the checks stopped).
UNKNOWN = ConnectionState.UNKNOWN.value
#: States that are no incident: answering, planned, or not set up yet. Any other state (down, recovering, ...) is.
NOT_INCIDENTS = frozenset(
    {ConnectionState.CONNECTED, ConnectionState.DEGRADED, ConnectionState.MAINTENANCE, ConnectionState.PENDING}
)
#: The order of the states in the report; states not listed here follow, alphabetically.
STATE_ORDER = ("connected", "degraded", "down", "maintenance", "pending")
#: A month as the API takes it: YYYY-MM from 1970 on (the report's query parameter states it).
MONTH_PATTERN = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$"
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits: \d also takes "٢٠٢٦"


class InvalidMonth(ValueError):
    """The month asked for is malformed or has not begun (``kind`` says which, as the problem's error type)."""

    def __init__(self, message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.kind = kind


class Incident(BaseModel):
    """A time the connection spent out of service (down, or any state other than connected, degraded,
    maintenance and pending), clipped to the month."""

    state: str = Field(description="The state the incident began with (down, recovering, ...).")
    start: datetime = Field(description="When it began, or the month's start if it began before.")
    end: datetime = Field(description="When it ended, or the month's end (or now) if it had not.")
    duration_seconds: float
    began_before: bool = Field(description="It began before the month.")
    ongoing: bool = Field(description="It had not ended at the month's end (or now).")
    cause: str | None = Field(description="The error the connection entered the state with.")


class DatabaseMonth(BaseModel):
    """One catalogued database's month."""

    id: str
    name: str = Field(description="Vietnamese name.")
    name_en: str
    agency: str
    state_at_end: str = Field(description="The state at the month's end (or now), ``unknown`` without history.")
    seconds: dict[str, float] = Field(description="Seconds of the month spent in each state (``unknown`` included).")
    shares: dict[str, float] = Field(description="Share of the month spent in each state (0 to 1).")
    connected_share: float = Field(description="Share of the month connected through the axis (connected or degraded).")
    incidents: list[Incident]
    downtime_seconds: float = Field(description="Seconds of the month in incidents.")
    checks: int = Field(description="Health checks made in the month.")
    checks_failed: int
    requests: int = Field(description="Requests for the database in the audit trail (allowed, refused, failed).")
    requests_by_outcome: dict[str, int]
    error_ratio: float | None = Field(description="Share of the requests that failed (null without requests).")
    route: str | None = Field(
        default=None,
        description="The route configured when the report was made: `direct`, `axis` (through NDXP or the LGSP), "
        "or null without a connector.",
    )
    platform: str | None = Field(default=None, description="The platform of an `axis` route.")


class AxisMonthReport(BaseModel):
    """The integration axis over one month."""

    month: str = Field(description="YYYY-MM.")
    timezone: str
    start: datetime = Field(description="The month's first instant.")
    end: datetime = Field(description="The first instant after the month.")
    reported_until: datetime = Field(description="The month's end, or now for a month under way.")
    complete: bool = Field(description="The month is over.")
    history_from: datetime = Field(description="The oldest moment the retained history vouches for.")
    generated_at: datetime
    total: int
    connected_at_end: int = Field(description="Databases connected (or degraded) at the month's end.")
    target: int
    states: list[str] = Field(description="The states that occur in the report, in report order.")
    seconds: dict[str, float] = Field(description="All databases' seconds in each state.")
    shares: dict[str, float] = Field(description="The share of database-time in each state.")
    incidents: int
    checks: int
    checks_failed: int
    requests: int
    requests_failed: int
    error_ratio: float | None
    databases: list[DatabaseMonth]
    quality: MonthQuality | None = Field(
        default=None,
        description="The month's data quality: each scanned database's scores at the month's end (its last scan), "
        "the change from the month before, and the trend of the last twelve months.",
    )

    def report_zone(self) -> ZoneInfo:
        """The time zone the month is reckoned in."""
        return ZoneInfo(self.timezone)


def parse_month(text: str) -> tuple[int, int]:
    """``(year, month)`` of ``YYYY-MM``; :class:`InvalidMonth` if malformed."""
    match = _MONTH.fullmatch(text.strip())
    if match is None:
        raise InvalidMonth(f"month {text!r} is not of the form YYYY-MM")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or year < 1970:
        raise InvalidMonth(f"month {text!r} does not exist")
    return year, month


def month_bounds(year: int, month: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next, in UTC, midnight to midnight in ``zone``;
    :class:`InvalidMonth` (``month_not_begun``) for a month whose end lies beyond the year 9999."""
    start = datetime(year, month, 1, tzinfo=zone)
    days = calendar.monthrange(year, month)[1]
    try:
        end = (start.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone)
        return in_utc(start), in_utc(end)
    except (OverflowError, ValueError):
        raise InvalidMonth(f"month {year:04d}-{month:02d} has not begun", "month_not_begun") from None


def state_order(states: Sequence[str]) -> list[str]:
    """``states`` in report order: the usual ones first, others alphabetically, ``unknown`` last."""
    known = [state for state in STATE_ORDER if state in states]
    others = sorted(state for state in states if state not in STATE_ORDER and state != UNKNOWN)
    return known + others + ([UNKNOWN] if UNKNOWN in states else [])


def is_up(state: str) -> bool:
    """Whether ``state`` counts as connected through the axis."""
    return state in {s.value for s in UP_STATES}


def is_incident(state: str) -> bool:
    """Whether time in ``state`` is an incident (any state not known to be harmless, ``recovering`` included)."""
    return state != UNKNOWN and state not in {s.value for s in NOT_INCIDENTS}


@dataclass(frozen=True, slots=True)
class _Change:
    at: datetime
    state: str
    cause: str | None


async def _changes(session: AsyncSession, start: datetime, until: datetime) -> dict[str, list[_Change]]:
    """Per database: the last transition at or before ``start`` (if any), then those up to ``until``."""
    db_id, at = col(AxisTransition.database_id), col(AxisTransition.at)
    last = select(db_id, sa.func.max(at).label("at")).where(at <= start).group_by(db_id).subquery()
    columns = (db_id, at, col(AxisTransition.state), col(AxisTransition.cause))
    carried = select(*columns).join(last, sa.and_(last.c.database_id == db_id, last.c.at == at))
    within = select(*columns).where(at > start, at < until)
    rows = [*(await session.exec(carried)).all(), *(await session.exec(within)).all()]
    changes: dict[str, list[_Change]] = {}
    for database_id, moment, state, cause in sorted(rows, key=lambda row: (row[0], row[1])):
        changes.setdefault(database_id, []).append(_Change(moment, state, cause))
    return changes


async def _checks(session: AsyncSession, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    hour = col(AxisCheckCount.hour)
    query = (
        select(
            col(AxisCheckCount.database_id),
            sa.func.sum(col(AxisCheckCount.checks)),
            sa.func.sum(col(AxisCheckCount.failed)),
        )
        .where(hour >= start, hour < end)
        .group_by(col(AxisCheckCount.database_id))
    )
    return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in (await session.exec(query)).all()}


async def _requests(session: AsyncSession, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    database, outcome, occurred = col(AuditEvent.database), col(AuditEvent.outcome), col(AuditEvent.occurred_at)
    query = (
        select(database, outcome, sa.func.count())
        .where(occurred >= start, occurred < end, database.is_not(None))
        .group_by(database, outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for name, result, count in (await session.exec(query)).all():
        if name is not None:
            counts.setdefault(name, dict.fromkeys(OUTCOMES, 0))[result] = int(count)
    return counts


#: The states a health check derives; once its checks are overdue, such a state is no longer known.
_CHECKED = frozenset(
    state.value
    for state in (
        ConnectionState.CONNECTED,
        ConnectionState.DEGRADED,
        ConnectionState.RECOVERING,
        ConnectionState.DOWN,
    )
)


async def _last_checks(session: AsyncSession) -> dict[str, datetime]:
    """Per database not under maintenance: when its last check was recorded."""
    query = select(col(AxisConnection.database_id), col(AxisConnection.last_check)).where(
        col(AxisConnection.maintenance).is_(False), col(AxisConnection.last_check).is_not(None)
    )
    return {db_id: in_utc(checked) for db_id, checked in (await session.exec(query)).all() if checked is not None}


def _with_overdue_checks(
    changes: Sequence[_Change], last_check: datetime | None, bound: float, until: datetime
) -> list[_Change]:
    """``changes``, and ``unknown`` from the moment the checks were overdue (``bound`` seconds after the last one)
    when that is before ``until`` and the state then was a checked one: no process is checking (the gateway is
    stopped, or cannot write), and the health monitor records that gap only when checks resume, if ever."""
    overdue = overdue_since(last_check, bound, until)
    if overdue is None:
        return list(changes)
    before = [change for change in changes if change.at <= overdue]
    if not before or before[-1].state not in _CHECKED:
        return list(changes)
    return sorted([*changes, _Change(overdue, UNKNOWN, STALE)], key=lambda change: change.at)


def _timeline(
    changes: Sequence[_Change], start: datetime, until: datetime, known_from: datetime
) -> list[tuple[datetime, datetime, str, _Change | None]]:
    """The month cut into ``(from, to, state, transition)`` pieces; time with no state is ``unknown``."""
    pieces: list[tuple[datetime, datetime, str, _Change | None]] = []
    cursor, current = start, None
    for change in [*changes, None]:
        upto = until if change is None else min(max(change.at, start), until)
        if upto > cursor:
            state = UNKNOWN if current is None else current.state
            if current is not None and cursor < known_from:
                middle = min(known_from, upto)
                pieces.append((cursor, middle, UNKNOWN, None))
                cursor = middle
            if upto > cursor:
                pieces.append((cursor, upto, state, current))
            cursor = upto
        current = change
    return pieces


def _incidents(
    pieces: Sequence[tuple[datetime, datetime, str, _Change | None]], start: datetime, ongoing_at_end: bool
) -> list[Incident]:
    incidents: list[Incident] = []
    run: list[tuple[datetime, datetime, str, _Change | None]] = []
    for piece in [*pieces, None]:
        if piece is not None and is_incident(piece[2]):
            run.append(piece)
            continue
        if run:
            first, last = run[0], run[-1]
            began = first[3].at if first[3] is not None else first[0]
            incidents.append(
                Incident(
                    state=first[2],
                    start=first[0],
                    end=last[1],
                    duration_seconds=(last[1] - first[0]).total_seconds(),
                    began_before=began < start,
                    ongoing=piece is None and ongoing_at_end,
                    cause=first[3].cause if first[3] is not None else None,
                )
            )
            run = []
    return incidents


async def build_month_report(
    session: AsyncSession,
    catalogue: Catalogue,
    *,
    month: str,
    zone: ZoneInfo,
    target: int,
    retention_days: int,
    now: datetime,
    routes: Mapping[str, tuple[str, str | None]] | None = None,
    stale_after: Callable[[str], float] | None = None,
) -> AxisMonthReport:
    """The report of ``month`` (``YYYY-MM`` in ``zone``) as of ``now``; :class:`InvalidMonth` when ``month`` is
    malformed or has not begun. ``routes`` (database id -> route, platform) are the connections' routes now;
    ``stale_after`` (database id -> seconds, :func:`gateway.axis.overview.stale_bound`) makes the time since a
    database's checks were overdue ``unknown``, as the live view shows it."""
    year, number = parse_month(month)
    start, end = month_bounds(year, number, zone)
    if start > now:
        raise InvalidMonth(f"month {month} has not begun", "month_not_begun")
    until = min(end, now)
    history_from = now - timedelta(days=retention_days)
    changes = await _changes(session, start, until)
    last_checks = await _last_checks(session) if stale_after is not None else {}
    checks = await _checks(session, start, end)
    requests = await _requests(session, start, end)
    span = (until - start).total_seconds()
    databases: list[DatabaseMonth] = []
    totals: dict[str, float] = {}
    for entry in catalogue.databases:
        known = changes.get(entry.id, [])
        if stale_after is not None:
            known = _with_overdue_checks(known, last_checks.get(entry.id), stale_after(entry.id), until)
        pieces = _timeline(known, start, until, history_from)
        seconds: dict[str, float] = {}
        for begin, finish, state, _change in pieces:
            seconds[state] = seconds.get(state, 0.0) + (finish - begin).total_seconds()
        seconds = {state: seconds[state] for state in state_order(list(seconds))}
        for state, value in seconds.items():
            totals[state] = totals.get(state, 0.0) + value
        at_end = pieces[-1][2] if pieces else UNKNOWN
        incidents = _incidents(pieces, start, ongoing_at_end=True)
        made, failed = checks.get(entry.id, (0, 0))
        outcomes = requests.get(entry.id, dict.fromkeys(OUTCOMES, 0))
        served = sum(outcomes.values())
        databases.append(
            DatabaseMonth(
                id=entry.id,
                name=entry.name_vi,
                name_en=entry.name_en,
                agency=entry.agency,
                state_at_end=at_end,
                seconds=seconds,
                shares={state: value / span if span else 0.0 for state, value in seconds.items()},
                connected_share=sum(v for s, v in seconds.items() if is_up(s)) / span if span else 0.0,
                incidents=incidents,
                downtime_seconds=sum(incident.duration_seconds for incident in incidents),
                checks=made,
                checks_failed=failed,
                requests=served,
                requests_by_outcome=outcomes,
                error_ratio=outcomes.get("failed", 0) / served if served else None,
                route=(routes or {}).get(entry.id, (None, None))[0],
                platform=(routes or {}).get(entry.id, (None, None))[1],
            )
        )
    names = {entry.id: (entry.name_vi, entry.name_en) for entry in catalogue.databases}
    quality = await build_month_quality(session, start=start, end=until, zone=zone, names=names)
    states = state_order(list(totals))
    whole = span * len(databases)
    served = sum(db.requests for db in databases)
    failed_requests = sum(db.requests_by_outcome.get("failed", 0) for db in databases)
    return AxisMonthReport(
        month=f"{year:04d}-{number:02d}",
        timezone=zone.key,
        start=start,
        end=end,
        reported_until=until,
        complete=until >= end,
        history_from=history_from,
        generated_at=now,
        total=len(databases),
        connected_at_end=sum(1 for db in databases if is_up(db.state_at_end)),
        target=target,
        states=states,
        seconds={state: totals[state] for state in states},
        shares={state: totals[state] / whole if whole else 0.0 for state in states},
        incidents=sum(len(db.incidents) for db in databases),
        checks=sum(db.checks for db in databases),
        checks_failed=sum(db.checks_failed for db in databases),
        requests=served,
        requests_failed=failed_requests,
        error_ratio=failed_requests / served if served else None,
        databases=databases,
        quality=quality,
    )
