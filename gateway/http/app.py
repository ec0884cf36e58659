"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import __version__
from gateway.core.collector import collector_for_serving
from gateway.core.logs import configure_logging, get_logger
from gateway.core.settings import Settings, get_settings
from gateway.core.telemetry import configure_tracing
from gateway.http.data_path import DataPathMiddleware, DataRoutes
from gateway.http.head import HeadAsGetMiddleware
from gateway.http.middleware import RequestContextMiddleware
from gateway.http.openapi import install_openapi
from gateway.http.problem_handlers import install_problem_handlers
from gateway.http.request_limits import RequestLimitsMiddleware
from gateway.http.routes import admin, audit, axis, contracts, exchange, health, oauth, problems, services, well_known
from gateway.http.routes.databases import database_router
from gateway.http.routes.docs import docs_router
from gateway.http.routes.quality_history import router as quality_history_router
from gateway.http.state import GatewayState
from gateway.http.token_path import TokenPathMiddleware
from gateway.records.registry import ConnectorRegistry

DESCRIPTION = """\
The provincial data-sharing integration gateway: national and sector databases, adapted by pluggable
connectors to common versioned contracts, served to authorised agency systems.

Obtain a token at `POST /oauth/token` (OAuth 2.0 client credentials), then call the database routes with
`Authorization: Bearer <token>`. Errors are RFC 9457 problem details (`application/problem+json`).
"""


log = get_logger(__name__)

#: Logged at start when no database is configured: what configures them.
NO_CONNECTORS = (
    "no connectors configured: the catalogue is empty and no national database is served; configure them in the "
    "[connectors.<id>] tables of the settings file (GATEWAY_CONFIG, --config) or in GATEWAY_CONNECTORS "
    "(JSON, or GATEWAY_CONNECTORS__<ID>__CONNECTOR, GATEWAY_CONNECTORS__<ID>__CONFIG__...)"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway application; connectors are loaded now, started in the lifespan."""
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if not any(instance.enabled for instance in settings.connectors.values()):
        log.warning(NO_CONNECTORS)
    state = GatewayState(settings=settings, registry=ConnectorRegistry.from_settings(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if tracing is not None:
            await tracing.start()
        try:
            await state.start()
            try:
                with collector_for_serving():
                    yield
            finally:
                await state.close()
        finally:
            if tracing is not None:
                await tracing.close()

    # FastAPI's /docs and /redoc load their assets from a CDN: ours serve them from the gateway (routers.docs).
    app = FastAPI(
        title="axis-gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # The gateway traces with OpenTelemetry's own instrumentation when asked to (gateway.core.telemetry), and
        # counts in Prometheus: FastAPI's native telemetry would only cost a look at the environment per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # A path with or without its trailing slash is redirected by the 404 handler, to a relative Location:
        # Starlette's own redirect builds an absolute URL from the Host header (gateway.http.problem_handlers).
        redirect_slashes=False,
    )
    app.state.gateway = state
    install_problem_handlers(app)
    install_openapi(app)
    # Added first, so it runs innermost: POST /oauth/token with a form body (gateway.http.token_path).
    app.add_middleware(TokenPathMiddleware, state=state, exception_handlers=app.exception_handlers)
    # The data routes by database id (filled as the database routers are included, below): the read by key,
    # dispatched by database id (gateway.http.data_path), and the route of a request refused before routing, which
    # the audit trail records (gateway.audit.capture).
    data_routes = DataRoutes()
    app.add_middleware(
        DataPathMiddleware, state=state, reads=data_routes.reads, exception_handlers=app.exception_handlers
    )
    # Outside the lean paths, so that they and the routes serve a HEAD as the GET it is (gateway.http.head).
    app.add_middleware(HeadAsGetMiddleware)
    # Inside RequestContextMiddleware: body size, strict JSON, deadline, RateLimit-*.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        deadline_seconds=settings.request_deadline_seconds,
    )
    app.add_middleware(
        RequestContextMiddleware,
        access_log=settings.access_log,
        # FastAPI's own route (no route template in the scope); the documentation pages are routers.docs'.
        static_paths=[app.openapi_url] if app.openapi_url else [],
        data_labels=data_routes.labels,
    )
    for router in (
        health.router,
        oauth.router,
        well_known.router,
        contracts.router,
        services.router,
        audit.router,
        axis.router,
        exchange.router,
        quality_history_router,
        *admin.routers,
        problems.router,
        docs_router(app),
    ):
        app.include_router(router)
    for database in state.registry.databases.values():
        router = database_router(database, settings)
        data_routes.add(router.routes)
        app.include_router(router)
    # Off unless the standard OTEL_* variables ask for traces (gateway.core.telemetry, docs/tracing.md).
    tracing = configure_tracing(app, state.engine)
    return app
