"""OpenTelemetry: traces of the gateway's requests and of its calls to sector systems, platforms and its
database, exported over OTLP. Off by default; configured by the standard ``OTEL_*`` environment variables.

Tracing is **on** when the variables ask for an exporter: ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, or ``OTEL_TRACES_EXPORTER`` names one (``otlp``, ``console``).
``OTEL_TRACES_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true`` turn it off whatever else is set (docs/tracing.md).

This module stays light: OpenTelemetry itself (the optional ``tracing`` extra) is imported only when tracing
is on (:mod:`gateway.core._otel`), so that a gateway without tracing pays nothing for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.core._structlog_lean import structlog

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.core._otel import Tracing

__all__ = ["active_traceparent", "configure_tracing", "current_span_ids", "tracing_requested"]

log = structlog.stdlib.get_logger(__name__)

#: ``opentelemetry.trace``, once a gateway of this process traces (``None`` before: nothing to look up).
_trace_api: Any = None


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard ``OTEL_*`` variables ask for traces (see the module's documentation)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(
        environ.get(name, "").strip() for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(app: FastAPI, engine: AsyncEngine) -> Tracing | None:
    """Trace ``app``'s requests, its outgoing HTTP calls and the queries on ``engine`` when the ``OTEL_*``
    variables ask for it (the returned :class:`~gateway.core._otel.Tracing` is started and closed by the app's
    lifespan); ``None`` when they do not, or when OpenTelemetry is not installed (a warning says so)."""
    if not tracing_requested():
        return None
    try:
        from gateway.core._otel import Tracing
    except ImportError as exc:
        log.warning(
            "the OTEL_* variables ask for traces but OpenTelemetry is not installed: "
            "install the gateway with its tracing extra (axis-gateway[tracing])",
            missing=exc.name,
        )
        return None
    global _trace_api  # noqa: PLW0603 - set once per process, read on every log line
    from opentelemetry import trace

    _trace_api = trace
    tracing = Tracing.from_environment()
    tracing.instrument(app, engine)
    return tracing


def current_span_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hexadecimal (32 and 16 digits) of the current OpenTelemetry span, or ``None``
    when telemetry is off or no span is current. (A request's span stays current until its handling ends, after
    it has ended with the answer's last byte: the access log line written then still names it.)"""
    if _trace_api is None:
        return None
    context = _trace_api.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def active_traceparent() -> tuple[str, str | None] | None:
    """The W3C ``traceparent`` (and ``tracestate``) of the current OpenTelemetry span, or ``None`` when
    telemetry is off or no span is recording."""
    if _trace_api is None:
        return None
    span = _trace_api.get_current_span()
    if not span.is_recording():
        return None
    context = span.get_span_context()
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    return traceparent, context.trace_state.to_header() or None
