"""The OpenTelemetry side of :mod:`gateway.core.telemetry`, imported only when tracing is on.

Each application gets its own tracer provider (resource, sampler and exporters read from the ``OTEL_*``
variables), started and shut down (flushing its exporters) by the application's lifespan; several gateways in one
process (the tests) do not share one, and nothing is left behind once the last one closes:

* incoming requests: FastAPI's instrumentation, on this application only; a caller's ``traceparent`` is
  continued. The probes (``/healthz``, ``/readyz``, ``/metrics``) are not traced unless
  ``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` (or ``OTEL_PYTHON_EXCLUDED_URLS``) says otherwise;
* outgoing HTTP calls (connectors to sector systems and platforms, identity providers' keys): every ``httpx``
  client and every ``aiohttp`` session (the REST connector's) created while a tracing gateway runs is
  instrumented, and its calls are spans of the gateway whose request makes them, their ``traceparent`` sent on
  (httpx's by OpenTelemetry's instrumentation, aiohttp's by :func:`_aiohttp_tracing`, a trace configuration of
  the session);
* the gateway's database: the queries on the application's engine.

Calls and queries outside any traced request (health checks, the exchange dispatcher's and webhook sender's
loops) make no spans of their own: they would each be a trace of one span. Personal numbers in span
attributes (the URLs of a record's route and of the sector system's) are masked as in the logs.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiohttp
import httpx
from fastapi import FastAPI
from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_instrumentation
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.background import BackgroundTask
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import __version__
from gateway.core.masking import mask_value

__all__ = ["Tracing"]

SERVICE = "axis-gateway"
#: Not traced unless ``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` or ``OTEL_PYTHON_EXCLUDED_URLS`` is set.
PROBES = "/healthz$,/readyz$,/metrics$"

_NO_METERS = NoOpMeterProvider()
_NO_SPANS = trace.NoOpTracer()
#: The tracer provider of the traced application whose request (or lifespan) is running.
_CURRENT: ContextVar[TracerProvider | None] = ContextVar("axis_gateway_tracer_provider", default=None)


def _exporters() -> list[SpanExporter]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (``otlp`` when it is unset)."""
    names = [name.strip().lower() for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in filter(None, names):
        if name == "otlp":
            protocol = (
                os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            ).strip()
            if protocol != "http/protobuf":
                raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL: the gateway exports http/protobuf, not {protocol!r}")
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (the gateway has otlp and console)")
    return exporters


def _resource() -> Resource:
    """``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME``; the service is ``axis-gateway`` and its version the
    gateway's unless they say otherwise."""
    resource = Resource({SERVICE_VERSION: __version__}).merge(Resource.create())
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: SERVICE}))
    return resource


def _mask_span(span: trace.Span, *_: Any) -> None:
    """Masks personal numbers in the span's attributes (a record's key in the URL of its route, or of the sector
    system's): the hook FastAPI's and httpx's instrumentations call once the request's attributes are set."""
    attributes = getattr(span, "attributes", None) or {}
    for key, value in list(attributes.items()):
        if isinstance(value, str) and (masked := mask_value(value)) != value:
            span.set_attribute(key, masked)


async def _mask_async_span(span: trace.Span, *_: Any) -> None:
    _mask_span(span)


class _ChildSpans(trace.Tracer):
    """Makes spans only inside a trace, with the tracer ``resolve`` gives (a no-op when it gives none): a call or a
    query without a current span (a background loop's) makes no span."""

    def __init__(self, resolve: Callable[[], trace.Tracer | None]) -> None:
        self._resolve = resolve

    def _tracer(self, context: context_api.Context | None) -> trace.Tracer:
        if trace.get_current_span(context).get_span_context().is_valid:
            return self._resolve() or _NO_SPANS
        return _NO_SPANS

    def start_span(
        self, name: str, context: context_api.Context | None = None, *args: Any, **kwargs: Any
    ) -> trace.Span:
        return self._tracer(context).start_span(name, context, *args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: context_api.Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        with self._tracer(context).start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


class _CurrentProvider(trace.TracerProvider):
    """The tracers of the outgoing HTTP calls: those of the traced application whose request makes the call."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace.Tracer:
        def resolve() -> trace.Tracer | None:
            provider = _CURRENT.get()
            if provider is None:
                return None
            return provider.get_tracer(instrumenting_module_name, instrumenting_library_version, schema_url, attributes)

        return _ChildSpans(resolve)


class _UseProvider:
    """ASGI middleware: makes the application's tracer provider current for its requests and its lifespan."""

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        self.app = app
        self.provider = provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _CURRENT.set(self.provider)
        try:
            await self.app(scope, receive, send)
        finally:
            _CURRENT.reset(token)


#: The instrumentation scope of the aiohttp sessions' spans.
AIOHTTP_SCOPE = "gateway.otel.aiohttp"


def _aiohttp_tracing(tracer: trace.Tracer) -> aiohttp.TraceConfig:
    """A CLIENT span per request of an aiohttp session (in a traced request only: ``tracer`` is a
    :class:`_ChildSpans`), named by its method, with OpenTelemetry's stable HTTP attributes (the URL masked as in
    the logs), the error status for a 4xx or 5xx answer or an exception, and its ``traceparent`` sent on."""
    tracing = aiohttp.TraceConfig()

    async def started(_session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        url = params.url
        attributes: dict[str, Any] = {
            "http.request.method": params.method,
            "url.full": mask_value(str(url.with_user(None))),
            "server.address": url.host or "",
        }
        if url.port is not None:
            attributes["server.port"] = url.port
        span = tracer.start_span(params.method, kind=trace.SpanKind.CLIENT, attributes=attributes)
        context.span = span
        if span.get_span_context().is_valid:
            propagate.inject(params.headers, context=trace.set_span_in_context(span))

    async def ended(_session: Any, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        span: trace.Span | None = getattr(context, "span", None)
        if span is not None:
            status = params.response.status
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_status(trace.StatusCode.ERROR)
                span.set_attribute("error.type", str(status))
            span.end()

    async def failed(_session: Any, context: Any, params: aiohttp.TraceRequestExceptionParams) -> None:
        span: trace.Span | None = getattr(context, "span", None)
        if span is not None:
            span.set_status(trace.StatusCode.ERROR)
            span.set_attribute("error.type", type(params.exception).__qualname__)
            span.end()

    tracing.on_request_start.append(started)
    tracing.on_request_end.append(ended)
    tracing.on_request_exception.append(failed)
    return tracing


class _HttpxClients:
    """Instruments every ``httpx`` client and ``aiohttp`` session created while at least one traced application
    runs (counted)."""

    users = 0
    originals: tuple[Any, Any, Any] | None = None
    lock = threading.Lock()

    @classmethod
    def acquire(cls) -> None:
        with cls.lock:
            cls.users += 1
            if cls.originals is None:
                cls._patch()

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            if cls.users == 0 and cls.originals is not None:
                client, async_client, session = cls.originals
                httpx.Client.__init__ = client  # type: ignore[method-assign]
                httpx.AsyncClient.__init__ = async_client  # type: ignore[method-assign]
                aiohttp.ClientSession.__init__ = session  # type: ignore[method-assign]
                cls.originals = None

    @classmethod
    def _patch(cls) -> None:
        provider = _CurrentProvider()
        originals = (httpx.Client.__init__, httpx.AsyncClient.__init__, aiohttp.ClientSession.__init__)

        def instrumented(original: Callable[..., None]) -> Callable[..., None]:
            @functools.wraps(original)
            def __init__(self: httpx.Client | httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
                original(self, *args, **kwargs)
                HTTPXClientInstrumentor.instrument_client(
                    self,
                    tracer_provider=provider,
                    meter_provider=_NO_METERS,
                    request_hook=_mask_async_span if isinstance(self, httpx.AsyncClient) else _mask_span,
                )

            return __init__

        httpx.Client.__init__ = instrumented(originals[0])  # type: ignore[method-assign]
        httpx.AsyncClient.__init__ = instrumented(originals[1])  # type: ignore[method-assign]
        session_init = originals[2]
        tracer = provider.get_tracer(AIOHTTP_SCOPE, __version__)

        @functools.wraps(session_init)
        def traced_session(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            kwargs["trace_configs"] = [*(kwargs.get("trace_configs") or ()), _aiohttp_tracing(tracer)]
            session_init(self, *args, **kwargs)

        aiohttp.ClientSession.__init__ = traced_session  # type: ignore[method-assign]
        cls.originals = originals


class Tracing:
    """One application's traces: its tracer provider and what is instrumented with it."""

    def __init__(self, provider: TracerProvider, exporters: Sequence[SpanExporter]) -> None:
        self.provider = provider
        self.exporters = tuple(exporters)
        self._started = False

    @classmethod
    def from_environment(cls) -> Tracing:
        """The provider the ``OTEL_*`` variables describe (the sampler from ``OTEL_TRACES_SAMPLER``); its
        exporters start with :meth:`start`. Raises :class:`ValueError` for an exporter or protocol the gateway
        does not have."""
        provider = TracerProvider(resource=_resource(), shutdown_on_exit=False)
        return cls(provider, _exporters())

    def instrument(self, app: FastAPI, engine: AsyncEngine) -> None:
        """Trace ``app``'s requests and the queries on ``engine``."""
        excluded = None
        if not (os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")):
            excluded = PROBES
        patched_tasks = hasattr(BackgroundTask, "_otel_original_call")
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            meter_provider=_NO_METERS,
            excluded_urls=excluded,
            server_request_hook=_mask_span,
            # A span for each ASGI message (every chunk of a body) says nothing the request's span does not.
            exclude_spans=["receive", "send"],
        )
        if not patched_tasks and hasattr(BackgroundTask, "_otel_original_call"):
            # The instrumentation also wraps every BackgroundTask of the process with this application's tracer:
            # the gateway has none, and the next application must not write to this one's provider.
            BackgroundTask.__call__ = BackgroundTask._otel_original_call  # type: ignore[method-assign]
            del BackgroundTask._otel_original_call
        app.add_middleware(_UseProvider, provider=self.provider)
        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", sqlalchemy_instrumentation)
        queries = _ChildSpans(lambda: tracer)
        connections = _NO_METERS.get_meter(__name__).create_up_down_counter("db.client.connections.usage")
        EngineTracer(queries, engine.sync_engine, connections)  # type: ignore[no-untyped-call]

    async def start(self) -> None:
        """Start exporting (in the background, in batches: ``OTEL_BSP_*``) and instrument the HTTP clients."""
        for exporter in self.exporters:
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        _HttpxClients.acquire()
        self._started = True

    async def close(self) -> None:
        """Send the spans not yet exported and shut the exporters down (the batch processors' shutdown exports
        what they hold, within 30 seconds)."""
        if self._started:
            self._started = False
            _HttpxClients.release()
        await asyncio.to_thread(self.provider.shutdown)
