"""The lean path of the hottest data route, ``GET /v1/databases/{id}/records/{key}``.

FastAPI finds a route by trying each in turn and solves the route's dependencies anew on every request; for the
read by key, the gateway's busiest route, that machinery cost more than the rest of the request together. This
plain ASGI middleware, the innermost of the gateway's (inside the request limits, so inside the request id,
metrics, audit hook, deadline and ``RateLimit-*`` headers), finds the database by its id in a dict and runs the
route's own checks directly: :func:`gateway.http.deps.authorize` (token, live client state, rate limit, scopes),
:func:`gateway.http.deps.decide_data_access` (grant, purpose, actor), then the route's endpoint (key validation,
connector call, field projection). Errors become problem details through the application's own exception
handlers. The FastAPI route stays registered: it documents the operation in the OpenAPI document, and is what the
metrics and the audit trail name (``scope["route"]``). A ``HEAD`` reaches this middleware as a ``GET``
(:mod:`gateway.http.head`).

Anything else (another method, another path shape, an unknown database) passes through to FastAPI unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.deps import authorize, decide_data_access

if TYPE_CHECKING:
    from fastapi.routing import APIRoute

    from gateway.http.state import GatewayState
    from gateway.identity.access import Decision

_PREFIX = "/v1/databases/"
_PREFIX_LENGTH = len(_PREFIX)

ReadEndpoint = Callable[[Request, "Decision", str], Awaitable[Response]]
ExceptionHandler = Callable[[Request, Any], "Response | Awaitable[Response]"]


@dataclass(frozen=True, slots=True)
class LeanRead:
    """The read-by-key route of one database, as the lean path serves it."""

    route: APIRoute
    database: str
    key_name: str
    scopes: tuple[str, ...]
    endpoint: ReadEndpoint


def _headers(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """The first ``Authorization``, ``X-Purpose`` and ``X-Actor-Id`` of a request (as FastAPI reads them)."""
    authorization = purpose = actor = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-purpose":
            if purpose is None:
                purpose = value.decode("latin-1")
        elif name == b"x-actor-id" and actor is None:
            actor = value.decode("latin-1")
    return authorization, purpose, actor


class DataPathMiddleware:
    """See the module's documentation. ``reads`` maps database ids to their lean read routes (filled as the
    application includes the database routers, after the middleware is declared)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: GatewayState,
        reads: Mapping[str, LeanRead],
        exception_handlers: Mapping[Any, ExceptionHandler],
    ) -> None:
        self.app = app
        self.state = state
        self._reads = reads
        self._handlers = exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            path: str = scope["path"]
            if path.startswith(_PREFIX):
                parts = path[_PREFIX_LENGTH:].split("/")
                if len(parts) == 3 and parts[1] == "records" and parts[2]:
                    read = self._reads.get(parts[0])
                    if read is not None:
                        await self._read(read, parts[2], scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _read(self, read: LeanRead, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = read.route
        scope["endpoint"] = read.route.endpoint
        scope["path_params"] = {read.key_name: key}
        request = Request(scope, receive, send)
        try:
            authorization, purpose, actor = _headers(scope)
            await authorize(request, self.state, authorization, read.scopes)
            decision = decide_data_access(request, read.database, "read", purpose, actor)
            response = await read.endpoint(request, decision, key)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> ExceptionHandler | None:
        """The application's handler of ``exc`` (the most specific class first, as Starlette looks it up)."""
        for cls in type(exc).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                return handler
        return None


def lean_reads(routes: Any) -> dict[str, LeanRead]:
    """The lean read routes among a router's ``routes``, by database id."""
    return {read.database: read for route in routes if (read := getattr(route, "lean_read", None)) is not None}


class DataRoutes:
    """The data routes of the databases the gateway serves (the routes carrying ``metric_labels``, i.e.
    ``(database, operation)``), by database id, from the routers the gateway builds: the lean reads of
    :class:`DataPathMiddleware`, and the data route a request is for before any route is found (a body too large,
    malformed JSON: refused by the request limits, outside FastAPI's routing), for the audit trail. Whatever
    FastAPI makes of the routers it includes, these are the gateway's own routes, looked up by database id."""

    def __init__(self) -> None:
        self.reads: dict[str, LeanRead] = {}
        self._routes: dict[str, list[tuple[BaseRoute, tuple[str, str]]]] = {}

    def add(self, routes: Iterable[BaseRoute]) -> None:
        """Register a database router's ``routes`` (as it is included in the application)."""
        routes = list(routes)
        for route in routes:
            labels: tuple[str, str] | None = getattr(route, "metric_labels", None)
            if labels is not None:
                self._routes.setdefault(labels[0], []).append((route, labels))
        self.reads.update(lean_reads(routes))

    def labels(self, scope: Scope) -> tuple[str, str] | None:
        """The ``(database, operation)`` of the data route ``scope`` asks for (by its path, whatever its method:
        a method the route does not take is refused on it), ``None`` when it asks for none."""
        path: str = scope["path"]
        if not path.startswith(_PREFIX):
            return None
        for route, labels in self._routes.get(path[_PREFIX_LENGTH:].partition("/")[0], ()):
            if route.matches(scope)[0] != Match.NONE:
                return labels
        return None
