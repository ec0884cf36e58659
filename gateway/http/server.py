"""The HTTP server the gateway ships (``gateway serve``, ``gateway demo``): uvicorn with httptools, plus the
limits on a request's head that uvicorn lacks.

uvicorn waits for a request's headers as long as the client keeps the connection open, and httptools accepts any
number of header lines of any size: 300 sockets sending a header byte every few seconds hold 300 connections
forever (slowloris), and one megabyte of headers is parsed and handed to the application. :class:`LimitedHttpTools`
adds, per connection:

* a **deadline for the request head**: from the connection's start (or from the first byte of the next request on
  a kept-alive connection) to the end of its headers. Past it the connection is answered ``408`` and closed;
* a cap on the **number of header lines** and on the **size of the head** (request line and headers, counted as
  they arrive, so that an oversize head is refused before it is read whole): ``431`` and the connection closed.

Both answers are problem details (``/problems/request-timeout``, ``/problems/header-fields-too-large``), written
directly on the socket: the application never sees such a request. Between requests on a kept-alive connection,
uvicorn's ``timeout_keep_alive`` closes an idle connection (with one timer a connection, where uvicorn sets one a
request).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.core import metrics
from gateway.core.i18n import language_of_headers
from gateway.core.logs import get_logger
from gateway.core.problems import HeaderFieldsTooLarge, Problem, RequestTimeout
from gateway.core.settings import Settings

log = get_logger(__name__)

#: How long a refused connection keeps draining what its client still sends before it is closed.
LINGER_SECONDS = 2.0
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """The limits on a request's head (see the ``header_*`` settings)."""

    read_timeout_seconds: float = 10.0
    max_count: int = 100
    max_bytes: int = 16_384

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        """The limits of the ``header_read_timeout_seconds``, ``max_header_count`` and ``max_header_bytes``
        settings."""
        return cls(settings.header_read_timeout_seconds, settings.max_header_count, settings.max_header_bytes)


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a head over the limits."""


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for the request head and caps on its lines and size."""

    def __init__(self, *args: Any, limits: HeadLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or HeadLimits()
        self._awaiting_head = True  # between the end of a head and the next request's first byte: False
        self._head_bytes = 0
        self._head_count = 0
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_began = 0.0  # on the loop's clock: when the awaited head's first byte arrived
        self._idle_since: float | None = None  # on the loop's clock: when the last answer left, if none is awaited
        self._refused = False

    # -- the deadline -------------------------------------------------------------------------------------------

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._head_deadline = self.loop.call_later(self.limits.read_timeout_seconds, self._head_timed_out)

    def _disarm_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self._awaiting_head and not self.transport.is_closing():
            seconds = self.limits.read_timeout_seconds
            self._refuse(RequestTimeout(f"The request's headers did not arrive within {seconds:g} s."), "timeout")

    # -- the connection ------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    # -- keep-alive: one timer a connection, not one a request ---------------------------------------------------
    # uvicorn cancels its keep-alive timer whenever data arrives and sets a new one after every answer. Here the
    # timer, once set, stays: when it fires, it closes the connection if it has been idle for ``timeout_keep_alive``
    # since its last answer, else it is set again for then (or, while a request is in progress, by its answer).

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._idle_since = None
        self.flow.resume_reading()  # reading may have been paused for pipelined requests
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_at(
                self._idle_since + self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None:
            return  # a request is in progress: its answer sets the timer again
        closes_at = self._idle_since + self.timeout_keep_alive
        if self.loop.time() >= closes_at:
            super().timeout_keep_alive_handler()
        else:
            self.timeout_keep_alive_task = self.loop.call_at(closes_at, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # what follows a refused head is read and dropped until the connection closes
        if self._awaiting_head:
            self._head_bytes += len(data)
        # uvicorn's data_received, but a head refused by a parser callback (raised as the parser's callback
        # error) was answered already: uvicorn would log it as an invalid request and answer 400 on the closed
        # connection (a traceback at error level, for any client to repeat).
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadRefused):
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._awaiting_head and not self.transport.is_closing():
            if self._head_bytes > self.limits.max_bytes:
                # Still inside the head, and already over the limit: refuse before reading the rest.
                self._refuse(self._too_large(), "too_large")
            elif self._head_deadline is None:
                # A head that did not arrive whole: its deadline runs from its first byte.
                self._head_deadline = self.loop.call_at(
                    self._head_began + self.limits.read_timeout_seconds, self._head_timed_out
                )

    # -- parser callbacks ---------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._awaiting_head:
            # The next request on a kept-alive connection: its head has its deadline, armed only if the head is
            # still incomplete once this data is parsed (most heads arrive whole: no timer to set and cancel).
            self._awaiting_head = True
            self._head_bytes = 0
            self._head_began = self.loop.time()
        self._head_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_count += 1
        if self._head_count > self.limits.max_count:
            problem = HeaderFieldsTooLarge(f"A request may carry at most {self.limits.max_count} header lines.")
            self._refuse(problem, "too_many_headers")
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        head = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if head > self.limits.max_bytes:
            self._refuse(self._too_large(), "too_large")
            raise _HeadRefused
        self._awaiting_head = False
        self._head_bytes = 0
        self._disarm_deadline()
        super().on_headers_complete()

    # -- refusing -----------------------------------------------------------------------------------------------

    def _too_large(self) -> Problem:
        return HeaderFieldsTooLarge(f"A request's headers may take at most {self.limits.max_bytes} bytes.")

    def _refuse(self, problem: Problem, reason: str) -> None:
        """Answer ``problem`` and close the connection (nothing of the request reaches the application)."""
        self._disarm_deadline()
        self._awaiting_head = False
        metrics.HTTP_HEADS_REFUSED.labels(reason).inc()
        log.debug("request head refused", status=problem.status, reason=reason)
        language = language_of_headers(self.headers or ())  # the headers read before the refusal
        payload = orjson.dumps(problem.body(language=language))
        lines = [b"HTTP/1.1 %d %s\r\n" % (problem.status, _REASONS.get(problem.status, b"Error"))]
        lines += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: application/problem+json\r\n",
            b"content-language: %s\r\nvary: Accept-Language\r\n" % language.encode(),
            b"content-length: %d\r\n" % len(payload),
            b"connection: close\r\n\r\n",
            payload,
        ]
        self._refused = True
        self.transport.write(b"".join(lines))
        # Close our side once the answer is sent, but keep reading (and dropping) what the client still sends for
        # a moment: closing with unread data would reset the connection and the client might lose the answer.
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


def protocol_for(settings: Settings) -> Any:
    """The protocol factory uvicorn's ``http`` option takes: :class:`LimitedHttpTools` with the settings' limits
    (picklable, for ``--workers``)."""
    return functools.partial(LimitedHttpTools, limits=HeadLimits.from_settings(settings))


def uvicorn_options(settings: Settings, *, host: str, port: int, workers: int = 1) -> dict[str, Any]:
    """The options the gateway's own server runs uvicorn with (``gateway serve``, ``gateway demo``)."""
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "http": protocol_for(settings),
        "log_config": None,
        "access_log": False,
        "server_header": False,
        # X-Forwarded-For believed only from the proxies the operator names (uvicorn believes 127.0.0.1 by
        # default: any local process could then choose the address the token lockouts count).
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
    }
