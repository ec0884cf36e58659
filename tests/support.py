"""Helpers shared by the tests: gateways in process and real servers on 127.0.0.1, PostgreSQL databases, tokens."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import socket
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
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


@contextmanager
def garbage_in_cycles(*modules: str) -> Iterator[list[str]]:
    """The objects left in reference cycles by the block, of types defined in ``modules`` (``module.qualname``).

    The list fills when the block ends: the cyclic collector runs, and what it finds is named rather than freed.
    Only these modules' objects are counted: other threads of the test process (servers, the event loops of earlier
    tests) may leave their own garbage meanwhile."""
    found: list[str] = []
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(
            f"{type(thing).__module__}.{type(thing).__qualname__}"
            for thing in gc.garbage
            if type(thing).__module__.startswith(modules)
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


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


def install_distribution(
    root: Path, name: str, entry_points: str, *, version: str = "1.0", modules: dict[str, str] | None = None
) -> None:
    """A distribution as pip leaves it, in ``root``: its ``.dist-info`` folder (``METADATA``, ``entry_points.txt``,
    the INI text ``entry_points``) and its ``modules`` (name -> source). Found by ``importlib.metadata`` exactly like
    an installed wheel once ``root`` is on ``sys.path``."""
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(source, encoding="utf-8")
    dist_info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


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
        """``options`` are uvicorn's (those of ``gateway.http.server.uvicorn_options``: the gateway's own server).

        Kept-alive connections stay open for a minute unless ``timeout_keep_alive`` says otherwise: at uvicorn's 5 s,
        a slow moment of a loaded machine could let the server close a pooled connection just as the test's client
        sends on it ("Server disconnected without sending a response")."""
        options = {"host": "127.0.0.1", "port": 0, "log_config": None, "timeout_keep_alive": 60, **options}
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


#: The base URL of the clients of a gateway in process (no socket: any host would do).
IN_PROCESS_URL = "http://gateway.test"


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run ``app``'s ASGI lifespan as a server does: startup before the block, shutdown after. The messages go through
    the whole application (its middleware sees the lifespan too, as under uvicorn), not only the router's handler."""
    send_to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.ensure_future(app(scope, send_to_app.get, from_app.put))

    async def step(message: str) -> None:
        await send_to_app.put({"type": f"lifespan.{message}"})
        answer = asyncio.ensure_future(from_app.get())
        await asyncio.wait({answer, task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            task.result()  # the application failed: its exception
            raise RuntimeError(f"the application ended its lifespan without answering lifespan.{message}")
        reply = answer.result()
        if reply["type"] != f"lifespan.{message}.complete":
            raise RuntimeError(f"lifespan.{message} failed: {reply.get('message', reply['type'])}")

    try:
        await step("startup")
        yield
        await step("shutdown")
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def asgi_transport(app: Any) -> httpx.ASGITransport:
    """httpx's transport to ``app`` in process, answering as a server would: an exception that escapes the
    application is a bare 500 (as uvicorn answers), not raised in the test. Requests come from 127.0.0.1."""
    return httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 50000))


@asynccontextmanager
async def asgi_client(app: Any, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An async client of ``app`` served in process, in the running event loop, its lifespan entered."""
    async with lifespan(app), httpx.AsyncClient(transport=asgi_transport(app), base_url=IN_PROCESS_URL, **options) as c:
        yield c


class _PortalTransport(httpx.BaseTransport):
    """A synchronous httpx transport that hands each request to an ASGI transport on the portal's event loop."""

    def __init__(self, portal: BlockingPortal, transport: httpx.ASGITransport) -> None:
        self.portal = portal
        self.transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body as bytes, readable on the other side as well
        return self.portal.call(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self.transport.handle_async_request(request)
        # The raw bytes: the client decodes them (Content-Encoding) as it would a server's.
        body = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(body),
            extensions=response.extensions,
        )


class InProcessGateway:
    """An ASGI app (a gateway from ``create_app``) served in this process without a socket: its lifespan runs on an
    event loop of its own, in a thread (an anyio blocking portal), and :meth:`client` gives synchronous httpx
    clients whose requests reach it through httpx's ``ASGITransport`` on that loop. Everything of the gateway's own
    (middleware, problem handlers, the lean read and token paths, the audit writer) runs as under uvicorn; what only
    a server does (parsing HTTP on a socket, its limits and timeouts, the client's address) is not there."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._stack = ExitStack()
        self.portal: BlockingPortal | None = None

    def __enter__(self) -> InProcessGateway:
        try:
            self.portal = self._stack.enter_context(start_blocking_portal("asyncio"))
            self._stack.enter_context(self.portal.wrap_async_context_manager(lifespan(self.app)))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def client(self, **options: Any) -> httpx.Client:
        """A synchronous client of the gateway (``options`` are httpx.Client's: headers, auth ...)."""
        assert self.portal is not None, "enter the gateway first"
        transport = _PortalTransport(self.portal, asgi_transport(self.app))
        return httpx.Client(transport=transport, base_url=IN_PROCESS_URL, **options)

    def call(self, function: Any, *args: Any) -> Any:
        """Run the coroutine function ``function(*args)`` on the gateway's event loop; its result."""
        assert self.portal is not None, "enter the gateway first"
        return self.portal.call(function, *args)


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


def public_pem() -> str:
    """A new EC P-256 public key, PEM: what a client registers for ``private_key_jwt``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


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


@contextmanager
def command_in_process() -> Iterator[None]:
    """Run a ``gateway`` command in this process as if in one of its own: it starts with no secret pepper in use and
    no cached settings, and the logging it configures (a handler writing to the runner's stderr, closed once the
    command ends) is undone afterwards, as are its pepper and settings. Left in place, that handler would fail on
    the next log record of any thread (a gateway's audit writer sealing the chain), and the logging module would
    print the failure into whatever stderr is then captured."""
    from gateway.core.settings import get_settings
    from gateway.identity import passwords

    pepper = passwords._peppers.current
    passwords._peppers.current = None
    root = logging.getLogger()
    handlers, level, structlog_config = root.handlers[:], root.level, structlog.get_config()
    get_settings.cache_clear()  # the process-wide settings are the command's own
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**structlog_config)
        passwords._peppers.current = pepper
        get_settings.cache_clear()


def run_gateway_command(args: tuple[str, ...] | list[str], *, env: dict[str, str], cwd: Path) -> CommandResult:
    """Run ``gateway ARGS`` in this process, through typer's runner, as ``python -m gateway ARGS`` would run in
    ``cwd`` with the environment ``env`` and no other (starting that interpreter takes seconds each time). The
    command starts, as a new process would, with no secret pepper in use (it takes the one its settings describe);
    the process's environment, working directory, pepper, logging and settings are restored afterwards (the command sets
    variables of its own, and its log handler writes to the runner's stderr, closed afterwards). An exception that
    escaped the command is reported on stderr as a traceback, as the interpreter would."""
    from typer.testing import CliRunner

    from gateway.cli import app

    saved, here = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        with command_in_process():
            result = CliRunner().invoke(app, list(args), prog_name="gateway")
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit) and result.exc_info:
        stderr += "Traceback (in process):\n" + "".join(traceback.format_exception(*result.exc_info))
    return CommandResult(result.exit_code, result.stdout, stderr)


def gateway_command(cwd: Path, **settings: str) -> Callable[..., CommandResult]:
    """``gateway ARGS`` in this process (:func:`run_gateway_command`), configured only by the environment: the data
    directory ``cwd``, the suite's pepper and data key, warnings only, and ``GATEWAY_<NAME>`` for each of
    ``settings`` (``database_url=...``). A traceback in its output fails the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATA_DIR": str(cwd),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_SECRET_PEPPER": TEST_PEPPER,
        "GATEWAY_DATA_KEY": TEST_DATA_KEY,
        "PYTHONIOENCODING": "utf-8",
    }
    env |= {f"GATEWAY_{name.upper()}": value for name, value in settings.items()}

    def run(*args: str) -> CommandResult:
        result = run_gateway_command(args, env=env, cwd=cwd)
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    return run
