"""Helpers shared by the tests: real servers on 127.0.0.1, PostgreSQL databases, tokens."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from sqlalchemy.engine import URL, make_url

# The purpose and actor a data request states (grants made from data scopes require both).
#: The pepper of the secrets the tests hash themselves (outside any server); a gateway process started by a test
#: must be given it (``GATEWAY_SECRET_PEPPER``) to accept those secrets.
TEST_PEPPER = "the test suite's secret pepper, not a real one"
#: The data key of every test gateway on the suite's shared database: the signing keys stored there are encrypted
#: with it, so that every gateway the tests start on that database (in this process or as a subprocess, given it as
#: ``GATEWAY_DATA_KEY``) decrypts them, whatever its data directory.
TEST_DATA_KEY = "YXhpcy1nYXRld2F5IHRlc3Qgc3VpdGUgZGF0YSBrZXk="

STATED = {"X-Purpose": "1.001612.000.00.00.H41", "X-Actor-Id": "CB-068-0001"}

POSTGRES_SERVER_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def need_service(reason: str) -> None:
    """Skip (or, under CI=true, fail) a test that needs a service which is not running."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required services must be running)")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _ephemeral_ports() -> range:
    """The ports the kernel gives to ``bind(("127.0.0.1", 0))`` and to outgoing connections."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def free_port() -> int:
    """A loopback port nothing listens on, for a server to be started on or to stand for a closed one. It is taken
    below the kernel's ephemeral range, at random: no server started on port 0 and no outgoing connection (of this
    process or of another test worker) can take it in the meantime, and two workers rarely draw the same one."""
    ephemeral = _ephemeral_ports()
    low = 10_000
    for _ in range(100):
        port = random.randrange(low, ephemeral.start) if ephemeral.start > low + 1000 else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port found")


def _asyncpg_dsn(url: URL, database: str | None = None) -> str:
    url = url.set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def postgres_available(server_url: str = POSTGRES_SERVER_URL) -> bool:
    url = make_url(server_url)
    return port_open(url.host or "127.0.0.1", url.port or 5432)


async def _admin(server_url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(make_url(server_url)), timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def postgres_database(server_url: str = POSTGRES_SERVER_URL, prefix: str = "gwtest") -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration of the block; yields its asyncpg URL."""
    if not postgres_available(server_url):
        need_service(f"PostgreSQL is not reachable at {server_url}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def empty_databases(tmp: Path, *names: str) -> Iterator[tuple[str, ...]]:
    """Empty databases named ``names``, on the backend the suite runs on: PostgreSQL databases on the server of
    ``GATEWAY_TEST_DATABASE_URL`` when it is set, else SQLite files in ``tmp``. Yields their asyncio URLs."""
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if not server:
        yield tuple(str(make_url(f"sqlite+aiosqlite:///{tmp / f'{name}.db'}")) for name in names)
        return
    with ExitStack() as stack:
        yield tuple(stack.enter_context(postgres_database(server, prefix=name[:12])) for name in names)


def assert_private(directory: Path) -> set[str]:
    """Assert that ``directory`` and every directory in it are 0700 and every file 0600; the paths found."""
    assert directory.stat().st_mode & 0o777 == 0o700, directory
    found = set()
    for path in directory.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {mode:o}"
        found.add(str(path.relative_to(directory)))
    return found


class LiveServer:
    """A uvicorn server running an ASGI app in a thread on 127.0.0.1, on a free port."""

    def __init__(self, app: Any, **options: Any) -> None:
        """``options`` are uvicorn's (those of ``gateway.http.server.uvicorn_options``: the gateway's own server)."""
        options = {"host": "127.0.0.1", "port": 0, "log_config": None, **options}
        self.config = uvicorn.Config(app, lifespan="on", **options)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class PlantedSearch:
    """Rows of the test sector database renamed so that one name + birth year matches many records."""

    full_name: str
    year: int
    personal_ids: tuple[str, ...]


def fetch_token(http: httpx.Client, credentials: ClientCredentials, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    response = http.post("/oauth/token", data=data, auth=(credentials.client_id, credentials.client_secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@dataclass(frozen=True)
class CommandResult:
    """What a ``gateway`` command did: its exit status and its output (``subprocess.CompletedProcess``'s shape)."""

    returncode: int
    stdout: str
    stderr: str


def run_gateway_command(args: tuple[str, ...] | list[str], *, env: dict[str, str], cwd: Path) -> CommandResult:
    """Run ``gateway ARGS`` in this process, through typer's runner, as ``python -m gateway ARGS`` would run in
    ``cwd`` with the environment ``env`` and no other (starting that interpreter takes seconds each time). The
    command starts, as a new process would, with no secret pepper in use (it takes the one its settings describe);
    the process's environment, working directory, pepper, logging and settings are restored afterwards (the command sets
    variables of its own, and its log handler writes to the runner's stderr, closed afterwards). An exception that
    escaped the command is reported on stderr as a traceback, as the interpreter would."""
    from typer.testing import CliRunner

    from gateway.cli import app
    from gateway.core.settings import get_settings
    from gateway.identity import passwords

    saved, here, pepper = dict(os.environ), Path.cwd(), passwords._peppers.current
    passwords._peppers.current = None
    root = logging.getLogger()
    handlers, level, structlog_config = root.handlers[:], root.level, structlog.get_config()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    get_settings.cache_clear()  # the process-wide settings are the command's own
    try:
        result = CliRunner().invoke(app, list(args), prog_name="gateway")
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**structlog_config)
        passwords._peppers.current = pepper
        get_settings.cache_clear()
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit) and result.exc_info:
        stderr += "Traceback (in process):\n" + "".join(traceback.format_exception(*result.exc_info))
    return CommandResult(result.exit_code, result.stdout, stderr)
