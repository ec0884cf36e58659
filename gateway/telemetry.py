"""OpenTelemetry: traces of the gateway's requests and of its calls to sector systems, platforms and its
database, exported over OTLP. Off by default; configured by the standard ``OTEL_*`` environment variables."""

from __future__ import annotations


def active_traceparent() -> tuple[str, str | None] | None:
    """The W3C ``traceparent`` (and ``tracestate``) of the current OpenTelemetry span, or ``None`` when
    telemetry is off or no span is recording."""
    return None
