"""Misbehaving on demand, over real sockets: slow answers, 5xx, 401/403, 429, malformed bodies, bad records, resets,
hangs.

:class:`Misbehaviour` says what to do; :class:`Misbehaving` is the ASGI middleware that does it to a simulated
sector system's data routes (``/api/...`` by default), for the next ``times`` requests or until told otherwise.
Token endpoints and control routes always behave. A simulator honours ``violation`` itself: the middleware marks
the request (``scope["state"]["violation"]``) and the app answers with a record the contract rejects.

The middleware also records every request it sees, with its headers (:class:`RequestLog`, ``received``), so that
a test can tell what a connector sent: the request id, the trace context and the other forwarded context.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "MODES",
    "ASGIApp",
    "Misbehaving",
    "Misbehaviour",
    "MisbehaviourSwitch",
    "Mode",
    "ReceivedRequest",
    "RequestLog",
    "Scope",
    "reset_transport",
]

Mode = Literal["none", "slow", "error", "rate_limit", "malformed", "violation", "reset", "hang"]
MODES: tuple[Mode, ...] = ("none", "slow", "error", "rate_limit", "malformed", "violation", "reset", "hang")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The statuses of a refusal an ``error`` may answer besides the 5xx: the credentials refused, or the access.
_REFUSALS = frozenset({401, 403})

# Longest a "hang" holds a request when the client never goes away (a test that forgot its timeout).
_HANG_LIMIT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """What the data routes do.

    * ``slow``: answer normally after ``delay_ms``;
    * ``error``: answer ``status`` (a 5xx, or 401 or 403: the credentials refused, as after a key rotation) with
      an HTML error page that quotes the request path (and ``Retry-After: retry_after`` when set);
    * ``rate_limit``: answer 429 with ``Retry-After: retry_after``;
    * ``malformed``: answer 200 with a truncated JSON body;
    * ``violation``: answer normally, but every record carries an ethnic group code that does not exist;
    * ``reset``: reset the TCP connection (RST) without answering;
    * ``hang``: never answer (until the client gives up);

    ``delay_ms`` delays any mode (a slow error page, a slow reset...); ``times``: for the next N data requests
    only, then back to normal (``None``: until changed).
    """

    mode: Mode = "none"
    delay_ms: int = 0
    status: int = 503
    retry_after: int | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; one of {', '.join(MODES)}")
        if self.mode == "error" and not (500 <= self.status <= 599 or self.status in _REFUSALS):
            raise ValueError("an error status is 5xx, 401 or 403")
        if self.delay_ms < 0 or (self.times is not None and self.times < 1):
            raise ValueError("delay_ms >= 0 and times >= 1")


class MisbehaviourSwitch:
    """The current misbehaviour, shared by the server's thread and whoever controls it."""

    def __init__(self, initial: Misbehaviour | None = None) -> None:
        self._lock = threading.Lock()
        self._current = initial or Misbehaviour()
        self.requests = 0
        """Data requests received, whatever was done to them."""

    def set(self, misbehaviour: Misbehaviour) -> None:
        """Misbehave so from the next request on."""
        with self._lock:
            self._current = misbehaviour

    @property
    def current(self) -> Misbehaviour:
        """What is in force now."""
        with self._lock:
            return self._current

    def take(self) -> Misbehaviour:
        """What to do to the request arriving now (counting it against ``times``)."""
        with self._lock:
            self.requests += 1
            current = self._current
            if current.times is not None:
                left = current.times - 1
                self._current = replace(current, times=left) if left else Misbehaviour()
            return current


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the simulated system received it: method, path and headers (names in lower case; a header
    sent several times has its values joined with ``", "``)."""

    method: str
    path: str
    headers: Mapping[str, str]
    at: float = 0.0
    """When it arrived (``time.monotonic()``), so that tests can measure the rate of requests."""


class RequestLog:
    """The requests a simulated system received, oldest first, the last ``limit`` of them; shared by the server's
    thread and the test that reads it."""

    def __init__(self, limit: int = 1000) -> None:
        self._lock = threading.Lock()
        self._requests: deque[ReceivedRequest] = deque(maxlen=limit)

    def record(self, scope: Scope) -> None:
        """Note the request of ``scope``."""
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        with self._lock:
            self._requests.append(
                ReceivedRequest(scope.get("method", ""), scope.get("path", ""), headers, time.monotonic())
            )

    def requests(self) -> list[ReceivedRequest]:
        """Every request recorded, oldest first."""
        with self._lock:
            return list(self._requests)

    def headers(self) -> list[Mapping[str, str]]:
        """The headers of every request recorded, oldest first (what the conformance kit's ``received_headers``
        expects)."""
        return [request.headers for request in self.requests()]

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self._requests.clear()


Abort = Callable[[Scope], bool]


class Misbehaving:
    """ASGI middleware applying the switch's misbehaviour to requests whose path starts with ``prefix``.

    ``abort`` resets the connection of a request's scope (it needs the server's transports; see
    :class:`~simulators.http.server.SimulatorServer`); without it, ``reset`` closes the response abruptly.
    Every HTTP request, whatever its path, is recorded in ``received``.
    """

    def __init__(
        self,
        app: ASGIApp,
        switch: MisbehaviourSwitch,
        *,
        prefix: str = "/api/",
        malformed_body: bytes = b'{"ma_loi": "00", "du_lieu": {"so_dinh_danh": "0',
    ) -> None:
        self.app = app
        self.switch = switch
        self.prefix = prefix
        self.malformed_body = malformed_body
        self.abort: Abort | None = None
        self.received = RequestLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.received.record(scope)
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        todo = self.switch.take()
        if todo.delay_ms:
            await asyncio.sleep(todo.delay_ms / 1000)
        match todo.mode:
            case "error":
                page = f"<html><body><h1>{todo.status}</h1><p>Lỗi xử lý {scope['path']}</p></body></html>"
                extra = [(b"retry-after", str(todo.retry_after).encode())] if todo.retry_after is not None else []
                await _answer(send, todo.status, page.encode(), "text/html; charset=utf-8", extra=extra)
                return
            case "rate_limit":
                extra = [(b"retry-after", str(todo.retry_after).encode())] if todo.retry_after is not None else []
                await _answer(send, 429, b'{"ma_loi": "429", "thong_diep": "Qua nhieu yeu cau"}', extra=extra)
                return
            case "malformed":
                await _answer(send, 200, self.malformed_body)
                return
            case "violation":
                scope.setdefault("state", {})["violation"] = True
            case "reset":
                if self.abort is None or not self.abort(scope):
                    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
                    await send({"type": "http.response.body", "body": b"{", "more_body": False})
                await _wait_for_disconnect(receive, 5.0)
                return
            case "hang":
                await _wait_for_disconnect(receive, _HANG_LIMIT_SECONDS)
                return
        await self.app(scope, receive, send)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _wait_for_disconnect(receive: Receive, limit: float) -> None:
    try:
        async with asyncio.timeout(limit):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


def reset_transport(transport: Any) -> None:
    """Close ``transport``'s socket with an RST (SO_LINGER 0) instead of an orderly FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
