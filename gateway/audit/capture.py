"""The audit hook of the request middleware: an audited exchange's answer is held until its event is committed.

Audited: every request to a data route (a route carrying ``metric_labels``, i.e. ``(database, operation)``),
allowed or refused, answered by the route or before any route was found (a body too large, malformed JSON: the
gateway's lookup of its data routes, :data:`DataLabels`, names the route asked for); every request under
``/v1/admin`` (operation ``admin``) and ``/v1/audit`` (``audit``); the token endpoint (``token``). Not the health,
metrics, documentation or problem routes.

The response start and body are buffered (the gateway's answers are small JSON documents), the body's SHA-256
computed, the event handed to the writer and its commit awaited; only then is the answer sent. If the event
cannot be committed the caller gets a 503 problem instead: no answer leaves unaudited. An admin request that changed
something holds its transaction open (``held`` in the request state): its event is appended in that transaction
and both are committed, or neither (a 503 then says the change was not made).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

import orjson
from starlette.types import Message, Receive, Scope, Send

from gateway.audit.administration import describe_request
from gateway.audit.events import EVERY_FIELD, PendingEvent, outcome_of
from gateway.core.problems import (
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    AuditUnavailable,
    ExchangeUnavailable,
    Problem,
    problem_response,
)
from gateway.identity.access import HEADER_VALUE

if TYPE_CHECKING:
    from gateway.audit.writer import AuditWriter
    from gateway.identity.request_state import RequestState

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
_PREFIXES = (("/v1/admin", "admin"), ("/v1/audit", "audit"), ("/v1/receipts", "receipt"))
_MAX_FORM_BYTES = 16_384
#: The operations whose request body's start is kept: the token endpoint's form (the client it claims) and the admin
#: API's JSON (the client a refused creation named).
_KEPT_BODIES = frozenset({"token", "admin"})
_MAX_PROBLEM_BYTES = 65_536
_MAX_REASON = 64
#: The operation of the submission routes (``POST /v1/databases/{id}/records``).
SUBMIT = "submit"
#: The ``(database, operation)`` of the data route a request asks for, ``None`` when it asks for none: how a
#: request answered before routing is told to be a data request (given by the application, which knows its routes).
DataLabels = Callable[[Scope], "tuple[str, str] | None"]
_UNKNOWN: Any = object()


def audited_operation(path: str) -> str | None:
    """The audit operation of a path known before routing (``token``, ``admin``, ``audit``, ``receipt``: a
    submission's receipt names the records it changed), ``""`` for the
    data routes (their route says which), ``None`` for paths that are never audited."""
    if path.startswith("/v1/databases/"):
        return ""
    if path == TOKEN_PATH:
        return "token"
    for prefix, operation in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return operation
    return None


def audit_exchange(
    scope: Scope, receive: Receive, send: Send, request: RequestState, data_labels: DataLabels | None = None
) -> AuditedExchange | None:
    """The audit hook for this request (whose state is ``request``), or ``None`` when it is not audited (or
    auditing is off). ``data_labels`` names the data route of a request answered before routing."""
    operation = audited_operation(scope["path"])
    if operation is None:
        return None
    state: Any = getattr(getattr(scope.get("app"), "state", None), "gateway", None)
    if state is None or not state.settings.audit_enabled:
        return None
    return AuditedExchange(
        state.audit, scope, receive, send, request=request, operation=operation, data_labels=data_labels
    )


def _identifier(value: object) -> str | None:
    """A client id, purpose or actor fit to be recorded (1-64 sane characters), else ``None``."""
    return value if isinstance(value, str) and HEADER_VALUE.fullmatch(value) else None


def _claimed_client(authorization: bytes | None, form: bytes, content_type: bytes | None) -> str | None:
    """The client id a token request claims: HTTP Basic, else the form's ``client_id``, else the ``sub`` of a
    client assertion (unverified: it is recorded as claimed, the outcome says whether it was accepted)."""
    claimed: object = None
    if authorization and authorization[:6].lower() == b"basic ":
        try:
            claimed = unquote_plus(
                base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")[0]
            )
        except (binascii.Error, ValueError):
            return None
    elif content_type and content_type.lower().startswith(b"application/x-www-form-urlencoded"):
        # However many fields the form holds (the token endpoint reads up to a thousand; its body is bounded):
        # read as the endpoint reads them, the last of a repeated field kept, an empty one absent.
        fields = dict(parse_qsl(form.decode("latin-1")))
        claimed = fields.get("client_id") or _assertion_subject(fields.get("client_assertion", ""))
    return _identifier(claimed)


def _assertion_subject(assertion: str) -> object:
    """The (unverified) ``sub`` claim of a client assertion."""
    if assertion.count(".") != 2:
        return None
    claims_part = assertion.split(".")[1]
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(claims_part + "=" * (-len(claims_part) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims.get("sub") if isinstance(claims, dict) else None


def _problem_reason(body: bytes) -> str | None:
    """The problem type slug of an error answer (``invalid-token``, ``oauth-error:invalid_client``, ...)."""
    if len(body) > _MAX_PROBLEM_BYTES:
        return None
    try:
        problem = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(problem, dict) or not isinstance(problem.get("type"), str):
        return None
    slug = problem["type"].removeprefix(PROBLEM_BASE)
    error = problem.get("error")
    if isinstance(error, str) and error.isidentifier():
        slug = f"{slug}:{error}"
    return slug[:_MAX_REASON] if HEADER_VALUE.fullmatch(slug[:_MAX_REASON]) else None


def _granted_fields(fields: frozenset[str] | None) -> tuple[str, ...]:
    """The fields an allowed data exchange's grants cover, sorted (:data:`EVERY_FIELD` for every field)."""
    return (EVERY_FIELD,) if fields is None else tuple(sorted(fields))


class AuditedExchange:
    """Wraps one request's ``receive`` and ``send``: see the module's description."""

    __slots__ = (
        "_body",
        "_data_labels_of",
        "_form",
        "_form_kept",
        "_labels",
        "_receive",
        "_send",
        "_start",
        "began",
        "occurred_at",
        "operation",
        "request",
        "scope",
        "writer",
    )

    def __init__(
        self,
        writer: AuditWriter | None,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        request: RequestState,
        operation: str,
        data_labels: DataLabels | None = None,
    ) -> None:
        self.writer = writer
        self.scope = scope
        self.request = request
        self.operation = operation
        self.occurred_at = datetime.now(UTC)
        self.began = time.perf_counter()
        self._receive = receive
        self._send = send
        self._start: Message | None = None
        self._body: list[bytes] = []
        self._form = b""
        self._form_kept = False
        self._data_labels_of = data_labels
        self._labels: tuple[str, str] | None = _UNKNOWN

    async def receive(self) -> Message:
        """The request's messages; the token endpoint's (small, form) body is kept to tell the client id: its
        first :data:`_MAX_FORM_BYTES`, whole fields only (a field cut short could name another client); an admin
        request's, to tell the client a refused creation named, unless it is longer than that."""
        message = await self._receive()
        if self.operation in _KEPT_BODIES and message["type"] == "http.request" and not self._form_kept:
            self._form += message.get("body", b"")
            if len(self._form) > _MAX_FORM_BYTES:
                cut = self._form.rfind(b"&", 0, _MAX_FORM_BYTES + 1) + 1 if self.operation == "token" else 0
                self._form = self._form[:cut]
                self._form_kept = True
        return message

    async def send(self, message: Message) -> None:
        """Hold an audited answer until its event is committed; pass anything else through."""
        kind = message["type"]
        if kind == "http.response.start":
            # A new start replaces a held, unfinished answer: the middleware is answering a failure instead.
            self._start, self._body = (message, []) if self._audited() else (None, [])
            if self._start is None:
                await self._send(message)
            return
        if self._start is None or kind != "http.response.body":
            await self._send(message)
            return
        self._body.append(message.get("body", b""))
        if not message.get("more_body", False):
            await self._finish(self._start, b"".join(self._body))

    def _audited(self) -> bool:
        return self.operation != "" or self._data_labels() is not None

    def _submission(self) -> bool:
        labels = self._data_labels() if self.operation == "" else None
        return labels is not None and labels[1] == SUBMIT

    def _data_labels(self) -> tuple[str, str] | None:
        """The ``(database, operation)`` of the data route asked for: the routed one, or, for an answer given
        before routing (a body too large, malformed JSON), the one the application's lookup names. Known once
        the answer starts (the route, if any, was found by then)."""
        if self._labels is _UNKNOWN:
            labels: tuple[str, str] | None = getattr(self.scope.get("route"), "metric_labels", None)
            if labels is None and self._data_labels_of is not None:
                labels = self._data_labels_of(self.scope)
            self._labels = labels
        return self._labels

    async def _finish(self, start: Message, body: bytes) -> None:
        self._start, self._body = None, []
        held, self.request.held = self.request.held, None
        try:
            event = self._event(start["status"], start.get("headers", ()), body)
            if held is not None and start["status"] < 400:  # an admin change: committed with its event, or not at all
                await held.commit_with(event)
            else:
                if held is not None:  # refused: whatever the route did is undone
                    await held.drop()
                if self.writer is None:
                    raise AuditUnavailable
                await self.writer.append(event)
        except AuditUnavailable as problem:
            # A submission's client retries with its Idempotency-Key, whichever record failed to be written: it
            # gets the one problem type that says so (its operations, if stored, are answered with their receipt).
            withheld: Problem = ExchangeUnavailable() if self._submission() else problem
            response = problem_response(withheld, instance=self.scope.get("path"), scope=self.scope)
            await response(self.scope, self._receive, self._send)
            return
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})

    def _event(self, status: int, headers: Any, body: bytes) -> PendingEvent:
        request = self.request
        labels = self._data_labels() if self.operation == "" else None
        database, operation = labels if labels is not None else (None, self.operation)
        principal = request.principal
        # The client of a verified token, even when it was refused afterwards (suspended, rate-limited).
        client_id = principal.client_id if principal is not None else _identifier(request.token_client)
        decision = request.decision
        if decision is not None:
            purpose, actor = decision.purpose, decision.actor
        else:
            purpose, actor = self._stated()
        if operation == "token" and client_id is None:
            client_id = self._token_client()
        reason = None
        if status >= 400:
            content_type = next((v for k, v in headers if k == b"content-type"), b"")
            if content_type.startswith(PROBLEM_MEDIA_TYPE.encode()):
                reason = _problem_reason(body)
            detail = request.problem_reason
            if reason is not None and detail is not None:
                precise = f"{reason}:{detail}"[:_MAX_REASON]
                reason = precise if HEADER_VALUE.fullmatch(precise) else reason
        event = PendingEvent(
            occurred_at=self.occurred_at,
            request_id=request.request_id,
            client_id=client_id,
            actor=actor,
            purpose=purpose,
            database=database,
            operation=operation,
            record_ids=self._record_ids(status),
            outcome=outcome_of(status),
            status=status,
            reason=reason,
            latency_ms=round((time.perf_counter() - self.began) * 1000, 3),
            response_sha256=hashlib.sha256(body).hexdigest(),
            fields=self._fields(status),
        )
        if operation == "admin":  # what the administrator did, or asked for: work for the admin API only
            return describe_request(event, self.scope, request, self._form)
        return event

    def _fields(self, status: int) -> tuple[str, ...] | None:
        """The fields an allowed data exchange touched: those a submission wrote, else those the grant covers."""
        decision = self.request.decision
        if decision is None or status >= 400:
            return None
        written = self.request.written_fields
        return tuple(written) if written is not None else _granted_fields(decision.fields)

    def _record_ids(self, status: int) -> tuple[str, ...]:
        """The records the exchange touched, as its route named them; for a read refused before its route named
        one (no grant, no purpose stated, a client suspended), the record it asked for, when it is an identifier:
        an attempt on a citizen's record is found by the citizen's question as the reads allowed are."""
        if self.request.record_ids or status < 400 or self.operation != "":
            return tuple(str(r) for r in self.request.record_ids)
        labels, path_params = self._data_labels(), self.scope.get("path_params")
        if labels is None or labels[1] != "read" or not isinstance(path_params, dict) or len(path_params) != 1:
            return ()
        # A read's only path parameter is the record's key (named after the contract's key field).
        asked = _identifier(next(iter(path_params.values())))
        return () if asked is None else (asked,)

    def _header(self, name: bytes) -> bytes | None:
        for key, value in self.scope["headers"]:
            if key == name:
                return bytes(value)
        return None

    def _stated(self) -> tuple[str | None, str | None]:
        """The purpose and actor a refused request stated (when well-formed)."""
        purpose, actor = self._header(b"x-purpose"), self._header(b"x-actor-id")
        return (
            _identifier(purpose.decode("latin-1")) if purpose else None,
            _identifier(actor.decode("latin-1")) if actor else None,
        )

    def _token_client(self) -> str | None:
        return _claimed_client(self._header(b"authorization"), self._form, self._header(b"content-type"))
