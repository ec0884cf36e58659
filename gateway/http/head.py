"""``HEAD`` on every ``GET`` route (RFC 9110, 9.3.2): the same status and headers as ``GET``, without the body.

FastAPI's routes answer only the methods they declare, so a monitor's ``curl -I /healthz`` or a client's ``HEAD``
on a record was a 405. This middleware hands a ``HEAD`` request to the application as a ``GET`` on a copy of the
scope: routing, the lean data path, authentication, rate limits, grants and the audit trail treat it as the read it
is (a ``HEAD`` on a record tells whether the record exists, so it is a read like any other). The server's own scope
keeps ``HEAD``, so uvicorn sends the headers, ``Content-Length`` included, and no body; and the outer middlewares
(request id, metrics, access log, audit hook) see ``HEAD`` with the route the application found, copied back to
their scope before the answer starts.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: What the routing of the ``GET`` sets in its scope, for the middlewares outside this one.
_ROUTED = ("route", "endpoint", "path_params")


class HeadAsGetMiddleware:
    """See the module's documentation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # A shallow copy: the request's state (gateway.identity.request_state) is the same object in both.
        inner = {**scope, "method": "GET"}

        def routed() -> None:
            for key in _ROUTED:
                if key in inner:
                    scope[key] = inner[key]

        async def send_routed(message: Message) -> None:
            if message["type"] == "http.response.start":
                routed()
            await send(message)

        try:
            await self.app(inner, receive, send_routed)
        finally:
            routed()
