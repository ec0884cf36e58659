"""Slow and oversize request heads, over real sockets, against the server the gateway ships (the uvicorn options
of ``gateway serve``): a head that does not arrive in time is answered 408 and its connection closed; too many
header lines or too many bytes of head are answered 431; ordinary requests are unaffected."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from support import LiveServer

from gateway.core import metrics
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.http.server import uvicorn_options

DEADLINE = 1.0
MAX_COUNT = 100
MAX_BYTES = 16_384


@pytest.fixture(scope="module")
def address(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, int]]:
    settings = make_settings(
        header_read_timeout_seconds=DEADLINE, max_header_count=MAX_COUNT, max_header_bytes=MAX_BYTES
    )
    options = uvicorn_options(settings, host="127.0.0.1", port=0)
    options.pop("workers")
    with LiveServer(create_app(settings), **options) as live:
        host, _, port = live.url.removeprefix("http://").rpartition(":")
        yield host, int(port)


def refused(reason: str) -> float:
    """Connections the server closed for their head, counted in its metrics (it runs in this process)."""
    value: float = metrics.HTTP_HEADS_REFUSED.labels(reason)._value.get()
    return value


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    return sock


def read_response(sock: socket.socket, limit: float = 10) -> bytes:
    """One whole response on a kept-alive connection: its head, then as many body bytes as it announces (the
    server may send the two in separate segments)."""
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, data
        body += chunk
    return head + b"\r\n\r\n" + body


def read_all(sock: socket.socket, limit: float = 10) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(limit)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def answer(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return status, headers, orjson.loads(body) if body else {}


def test_a_head_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(address: tuple[str, int]) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nUser-Agent: slow\r\nX-Padding: " + b"a" * 200
    timeouts = refused("timeout")
    sockets = [connect(address) for _ in range(30)]
    started = time.monotonic()
    closed: dict[int, float] = {}
    answers: dict[int, bytes] = {}
    for sock in sockets:
        sock.setblocking(False)
    position = 0
    while len(closed) < len(sockets) and time.monotonic() - started < DEADLINE * 5:
        for index, sock in enumerate(sockets):
            if index in closed:
                continue
            with contextlib.suppress(OSError):
                sock.send(request[position : position + 1])
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            answers[index] = answers.get(index, b"") + data
            if not data:
                closed[index] = time.monotonic() - started
        position += 1
        time.sleep(0.1)
    for sock in sockets:
        sock.close()
    assert len(closed) == len(sockets), "slow connections were left open"
    assert min(closed.values()) >= DEADLINE * 0.9
    assert max(closed.values()) < DEADLINE * 3
    for raw in answers.values():
        status, headers, body = answer(raw)
        assert status == 408
        assert headers["content-type"] == "application/problem+json"
        assert headers["connection"] == "close"
        assert body["type"] == "/problems/request-timeout"
    assert refused("timeout") >= timeouts + len(sockets)


def test_a_connection_that_sends_nothing_is_closed_after_the_deadline(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        started = time.monotonic()
        raw = read_all(sock)
        elapsed = time.monotonic() - started
    assert DEADLINE * 0.9 <= elapsed < DEADLINE * 3
    assert answer(raw)[0] == 408


def test_the_next_request_on_a_kept_alive_connection_has_its_own_deadline(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        first = read_response(sock)
        assert first.startswith(b"HTTP/1.1 200 ")
        time.sleep(DEADLINE * 0.6)  # longer than half a deadline, shorter than the keep-alive timeout
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        second = read_response(sock)
        assert second.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: ")  # and never finishes
        started = time.monotonic()
        raw = read_all(sock)
        assert time.monotonic() - started < DEADLINE * 3
    assert answer(raw)[0] == 408


def test_the_next_head_on_a_kept_alive_connection_trickling_in_is_cut_off_a_deadline_after_its_first_byte(
    address: tuple[str, int],
) -> None:
    with connect(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        request = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Padding: " + b"a" * 200
        sock.setblocking(False)
        started = time.monotonic()
        received = b""
        closed_after: float | None = None
        for byte in range(len(request)):
            with contextlib.suppress(OSError):
                sock.send(request[byte : byte + 1])  # each byte would restart a deadline counted per packet
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data is not None:
                received += data
                if not data:
                    closed_after = time.monotonic() - started
                    break
            if time.monotonic() - started > DEADLINE * 5:
                break
            time.sleep(0.05)
    assert closed_after is not None, "the trickling head was never cut off"
    assert DEADLINE * 0.9 <= closed_after < DEADLINE * 3
    assert answer(received)[0] == 408


def test_a_megabyte_header_is_refused_with_431(address: tuple[str, int]) -> None:
    with connect(address) as sock:
        head = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Big: " + b"b" * 1_048_576 + b"\r\n\r\n"
        with contextlib.suppress(OSError):  # refused before the client finished sending
            sock.sendall(head)
        raw = read_all(sock)
    status, _headers, body = answer(raw)
    assert status == 431
    assert body["type"] == "/problems/header-fields-too-large"


def test_a_thousand_headers_are_refused_with_431(address: tuple[str, int]) -> None:
    lines = b"".join(b"X-H-%04d: 1\r\n" % n for n in range(1000))
    assert len(lines) < MAX_BYTES  # the count is over its limit, the size is not
    before = refused("too_many_headers")
    with connect(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n" + lines + b"\r\n")
        raw = read_all(sock)
    status, headers, body = answer(raw)
    assert status == 431
    assert body["type"] == "/problems/header-fields-too-large"
    assert "100 header lines" in body["detail"]
    assert refused("too_many_headers") == before + 1
    assert headers["content-language"] == "en"


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",  # whole, over the size
        b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n" + b"".join(b"X-H-%04d: 1\r\n" % n for n in range(200)) + b"\r\n",
    ],
    ids=["size", "count"],
)
def test_a_refused_head_logs_no_error_and_no_second_answer(
    address: tuple[str, int], head: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A head refused inside the parser is answered 431 once: not also 400 "Invalid HTTP request" by uvicorn (the
    parser's callback error), which wrote on the closed connection and logged a traceback at error level, so any
    client could fill the error log."""
    caplog.set_level(logging.DEBUG)
    with connect(address) as sock:
        sock.sendall(head)
        raw = read_all(sock)
    assert answer(raw)[0] == 431
    assert raw.count(b"HTTP/1.1 ") == 1, raw
    time.sleep(0.2)  # anything the server logs after closing
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name in ("asyncio", "uvicorn.error")]
    assert noisy == [], [r.getMessage() for r in noisy]


def test_a_refused_head_is_answered_in_the_language_its_headers_asked_for(address: tuple[str, int]) -> None:
    lines = b"".join(b"X-H-%04d: 1\r\n" % n for n in range(1000))
    with connect(address) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nAccept-Language: vi-VN, en;q=0.5\r\n" + lines + b"\r\n"
        )
        raw = read_all(sock)
    status, headers, body = answer(raw)
    assert status == 431
    assert headers["content-language"] == "vi"
    assert body["type"] == "/problems/header-fields-too-large"
    assert body["title"] == "Phần tiêu đề của yêu cầu quá lớn"
    assert body["detail"] == "Mỗi yêu cầu chỉ được mang tối đa 100 dòng tiêu đề (header)."


def test_heads_within_the_limits_are_served(address: tuple[str, int]) -> None:
    url = f"http://{address[0]}:{address[1]}"
    near_count = {f"X-H-{n:03d}": "1" for n in range(MAX_COUNT - 10)}
    near_size = {"X-Big": "c" * (MAX_BYTES - 1024)}
    with httpx.Client(base_url=url, timeout=10) as client:
        for headers in ({}, near_count, near_size):
            response = client.get("/healthz", headers=headers)
            assert response.status_code == 200, response.text
        time.sleep(DEADLINE * 1.2)  # an idle kept-alive connection is not cut by the head deadline meanwhile
        assert client.get("/healthz").status_code == 200
    # A body sent slowly after a complete head is not subject to the head's deadline.
    with connect(address) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: gateway\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{")
        time.sleep(DEADLINE * 1.2)
        sock.sendall(b"}")
        raw = read_all(sock)
    assert answer(raw)[0] == 405


KEEP_ALIVE = 1.0


@pytest.fixture(scope="module")
def keep_alive_address(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, int]]:
    """The gateway's server with a keep-alive timeout of :data:`KEEP_ALIVE` seconds."""
    options = uvicorn_options(make_settings(), host="127.0.0.1", port=0)
    options.pop("workers")
    with LiveServer(create_app(make_settings()), **options, timeout_keep_alive=KEEP_ALIVE) as live:
        host, _, port = live.url.removeprefix("http://").rpartition(":")
        yield host, int(port)


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(
    keep_alive_address: tuple[str, int],
) -> None:
    with connect(keep_alive_address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        answered = time.monotonic()
        assert read_all(sock) == b""
        idle = time.monotonic() - answered
    assert KEEP_ALIVE * 0.9 <= idle < KEEP_ALIVE * 3


def test_a_connection_in_use_stays_open_past_the_keep_alive_timeout_then_closes_when_idle(
    keep_alive_address: tuple[str, int],
) -> None:
    with connect(keep_alive_address) as sock:
        started = answered = time.monotonic()
        answers = 0
        while answered - started < KEEP_ALIVE * 2.5:
            time.sleep(KEEP_ALIVE * 0.3)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")  # the same connection, still open
            answered = time.monotonic()
            answers += 1
        assert read_all(sock) == b""
        idle = time.monotonic() - answered
    assert answers >= 7
    assert KEEP_ALIVE * 0.9 <= idle < KEEP_ALIVE * 3
