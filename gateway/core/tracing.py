"""A request's span in the caller's W3C trace: :class:`RequestTrace`, made by :func:`request_trace` for each
incoming request (OpenTelemetry's span when telemetry is on)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from connectors.context import parse_traceparent
from gateway.core import telemetry

__all__ = ["RequestTrace", "active_trace", "request_trace"]

_TRACESTATE_MAX = 512


@dataclass(frozen=True, slots=True)
class RequestTrace:
    """The gateway's span of one request: in the caller's trace (or a new one), with a span id of its own."""

    trace_id: str
    span_id: str
    sampled: bool = True
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` of this span."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    @classmethod
    def new(cls) -> RequestTrace:
        """A span starting a new trace."""
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    @classmethod
    def child_of(cls, traceparent: str | None, tracestate: str | None = None) -> RequestTrace:
        """A new span in the trace of ``traceparent`` (its sampling decision and ``tracestate`` kept), or in a new
        trace when it is absent or malformed."""
        parsed = parse_traceparent(traceparent)
        if parsed is None:
            return cls.new()
        trace_id, _parent, flags = parsed
        return cls(trace_id, secrets.token_hex(8), bool(int(flags, 16) & 1), _tracestate(tracestate))


def _tracestate(value: str | None) -> str | None:
    if not value or len(value) > _TRACESTATE_MAX or not value.isascii() or not value.isprintable():
        return None
    return value


def active_trace() -> RequestTrace | None:
    """The current OpenTelemetry span, when telemetry is on."""
    active = telemetry.active_traceparent()
    if active is None:
        return None
    traceparent, tracestate = active
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        return None
    trace_id, span_id, flags = parsed
    return RequestTrace(trace_id, span_id, bool(int(flags, 16) & 1), _tracestate(tracestate))


def request_trace(traceparent: bytes | None, tracestate: bytes | None) -> RequestTrace:
    """The span of an incoming request: OpenTelemetry's when it is on, else a child of the caller's
    ``traceparent`` header (a new trace when there is none or it is malformed)."""
    active = active_trace()
    if active is not None:
        return active
    parent = traceparent.decode("latin-1") if traceparent else None
    state = tracestate.decode("latin-1") if tracestate else None
    return RequestTrace.child_of(parent, state)
