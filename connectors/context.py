"""The request's context: who asks, why, for which request, until when, as part of which trace.

The gateway knows, for every call it makes to a connector, the facts that national platforms (NDXP, a
province's LGSP) and many sector systems require each request to carry: the request id, the calling client and
its electronic agency code, the public-service procedure it serves (``X-Purpose``), the officer making it
(``X-Actor-Id``), the deadline and the W3C trace context. It hands them over as a :class:`RequestContext`,
read-only, for the duration of each call (``get``, ``search``, ``submit``, ``changes``, ``sample``, health
checks)::

    async def get(self, record_id: str) -> Citizen:
        context = self.context                 # or connectors.context.current_context()
        headers = forwarded_headers(context, self.config.context_headers)
        ...

The context travels in a :class:`contextvars.ContextVar`, so that a connector written before it existed keeps
working unchanged (its method signatures do not move), and tasks a connector starts inherit it. Outside a call
made by the gateway (a script, a unit test), there is no context: :func:`current_context` returns ``None`` and
:meth:`connectors.base.Connector.context` an empty one.

A connector that calls its system over HTTP mixes :class:`ContextForwarding` into its configuration: the
``context_headers`` setting (context field -> header name; by default :data:`DEFAULT_CONTEXT_HEADERS`) says what
:func:`forwarded_headers` sends. The REST and SOAP connectors do so on every call.

The model is versioned (:data:`CONTEXT_VERSION`): fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CONTEXT_FIELDS",
    "CONTEXT_VERSION",
    "DEFAULT_CONTEXT_HEADERS",
    "RESERVED_HEADERS",
    "ContextField",
    "ContextForwarding",
    "RequestContext",
    "check_context_headers",
    "current_context",
    "forwarded_headers",
    "new_traceparent",
    "parse_traceparent",
    "use_context",
]

#: The version of :class:`RequestContext`; bumped when fields are added.
CONTEXT_VERSION = 1

#: The names of the context's forwardable fields (what a configuration may map onto headers or request fields).
ContextField = Literal[
    "request_id", "client_id", "agency_code", "purpose", "actor", "traceparent", "tracestate", "deadline"
]
CONTEXT_FIELDS: tuple[str, ...] = (
    "request_id",
    "client_id",
    "agency_code",
    "purpose",
    "actor",
    "traceparent",
    "tracestate",
    "deadline",
)

#: What a REST or SOAP connector forwards when its configuration says nothing: the request id and the trace.
DEFAULT_CONTEXT_HEADERS: Mapping[str, str] = {
    "request_id": "X-Request-Id",
    "traceparent": "traceparent",
    "tracestate": "tracestate",
}

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """``(trace_id, parent_id, flags)`` of a W3C ``traceparent`` header (version 00), or ``None`` when it is
    absent or malformed (an all-zero trace or parent id is invalid, as the W3C recommendation says)."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip().lower())
    if match is None:
        return None
    trace_id, parent_id, flags = match.groups()
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id, flags


def new_traceparent(trace_id: str | None = None, *, sampled: bool = True) -> str:
    """A W3C ``traceparent`` for a new span: in the trace ``trace_id`` (a new trace when ``None``)."""
    trace = trace_id or secrets.token_hex(16)
    return f"00-{trace}-{secrets.token_hex(8)}-{'01' if sampled else '00'}"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The context of one call from the gateway to a connector (read-only; every field may be ``None``).

    * ``request_id``: the gateway's request id (the caller's ``X-Request-Id``, or one the gateway made), also
      in the gateway's audit trail and logs;
    * ``client_id`` and ``agency_code``: the calling client and its electronic agency code (``000.00.00.H41``);
    * ``purpose``: the public-service procedure code the request serves (``X-Purpose``; NDXP's MaDVC);
    * ``actor``: the officer making the request (``X-Actor-Id``; NDXP's MaCanBo);
    * ``deadline``: when the gateway stops waiting, in :func:`time.monotonic` seconds (see :meth:`remaining`);
    * ``traceparent`` and ``tracestate``: the W3C trace context of the gateway's span for this call, to be sent
      on as headers so that traces continue across agencies.
    """

    request_id: str | None = None
    client_id: str | None = None
    agency_code: str | None = None
    purpose: str | None = None
    actor: str | None = None
    deadline: float | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def trace_id(self) -> str | None:
        """The trace id of :attr:`traceparent` (32 hex digits), or ``None``."""
        parsed = parse_traceparent(self.traceparent)
        return parsed[0] if parsed else None

    def remaining(self) -> float | None:
        """Seconds left before :attr:`deadline` (never below 0), or ``None`` without a deadline."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def value(self, name: str) -> str | None:
        """The field ``name`` (one of :data:`CONTEXT_FIELDS`) as text to send; the deadline as whole
        milliseconds left. ``None`` when the field is unset."""
        if name not in CONTEXT_FIELDS:
            raise KeyError(name)
        if name == "deadline":
            left = self.remaining()
            return None if left is None else str(int(left * 1000))
        found = getattr(self, name)
        return None if found is None else str(found)

    def with_values(self, **changes: str | float | None) -> RequestContext:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


_CURRENT: ContextVar[RequestContext | None] = ContextVar("axis_gateway_request_context", default=None)


def current_context() -> RequestContext | None:
    """The context of the call in progress, or ``None`` outside a call made by the gateway."""
    return _CURRENT.get()


class use_context:
    """Make ``context`` current for the block (the gateway does this around each call to a connector; tests and
    scripts may too). The block receives ``context``."""

    __slots__ = ("_token", "context")

    def __init__(self, context: RequestContext | None) -> None:
        self.context = context
        self._token: Token[RequestContext | None] | None = None

    def __enter__(self) -> RequestContext | None:
        self._token = _CURRENT.set(self.context)
        return self.context

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None


def forwarded_headers(
    context: RequestContext | None, mapping: Mapping[str, str] | Mapping[ContextField, str]
) -> dict[str, str]:
    """The headers that carry ``context`` as ``mapping`` (context field -> header name) says; unset fields are
    left out. Values are checked to be header-safe (no control characters): one that is not is left out."""
    if context is None:
        return {}
    headers: dict[str, str] = {}
    for name, header in mapping.items():
        value = context.value(name)
        if value is not None and value.isprintable() and len(value) <= 1024:
            headers[header] = value
    return headers


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")

#: Headers a context field may not be sent in: the transport's own, and credentials.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "host",
        "proxy-authorization",
        "soapaction",
        "te",
        "transfer-encoding",
        "upgrade",
    }
)


def check_context_headers(mapping: Mapping[str, str] | Mapping[ContextField, str]) -> dict[str, str]:
    """``mapping`` (context field -> header name) if every name is an HTTP header name (RFC 9110 token, at most 64
    characters), none is reserved (:data:`RESERVED_HEADERS`) and no header carries two fields; else
    :class:`ValueError` naming the fault."""
    carried: dict[str, str] = {}
    items: list[tuple[str, str]] = list(mapping.items())
    for name, header in items:
        if name not in CONTEXT_FIELDS:
            raise ValueError(f"{name!r} is not a context field ({', '.join(CONTEXT_FIELDS)})")
        if not _HEADER_NAME.fullmatch(header):
            raise ValueError(f"{header!r} is not an HTTP header name")
        lowered = header.lower()
        if lowered in RESERVED_HEADERS:
            raise ValueError(f"{header!r} cannot carry the request context")
        if lowered in carried:
            raise ValueError(f"the header {header!r} would carry both {carried[lowered]!r} and {name!r}")
        carried[lowered] = name
    return dict(items)


class ContextForwarding(BaseModel):
    """Mixin of the configuration of a connector that forwards the request context as HTTP headers (the REST and
    SOAP connectors): ``class MyConfig(ConnectorConfig, ContextForwarding)``, then, on every call to the sector
    system, ``forwarded_headers(self.context, self.config.context_headers)``.

    The conformance kit (:mod:`connectors.testing`) checks that a connector whose configuration has
    ``context_headers`` sends what it says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context_headers: dict[ContextField, str] = Field(
        default_factory=lambda: dict(DEFAULT_CONTEXT_HEADERS),  # type: ignore[arg-type]
        title="Context headers",
        description=(
            "Request context field -> the HTTP header that carries it on every call to the sector system (reads, "
            "searches, submissions, health checks): request_id, client_id, agency_code, purpose, actor, "
            "traceparent, tracestate, deadline (milliseconds left). By default the request id and the W3C trace "
            "context; {} forwards nothing. A field without a value in a call is left out."
        ),
    )

    @field_validator("context_headers", mode="before")
    @classmethod
    def _decode_context_headers(cls, value: object) -> object:
        # Given as an environment variable, the mapping is JSON text.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("context_headers is a JSON object of context field -> header name") from None
        return value

    @field_validator("context_headers")
    @classmethod
    def _check_context_headers(cls, value: dict[ContextField, str]) -> dict[ContextField, str]:
        check_context_headers(value)
        return value
