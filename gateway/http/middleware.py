"""The ASGI middleware around every request: request id, HTTP metrics, and the last-resort error answer.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so that it adds almost nothing to each request.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit.capture import DataLabels, audit_exchange
from gateway.core import metrics
from gateway.core.logs import bind_request_fields, get_logger, reset_request_fields
from gateway.core.problems import Problem, problem_response
from gateway.core.tracing import request_trace
from gateway.identity.request_state import start_request_state

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

log = get_logger(__name__)


def request_id_of(raw: bytes | None) -> str:
    """Keep a caller's request id when it is sane (1-128 of ``A-Za-z0-9._:-``), else make a new one."""
    if raw:
        try:
            value = raw.decode("ascii")
        except UnicodeDecodeError:
            value = ""
        if _SANE_REQUEST_ID.fullmatch(value):
            return value
    return os.urandom(16).hex()


def _context_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The raw ``X-Request-Id``, ``traceparent`` and ``tracestate`` headers of a request (each ``None`` if absent)."""
    raw_id = traceparent = tracestate = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            raw_id = value
        elif name == b"traceparent":
            traceparent = value
        elif name == b"tracestate":
            tracestate = value
    return raw_id, traceparent, tracestate


class RequestContextMiddleware:
    """Gives every request an id (echoed in ``X-Request-Id``) and a span in the caller's W3C trace (``traceparent``
    and ``tracestate``; a new trace without them), both bound in the logs, times it into the HTTP metrics by route
    template, and turns an unexpected exception into a 500 problem without a stack trace."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: bool = False,
        static_paths: Collection[str] = (),
        data_labels: DataLabels | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        # The data route a request asks for, when it is answered before routing (the audit trail records it).
        self.data_labels = data_labels
        # Routes that do not record themselves in the scope (FastAPI's /docs, /openapi.json): fixed paths.
        self.static_paths = frozenset(static_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_id, traceparent, tracestate = _context_headers(scope)
        request_id = request_id_of(raw_id)
        # The request's span: in the caller's W3C trace (or a new one); connector calls are its children.
        trace = request_trace(traceparent, tracestate)
        # What the request comes to know on its way (gateway.identity.request_state): made here, before anything else.
        request_state = start_request_state(scope, request_id, trace)
        status = 500
        started = False
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        # The audit hook holds an audited answer until its event is committed (gateway.audit.capture).
        audited = audit_exchange(scope, receive, send_with_id, request_state, self.data_labels)
        app_receive, app_send = (receive, send_with_id) if audited is None else (audited.receive, audited.send)
        log_fields = bind_request_fields(
            {"request_id": request_id, "trace_id": trace.trace_id, "span_id": trace.span_id}
        )
        try:
            await self.app(scope, app_receive, app_send)
        except Exception:
            log.exception("unhandled error", path=scope.get("path"))
            if started:
                raise
            response = problem_response(Problem(), instance=scope.get("path"), scope=scope)
            await response(scope, receive, app_send)
        finally:
            elapsed = time.perf_counter() - began
            route = scope.get("route")
            # The template as the API document states it ("{kid}", not the router's "{kid:path}").
            template = getattr(route, "path_format", None)
            if template is None:
                template = scope["path"] if scope["path"] in self.static_paths and status != 404 else "unmatched"
            metrics.http_counter(scope["method"], template, status).inc()
            data_labels = getattr(route, "metric_labels", None)
            if data_labels is None:
                metrics.http_duration(scope["method"], template).observe(elapsed)
            else:  # a data route: timed once, by database and operation
                counter, histogram = metrics.request_children(*data_labels, status)
                counter.inc()
                histogram.observe(elapsed)
            if self.access_log:
                log.info("request", method=scope["method"], path=scope.get("path"), status=status, seconds=elapsed)
            reset_request_fields(log_fields)
