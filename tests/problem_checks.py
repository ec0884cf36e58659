"""Checks of problem details (RFC 9457) shared by the tests of the gateway's errors, in process and on a socket,
and a raw HTTP client for requests that an HTTP client library would refuse to send."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from dataclasses import dataclass
from typing import Any

import httpx

RECORDS = "/v1/databases/population/records"
SEARCH = "/v1/databases/population/search"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")
# What must never reach a caller: stack traces, source paths, SQL, driver names.
LEAKS = ("Traceback", 'File "', '.py", line', "sqlalchemy", "sqlite", "asyncpg", "SELECT ", "no such table")
PROBLEM_MEMBERS = {"type", "title", "status", "instance"}
NESTED_ARRAYS = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000

# (method, path, needs a token, expected status): a success and several kinds of error.
REQUESTS = [
    ("GET", "/healthz", False, 200),
    ("GET", "/v1/contracts", False, 200),
    ("GET", "/no/such/route", False, 404),
    ("DELETE", "/healthz", False, 405),
    ("GET", f"{RECORDS}/068099000000", False, 401),
    ("GET", f"{RECORDS}/068099000000", True, 404),
    ("GET", f"{RECORDS}/not-an-id", True, 422),
    ("POST", "/oauth/token", False, 401),
]


def check_problem(
    response: httpx.Response | RawResponse, catalogue: dict[str, dict[str, Any]], *, status: int | None = None
) -> dict[str, Any]:
    """Assert that ``response`` is a well-formed problem of a catalogued type, and return its body."""
    if status is not None:
        assert response.status_code == status, response.text
    assert response.status_code >= 400
    assert response.headers["content-type"] == "application/problem+json"
    text = response.text
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked in {text[:500]}"
    body = json.loads(text)
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == response.status_code
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["instance"].startswith("/")
    assert body["type"] in catalogue, f"{body['type']} is not in /problems"
    entry = catalogue[body["type"]]
    assert body["title"] == entry["title"]
    assert response.status_code in entry["statuses"], (body, entry)
    assert response.headers.get("x-request-id")
    return dict(body)


# --- raw HTTP -----------------------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    """A response read from a socket: enough of httpx.Response's shape for the checks here."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def from_app(self) -> bool:
        """Whether the gateway application answered (uvicorn's own parser errors have no request id)."""
        return "x-request-id" in self.headers


def raw_request(
    base_url: str, method: str, target: bytes | str, headers: list[tuple[bytes, bytes]] = (), body: bytes = b""
) -> RawResponse:
    """Send exactly these bytes (plus Host, Connection and Content-Length) and read the whole answer."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    target_bytes = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + target_bytes + b" HTTP/1.1", b"Host: " + host.encode(), b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        # The server may answer and close before it has read a large body.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, content = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        content = _unchunk(content)
    return RawResponse(int(status_line.split()[1]), parsed, content)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out
