"""What the gateway learns about one request while answering it, in one typed object.

:class:`RequestState` is made once per request by the outermost middleware
(:class:`gateway.http.middleware.RequestContextMiddleware`, with :func:`start_request_state`), kept in the ASGI scope
under one key, and reached through :func:`request_state` (from a middleware with its ``scope``, from a route or
a dependency with ``request.scope``). It replaces Starlette's string-keyed ``request.state``: the gateway
neither reads nor writes that (``tests/gateway/test_request_state.py`` checks it).

Who writes and who reads each field:

* ``request_id``, ``trace``: the request middleware; read by the audit hook (the id), the connector context
  (:func:`gateway.records.context.request_context`) and the readiness probe;
* ``deadline``: the request limits middleware; read by the connector context and the readiness probe;
* ``rate_limit``: :func:`gateway.http.deps.authorize` (once per request); read by the request limits middleware
  (the ``RateLimit-*`` headers);
* ``token_client``: :func:`gateway.http.deps.authorize`, as soon as the token is verified; read by the audit hook
  (a request refused afterwards, rate-limited or of a suspended client, is recorded with its client);
* ``principal``, ``access``: :func:`gateway.http.deps.authorize`; read by the audit hook (the principal), the grant
  decision, the connector context and ``GET /v1/services`` (the access);
* ``decision``: :func:`gateway.http.deps.decide_data_access`; read by the audit hook and the connector context;
* ``record_ids``: the data, submission, feed, receipt and audit routes; read by the audit hook;
* ``written_fields``: the submission route; read by the audit hook;
* ``problem_reason``: the problem handler (:mod:`gateway.core.problems`); read by the audit hook;
* ``admin``: the admin routes (what they changed, or the client they resolved); read by the audit hook, for the
  requests under ``/v1/admin`` only;
* ``held``: the session of an admin change (:func:`gateway.http.deps.get_admin_session`), its transaction held
  open; committed with the change's audit event by the audit hook, or rolled back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.types import Scope

    from gateway.core.tracing import RequestTrace
    from gateway.identity.access import ClientAccess, Decision
    from gateway.identity.ratelimits import RateLimitStatus
    from gateway.identity.tokens import Principal

__all__ = ["AdminDescriptor", "HeldChange", "RequestState", "request_state", "start_request_state"]

#: The key of the ASGI scope that holds a request's :class:`RequestState`.
_SCOPE_KEY = "gateway.identity.request_state"


@dataclass(frozen=True, slots=True)
class AdminDescriptor:
    """What an administrator did, for the audit trail (built by :mod:`gateway.audit.administration`)."""

    action: str
    """``grant.add``, ``client.suspend``, ``key.revoke``...: the names of :mod:`gateway.audit.administration`."""
    target_client: str | None = None
    """The client acted on (or asked to be), when there is one."""
    change: dict[str, Any] | None = None
    """What changed, as identifiers only (ids, database, operations, field names, purposes, scopes)."""


class HeldChange(Protocol):
    """An admin change not yet committed (:class:`gateway.audit.administration.HeldChange`): the audit hook commits
    it with its event, or drops it."""

    async def commit_with(self, event: Any) -> None:
        """Append ``event`` (a :class:`gateway.audit.events.PendingEvent`) in the change's transaction and commit
        both; raises :class:`gateway.core.problems.AuditUnavailable`, nothing changed, when either fails."""

    async def drop(self) -> None:
        """Roll the change back: the request was refused."""

    def after_commit(self, action: Callable[[Any], Awaitable[None]]) -> None:
        """Run ``action`` (given the event) once the change is committed."""


@dataclass(slots=True)
class RequestState:
    """One request as the gateway has come to know it (see the module's table for who writes each field)."""

    request_id: str
    """The request's id: the caller's ``X-Request-Id`` when sane, else a new one; echoed in the answer."""
    trace: RequestTrace
    """The gateway's span of the request, in the caller's W3C trace (or a new one)."""
    deadline: float | None = None
    """When the gateway stops waiting for the request's calls to connectors (``time.monotonic()``)."""
    rate_limit: RateLimitStatus | None = None
    """The calling client's rate-limit windows after this request, once counted: the ``RateLimit-*`` headers."""
    token_client: str | None = None
    """The client a verified token acts for, once its signature and claims are checked: before the client's live
    state, rate limit and scopes are, so it names the client of a request refused by those too. Says who asked,
    never that the request is allowed (that is ``principal``)."""
    principal: Principal | None = None
    """The authenticated caller (its token's client and scopes), once the token is accepted."""
    access: ClientAccess | None = None
    """The calling client's live state (status, scopes, grants), once the token is accepted."""
    decision: Decision | None = None
    """The grant decision of a data request: client, purpose, actor, fields."""
    record_ids: Sequence[str] = ()
    """The records (data subjects) the request touched, for the audit trail."""
    written_fields: Sequence[str] | None = None
    """The fields a submission wrote, for the audit trail in place of every field its grant covers."""
    problem_reason: str | None = None
    """The precise reason of a refusal (``expired``, ``replayed_assertion``...): for the audit trail only."""
    admin: AdminDescriptor | None = None
    """What an admin request did or asked for (its action, the client it concerns, what changed): for the audit
    trail only, set by the admin routes."""
    held: HeldChange | None = None
    """An admin change's open transaction, committed by the audit hook with the change's event (or dropped)."""


def start_request_state(scope: Scope, request_id: str, trace: RequestTrace) -> RequestState:
    """The state of a new request, kept in its ``scope`` (by the request middleware, before anything else runs)."""
    state = scope[_SCOPE_KEY] = RequestState(request_id, trace)
    return state


def request_state(scope: Scope) -> RequestState:
    """The state of the request of ``scope`` (see :func:`start_request_state`)."""
    state: RequestState = scope[_SCOPE_KEY]
    return state
