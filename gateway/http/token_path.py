"""The lean path of the token endpoint, ``POST /oauth/token`` with a form-urlencoded body.

FastAPI finds the route by trying each in turn, solves its dependencies and reads its six form fields and a
header through its generic machinery on every request: for the token endpoint that cost more than the token
itself (authentication, failure counts, signing). This plain ASGI middleware, the innermost of the gateway's
(inside the request id, metrics, audit hook, body limit, deadline and the read path's own lean path), reads the
form as Starlette's parser does (fields split on ``&``, ``+`` and percent escapes decoded, the last of a repeated
field kept and the repetition noted, an empty value absent) and answers with
:func:`gateway.http.routes.oauth.token_answer`, the route's own
code. Errors become problem details through the application's own exception handlers.

The FastAPI route stays registered: it documents the operation in the OpenAPI document, serves the bodies this
path leaves to it (``multipart/form-data``, no form at all, more fields than Starlette's parser accepts, a body
cut short by the client going away), and is what the metrics and the audit trail name (``scope["route"]``).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import orjson
from python_multipart.multipart import parse_options_header
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.routes.oauth import FORM_FIELDS, TOKEN_HEADERS, TokenForm, router, token_answer

if TYPE_CHECKING:
    from gateway.http.state import GatewayState

PATH = "/oauth/token"
#: Starlette's form parser refuses more fields than this, or a field longer than that (400): left to it.
_MAX_FIELDS = 1000
_MAX_FIELD_BYTES = 1024 * 1024
_FIELDS = frozenset(FORM_FIELDS)
_JSON_HEADERS = [(b"content-type", b"application/json"), *TOKEN_HEADERS]

#: An exception handler as the application keeps them (a coroutine function, or a plain one).
ExceptionHandler = Callable[[Request, Any], Any]


@lru_cache(maxsize=64)
def _is_form(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is ``application/x-www-form-urlencoded`` as Starlette decides it."""
    return parse_options_header(content_type)[0] == b"application/x-www-form-urlencoded"


def read_form(body: bytes) -> TokenForm | None:
    """The token request's fields in a form-urlencoded ``body``, as Starlette's parser and FastAPI's ``Form``
    read them; ``None`` when the body has more fields, or a longer one, than that parser accepts."""
    if len(body) > _MAX_FIELD_BYTES:
        return None
    if body.count(b"&") >= _MAX_FIELDS:
        chunks = [chunk for chunk in body.split(b"&") if chunk]
        if len(chunks) > _MAX_FIELDS:
            return None
    values: dict[str, str | None] = {}
    repeated: str | None = None
    for chunk in body.split(b"&"):
        if not chunk:
            continue
        raw_name, _, raw_value = chunk.partition(b"=")
        name = unquote_plus(raw_name.decode("latin-1"))
        if name in _FIELDS:
            if name in values and repeated is None:
                repeated = name
            value = unquote_plus(raw_value.decode("latin-1"))
            values[name] = value or None  # an empty field is an absent one (FastAPI's Form)
    return TokenForm(**values, repeated=repeated)


def _request_headers(scope: Scope) -> tuple[bytes | None, str | None, int]:
    """The ``Content-Type`` and the first ``Authorization`` of a request (as FastAPI reads them), and how many
    ``Authorization`` headers it has."""
    content_type: bytes | None = None
    authorization: str | None = None
    authorizations = 0
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is None:
                content_type = value
        elif name == b"authorization":
            authorizations += 1
            if authorization is None:
                authorization = value.decode("latin-1")
    return content_type, authorization, authorizations


class TokenPathMiddleware:
    """See the module's documentation."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: GatewayState,
        exception_handlers: Mapping[Any, ExceptionHandler],
    ) -> None:
        self.app = app
        self.state = state
        self._route: Any = next(r for r in router.routes if getattr(r, "path", None) == PATH)
        self._handlers = exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            content_type, authorization, authorizations = _request_headers(scope)
            if content_type is not None and _is_form(content_type):
                body, last = await _read_body(receive)
                # A client gone before its body was whole is left to the route, which sees it go.
                form = read_form(body) if last["type"] == "http.request" else None
                if form is not None:
                    if form.repeated is None and authorizations > 1:
                        form = dataclasses.replace(form, repeated="Authorization")
                    await self._token(form, authorization, scope, receive, send)
                    return
                receive = _replay(body, last, receive)
        await self.app(scope, receive, send)

    async def _token(
        self, form: TokenForm, authorization: str | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        route = self._route
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        client = scope.get("client")
        try:
            answer = await token_answer(
                self.state, form, authorization=authorization, address=client[0] if client else None
            )
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            request = Request(scope, receive, send)
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)
            return
        body = orjson.dumps(
            {
                "access_token": answer.access_token,
                "token_type": "Bearer",
                "expires_in": answer.expires_in,
                "scope": answer.scope,
            }
        )
        headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _handler(self, exc: Exception) -> ExceptionHandler | None:
        """The application's handler of ``exc`` (the most specific class first, as Starlette looks it up)."""
        for cls in type(exc).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                return handler
        return None


async def _read_body(receive: Receive) -> tuple[bytes, Message]:
    """The whole body (the request limits have bounded it), and the last message received."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), message


def _replay(body: bytes, last: Message, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` (already read) to the application, then reads on."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return last if last["type"] != "http.request" else {**last, "body": body, "more_body": False}

    return replay
