"""Liveness, readiness and metrics: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

import asyncio
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
from gateway.identity.request_state import request_state
from gateway.records.context import connector_call, system_context

router = APIRouter(tags=["operations"])

READY_TIMEOUT_SECONDS = 2.0

log = get_logger(__name__)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Always ``ok`` while the process serves HTTP."""
    return {"status": "ok"}


@router.get("/readyz", summary="The gateway can serve requests")
async def readyz(request: Request, state: StateDep) -> dict[str, Any]:
    """Ready when the stores the gateway cannot serve without answer (its database, which holds the audit trail;
    Redis when the rate limiter uses it and fails closed) and at least one configured database's connector loaded.

    Each connector's ``check()`` (its health probe, never raising) is reported too; a sector system being down
    does not make the gateway unready (its requests get 503), it shows up here and in the metrics.
    """
    registry = state.registry
    checks: dict[str, Any] = {"database": "ok"}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await ping(state.engine)
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            redis = await state.limiter.store_needed()
    except TimeoutError:
        redis = "unreachable (TimeoutError)"
    if redis is not None:
        checks["redis"] = redis
    # The probe's request id and span are the request's; no client, the system purpose, the request's deadline.
    known = request_state(request.scope)
    context = system_context(state.settings, request_id=known.request_id, trace=known.trace)
    context = context.with_values(deadline=known.deadline)

    async def check(connector: Connector[Any]) -> HealthReport:
        with connector_call(context):
            return await connector.check()

    results = await asyncio.gather(*(check(db.connector) for db in registry.databases.values()))
    connectors: dict[str, Any] = {
        db_id: {"loaded": True, "reachable": result.ok, "message": result.message}
        for db_id, result in zip(registry.databases, results, strict=True)
    }
    connectors.update({db_id: {"loaded": False, "message": why} for db_id, why in registry.failures.items()})
    checks["connectors"] = connectors
    unreachable = [store for store in ("database", "redis") if checks.get(store, "ok") != "ok"]
    if unreachable or not registry.databases:
        why = f"unreachable: {', '.join(unreachable)}" if unreachable else "no connector loaded"
        raise NotReady(f"The gateway is not ready ({why}).", checks=checks)
    return {"status": "ready", "checks": checks}


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
