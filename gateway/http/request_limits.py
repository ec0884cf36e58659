"""The limits every request runs under: body size (413), strict JSON bodies (400), each query parameter once (400),
a deadline (504), and the client's ``RateLimit-*`` headers on the answer.

One plain ASGI middleware, inside :class:`~gateway.http.middleware.RequestContextMiddleware` (so its answers carry
the request id and are counted), outside FastAPI's routing.

The body is read here, up to ``max_body_bytes``, before the application sees it: an oversize body is refused
without reading further, whether its ``Content-Length`` says so or it streams past the limit. (FastAPI's own
``max_body_size`` answers a declared oversize body with a plain-text 413 that no exception handler reaches.)
A request carries one ``Content-Type`` at most (400 otherwise: parsers disagree on which of two to follow). A JSON
body of a POST, PUT or PATCH must be strict JSON (:mod:`gateway.core.strict_json`); FastAPI then reads it
again, which costs about a microsecond for a query-sized body.

The deadline covers the whole exchange, body included; past it the request's task is cancelled, which cancels
the work it awaits (a sector database's query: asyncpg cancels it on the server, SQLite is interrupted).
"""

from __future__ import annotations

import asyncio
import email.message
import re
import time
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core import strict_json
from gateway.core.logs import get_logger
from gateway.core.problems import (
    BadRequest,
    ContentTooLarge,
    DeadlineExceeded,
    MalformedJson,
    Problem,
    problem_response,
)
from gateway.identity.request_state import request_state

log = get_logger(__name__)

_JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})


@lru_cache(maxsize=256)
def _is_json(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is JSON the way FastAPI decides it (``application/json``, ``*/*+json``)."""
    message = email.message.Message()
    message["content-type"] = content_type.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _repeated_parameter(query: bytes) -> Problem | None:
    """A 400 for a query that gives one parameter twice (``?client=a&client=b``). No route takes a list in its
    query, and which value counts is a parser's choice (FastAPI's the last; a proxy, a log or a WAF may read the
    first): an audit search or a filter is asked with one value, or refused."""
    if not query:
        return None
    seen: set[str] = set()
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            if _NAME.fullmatch(name):
                return BadRequest(f"The query parameter {name} is repeated: send it once.")
            return BadRequest("A query parameter is repeated: send each once.")
        seen.add(name)
    return None


class _TooLarge(Exception):
    pass


class RequestLimitsMiddleware:
    """See the module's documentation."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, deadline_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.deadline_seconds = deadline_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        request = request_state(scope)

        async def send_with_limits(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status = request.rate_limit
                if status is not None:
                    message.setdefault("headers", []).extend(status.raw_headers())
            await send(message)

        problem: Problem | None = None
        # When the gateway stops waiting (time.monotonic()): the deadline of the request's calls to connectors.
        request.deadline = time.monotonic() + self.deadline_seconds
        try:
            async with asyncio.timeout(self.deadline_seconds) as deadline:
                problem = _repeated_parameter(scope["query_string"])
                if problem is None:
                    problem, receive = await self._check_body(scope, receive)
                if problem is None:
                    await self.app(scope, receive, send_with_limits)
        except TimeoutError:
            if not deadline.expired():
                raise
            route = getattr(scope.get("route"), "path", None)
            log.warning("request deadline exceeded", route=route, seconds=self.deadline_seconds, answered=started)
            if started:
                raise
            problem = DeadlineExceeded(f"No answer within {self.deadline_seconds:g} s.")
        if problem is not None:
            await problem_response(problem, instance=scope.get("path"), scope=scope)(scope, receive, send)

    async def _check_body(self, scope: Scope, receive: Receive) -> tuple[Problem | None, Receive]:
        """A problem with the body, or the ``receive`` that hands the (already read) body to the application."""
        length: int | None = None
        chunked = False
        content_type: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                if content_type is not None:
                    # One body, one type (RFC 9110's Content-Type is a single value). Parsers disagree on which
                    # of two to follow: Starlette the first, a proxy or this check perhaps the last.
                    return BadRequest("A request may carry one Content-Type header, not several."), receive
                content_type = value
        if length is not None and length > self.max_body_bytes:
            return ContentTooLarge(self.max_body_bytes), receive
        if not chunked and not length:
            return None, receive
        try:
            body, last = await self._read_body(receive)
        except _TooLarge:
            return ContentTooLarge(self.max_body_bytes), receive
        if body and scope["method"] in _JSON_METHODS and content_type and _is_json(content_type):
            try:
                strict_json.loads(body)
            except strict_json.StrictJsonError as exc:
                extensions: dict[str, Any] = {} if exc.key is None else {"key": exc.key}
                return MalformedJson(str(exc), **extensions), receive
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return last if last["type"] != "http.request" else {**last, "body": body, "more_body": False}

        return None, replay

    async def _read_body(self, receive: Receive) -> tuple[bytes, Message]:
        """The whole body, and the last message received (``http.disconnect`` when the client went away)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), message
