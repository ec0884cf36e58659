"""The request context the gateway hands to connectors (:mod:`connectors.context`), built in one place.

* a data request (``get``, ``search``): its request id, the calling client and its agency code, the ``X-Purpose``
  and ``X-Actor-Id`` its grant was decided on, the request's deadline and its trace (:func:`request_context`);
* a submission's delivery by the dispatcher: the context of the submission, stored with each of its operations
  (:func:`stored_context`, :func:`delivery_context`);
* the gateway's own calls (health checks, canaries, the readiness probe, data-quality scans): a new request id,
  no client, the ``system_purpose`` setting as purpose (:func:`system_context`).

Traces follow W3C Trace Context without OpenTelemetry: the middleware takes the caller's ``traceparent`` (and
``tracestate``), or starts a new trace, and gives the request a span id of its own (:func:`request_trace`); every
call to a connector is a child span in that trace (:func:`connector_call`). When OpenTelemetry is on
(:func:`gateway.core.telemetry.active_traceparent`), its current span is used instead. The trace and span ids are bound
in the JSON logs (``trace_id``, ``span_id``) next to the request id.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from contextvars import Token
from typing import Any

from starlette.requests import Request

from connectors.context import RequestContext, use_context
from gateway.core.logs import bind_request_fields, reset_request_fields
from gateway.core.settings import Settings
from gateway.core.tracing import RequestTrace, active_trace
from gateway.identity.request_state import request_state

__all__ = [
    "CONTEXT_KEY",
    "connector_call",
    "delivery_context",
    "request_context",
    "stored_context",
    "system_context",
]

#: The key of an exchange operation's stored metadata that holds its submission's context (never passed on as
#: metadata: the submitted metadata cannot hold it, its model forbids unknown keys).
CONTEXT_KEY = "_context"
#: The fields of a submission's context stored with its operations.
_STORED = ("request_id", "client_id", "agency_code", "purpose", "actor", "traceparent", "tracestate")


def request_context(request: Request) -> RequestContext:
    """The context of a data request, from what the middleware and the access decision left in its state."""
    known = request_state(request.scope)
    decision, access, trace = known.decision, known.access, known.trace
    return RequestContext(
        request_id=known.request_id,
        client_id=decision.client_id if decision is not None else access.client_id if access is not None else None,
        agency_code=access.agency_code if access is not None else None,
        purpose=decision.purpose if decision is not None else None,
        actor=decision.actor if decision is not None else None,
        deadline=known.deadline,
        traceparent=trace.traceparent,
        tracestate=trace.tracestate,
    )


def system_context(
    settings: Settings,
    *,
    deadline_seconds: float | None = None,
    request_id: str | None = None,
    trace: RequestTrace | None = None,
) -> RequestContext:
    """The context of one of the gateway's own calls (a health check, a scan): a new request id unless given, no
    client, the ``system_purpose`` setting, a deadline ``deadline_seconds`` from now, a new trace unless given."""
    trace = trace or active_trace() or RequestTrace.new()
    return RequestContext(
        request_id=request_id or os.urandom(16).hex(),
        purpose=settings.system_purpose,
        deadline=None if deadline_seconds is None else time.monotonic() + deadline_seconds,
        traceparent=trace.traceparent,
        tracestate=trace.tracestate,
    )


def stored_context(context: RequestContext | None) -> dict[str, str]:
    """What of a submission's ``context`` is stored with its operations (the fields set; JSON)."""
    if context is None:
        return {}
    return {name: value for name in _STORED if (value := context.value(name)) is not None}


def delivery_context(stored: Mapping[str, Any] | None, *, deadline_seconds: float | None) -> RequestContext:
    """The context of delivering operations of one submission: the submission's stored context, with a
    deadline ``deadline_seconds`` from now (the dispatcher's claim)."""
    values = {name: str(value) for name, value in (stored or {}).items() if name in _STORED and value is not None}
    return RequestContext(**values, deadline=None if deadline_seconds is None else time.monotonic() + deadline_seconds)


def _call_span(context: RequestContext) -> RequestTrace:
    """The span of a call made in ``context``: OpenTelemetry's current span when it is on, else a new child span
    in the context's trace (or a new trace)."""
    return active_trace() or RequestTrace.child_of(context.traceparent, context.tracestate)


class connector_call:
    """Make ``context`` current for one call to a connector, as a span of its own (a child of the context's
    span), whose ids are bound in the logs written meanwhile. (A class rather than a generator-based context
    manager: it runs around every call to a connector.)"""

    __slots__ = ("_current", "_fields_token", "_span", "call")

    def __init__(self, context: RequestContext) -> None:
        span = self._span = _call_span(context)
        self.call = context.with_values(traceparent=span.traceparent, tracestate=span.tracestate)
        self._current = use_context(self.call)
        self._fields_token: Token[Mapping[str, str] | None] | None = None

    def __enter__(self) -> RequestContext:
        call = self.call
        fields = {"trace_id": self._span.trace_id, "span_id": self._span.span_id}
        if call.request_id is not None:
            fields["request_id"] = call.request_id
        self._current.__enter__()
        self._fields_token = bind_request_fields(fields)
        return call

    def __exit__(self, *exc_info: object) -> None:
        if self._fields_token is not None:
            reset_request_fields(self._fields_token)
            self._fields_token = None
        self._current.__exit__()
