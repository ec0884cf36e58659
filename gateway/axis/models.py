"""The integration axis: each catalogued database's connection state, its check history, the operational checks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from gateway.core.db import UTCDateTime, utcnow


class AxisConnection(SQLModel, table=True):
    """The live state of one catalogued database's connection, derived from its health checks.

    Written by the process holding the health-check lease; read by every process (``/v1/axis``, metrics).
    ``maintenance`` is set by an operator and overrides the derived state.
    """

    __tablename__ = "axis_connections"

    database_id: str = Field(primary_key=True, max_length=32)
    state: str = Field(max_length=16)
    since: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_check: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_success: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    """The last real call through the gateway (any process) that the sector system answered well: written by each
    process as it shares its evidence, never moved back."""
    latency_ms: float | None = Field(default=None)
    error: str | None = Field(default=None, max_length=500)
    cause: str | None = Field(default=None, max_length=32)
    failures: int = Field(default=0)
    successes: int = Field(default=0)
    maintenance: bool = Field(default=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class AxisCheck(SQLModel, table=True):
    """One health check of one database, and the state it left the connection in (recent history only)."""

    __tablename__ = "axis_checks"
    __table_args__ = (Index("ix_axis_checks_database_checked", "database_id", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    database_id: str = Field(sa_column=Column(String(32), nullable=False))
    checked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ok: bool
    latency_ms: float | None = Field(default=None)
    state: str = Field(max_length=16)
    error: str | None = Field(default=None, max_length=500)
    cause: str | None = Field(default=None, max_length=32)
    """The evidence behind the state: ``circuit-open``, ``contract-violation``, ``slow``, ``check-timeout``..."""


class AxisEvidence(SQLModel, table=True):
    """One gateway process's passive evidence of one connection: its circuit's state and the counts of its calls
    in the evidence window. Each process writes its own rows; the health-check lease holder combines the fresh
    ones into the state, so that every process's circuit and calls count."""

    __tablename__ = "axis_evidence"

    database_id: str = Field(primary_key=True, max_length=32)
    holder: str = Field(primary_key=True, max_length=200)
    circuit: int = Field(default=0, description="0 closed, 1 half-open, 2 open (gateway_circuit_state).")
    calls: int = Field(default=0)
    failures: int = Field(default=0)
    violations: int = Field(default=0)
    p95_ms: float | None = Field(default=None)
    operations: dict[str, list[int]] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="Per operation (read, search), its calls and failures in the window: [calls, failures].",
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class AxisTransition(SQLModel, table=True):
    """A connection entering a state (as ``/v1/axis`` shows it: maintenance included), kept for the monthly
    report for ``axis_history_retention_days``; ``cause`` is the error the state was entered with."""

    __tablename__ = "axis_transitions"
    __table_args__ = (Index("ix_axis_transitions_database_at", "database_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    database_id: str = Field(sa_column=Column(String(32), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    state: str = Field(max_length=16)
    cause: str | None = Field(default=None, max_length=500)


class AxisCheckCount(SQLModel, table=True):
    """Health checks of one database in one UTC hour, and how many failed: the check counts of the monthly
    report, kept when the raw checks are pruned."""

    __tablename__ = "axis_check_counts"

    database_id: str = Field(sa_column=Column(String(32), primary_key=True))
    hour: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    checks: int = Field(default=0)
    failed: int = Field(default=0)


class OpsStatus(SQLModel, table=True):
    """The last outcome of a periodic operational check (``audit_chain``): exported as metrics by every process."""

    __tablename__ = "ops_status"

    name: str = Field(primary_key=True, max_length=64)
    ok: bool
    checked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    good_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    detail: str | None = Field(default=None, max_length=1000)
