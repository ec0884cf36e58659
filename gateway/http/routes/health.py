"""Liveness, readiness and metrics: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.base import Connector, HealthReport
from gateway.core import metrics
from gateway.core.db import ping
from gateway.core.logs import get_logger
from gateway.core.outages import database_outage, database_unavailable
from gateway.core.problems import NotReady
from gateway.http.deps import StateDep
from gateway.http.probes import SharedProbes
from gateway.identity.request_state import request_state
from gateway.records.context import connector_call, system_context

router = APIRouter(tags=["operations"])

READY_TIMEOUT_SECONDS = 2.0
#: How long a connector's probe answers every readiness request of this process: /readyz is unauthenticated, and
#: each request probing every sector system would let anyone multiply calls to them (and to the national
#: platform's quotas) by the rate of their requests. Concurrent requests share one probe.
PROBE_REUSE_SECONDS = 1.0

log = get_logger(__name__)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Always ``ok`` while the process serves HTTP."""
    return {"status": "ok"}


@router.get("/readyz", summary="The gateway can serve requests")
async def readyz(request: Request, state: StateDep) -> dict[str, Any]:
    """Ready when the stores the gateway cannot serve without answer (its database, which holds the audit trail,
    and takes writes; Redis when the rate limiter uses it and fails closed) and at least one configured database's
    connector loaded.

    Each connector's ``check()`` (its health probe, never raising) is reported too; a sector system being down
    does not make the gateway unready (its requests get 503), it shows up here and in the metrics. Everything is
    asked at once and the answer comes within :data:`READY_TIMEOUT_SECONDS` whatever the sector systems do: a
    probe without an answer by then is reported as such (a hung sector system must not make every replica's
    readiness probe time out).
    """
    registry = state.registry
    # The probe's request id and span are the request's; no client, the system purpose, the request's deadline.
    known = request_state(request.scope)
    context = system_context(state.settings, request_id=known.request_id, trace=known.trace)
    context = context.with_values(deadline=known.deadline)

    async def check(connector: Connector[Any]) -> HealthReport:
        with connector_call(context):
            return await connector.check()

    database = asyncio.ensure_future(ping(state.engine, writable=True))  # the audit trail must be writable
    redis = asyncio.ensure_future(state.limiter.store_needed())
    probes = {db_id: _PROBES.probe(db.connector, check) for db_id, db in registry.databases.items()}
    pending: set[asyncio.Future[Any]] = {database, redis, *probes.values()}
    _done, late = await asyncio.wait(pending, timeout=READY_TIMEOUT_SECONDS)
    for task in late:
        # Not awaited: the answer does not wait for them. A store's check is left to end on its own (cancelled in
        # a driver's call, its connection's rollback would be cancelled too); a sector system's probe is shared
        # with the other requests of this process, and ends at its connector's own deadline.
        if task is database or task is redis:
            _LATE.add(task)
            task.add_done_callback(_forget)
    checks: dict[str, Any] = {"database": _outcome(database, late, lambda _ping: "ok")}
    store = _outcome(redis, late, lambda needed: needed)
    if store is not None:
        checks["redis"] = store
    connectors: dict[str, Any] = {}
    for db_id, probe in probes.items():
        if probe in late:
            message = f"no answer within {READY_TIMEOUT_SECONDS:g} s"
            connectors[db_id] = {"loaded": True, "reachable": False, "message": message}
        else:
            report = probe.result()
            connectors[db_id] = {"loaded": True, "reachable": report.ok, "message": report.message}
    connectors.update({db_id: {"loaded": False, "message": why} for db_id, why in registry.failures.items()})
    checks["connectors"] = connectors
    unreachable = [store for store in ("database", "redis") if checks.get(store, "ok") != "ok"]
    if unreachable or not registry.databases:
        why = f"unreachable: {', '.join(unreachable)}" if unreachable else "no connector loaded"
        raise NotReady(f"The gateway is not ready ({why}).", checks=checks)
    return {"status": "ready", "checks": checks}


_PROBES = SharedProbes(PROBE_REUSE_SECONDS)

#: The stores' checks that outlived their readiness probe, held until they end.
_LATE: set[asyncio.Future[Any]] = set()


def _forget(task: asyncio.Future[Any]) -> None:
    _LATE.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: nobody waits for a probe that came too late


def _outcome(task: asyncio.Future[Any], late: Collection[object], ok: Callable[[Any], Any]) -> Any:
    """What a store's check says: ``ok(result)`` when it answered, else why it is unreachable."""
    if task in late:
        return "unreachable (TimeoutError)"
    error = task.exception()
    if error is not None:
        return f"unreachable ({type(error).__name__})"
    return ok(task.result())


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics_endpoint(state: StateDep) -> Response:
    """The Prometheus text exposition format: this process's metrics (every worker's, with several workers) and
    the state all processes share through the database (the axis, the audit chain's verification, key expiry)."""
    try:
        await state.refresh_ops_metrics()
    except Exception as exc:
        metrics.SHARED_STATE_READ_FAILURES.inc()
        if database_unavailable(exc):
            database_outage(state.settings.database_url).failed("metrics", exc)
        else:
            log.warning("cannot read the shared state for the metrics", exc_info=True)
    return Response(generate_latest(metrics.EXPOSITION), media_type=CONTENT_TYPE_LATEST)
