"""Fixtures shared by the whole suite.

The gateway's database is SQLite unless ``GATEWAY_TEST_DATABASE_URL`` names a PostgreSQL server, in which case a
fresh database is created on it for the session (and the simulated population database is put on PostgreSQL
too). The gateway under test runs in process (``asgi_gateway``, its client ``api``: httpx's ASGITransport, no
socket) unless the socket is the point: then it is a real uvicorn server on 127.0.0.1 (``server``, its client
``http``). See docs/development.md, "Test tiers".
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from support import (
    STATED,
    TEST_DATA_KEY,
    TEST_PEPPER,
    ClientCredentials,
    InProcessGateway,
    LiveServer,
    PlantedSearch,
    fetch_token,
    postgres_database,
)

from connectors.sql.urls import to_async_url
from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.passwords import use_pepper
from simulators.population import CITIZENS, seed_population

# Secrets hashed by the tests themselves (outside any server) use this pepper, and so do the test gateways
# (``make_settings``); a test that gives a gateway another pepper makes that one current in this process.
use_pepper(TEST_PEPPER.encode())

SECTOR_CITIZENS = 3000
SEARCH_NAME = "Trần Thị Mẫu"
SEARCH_MATCHES = 25


# --- parallel runs ---------------------------------------------------------------------------------------------------
# The whole suite (or a directory of it) runs in worker processes (pytest-xdist) unless told otherwise: most of its
# time is spent waiting on servers (uvicorn gateways, simulators, PostgreSQL, Redis, subprocesses), so more workers
# than cores pay. Each module runs whole on one worker, so its module-scoped gateway starts once; each worker has its
# own session fixtures (its own gateway and sector databases). Files named on the command line run in this process
# (starting workers would take longer than most files do). ``-n N`` chooses, ``-n0`` or ``-p no:xdist`` runs serially
# (docs/development.md, "Parallel runs"). Set here rather than in ``addopts``, which ``-p no:xdist`` would break.

#: Worker processes of a run that does not choose (``-n``).
WORKERS = 4


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    option = config.option
    if not config.pluginmanager.has_plugin("xdist") or hasattr(config, "workerinput"):
        return
    whole = config.args_source is pytest.Config.ArgsSource.TESTPATHS or any(
        Path(arg.split("::")[0]).is_dir() for arg in config.args
    )
    if whole and getattr(option, "numprocesses", None) is None and not (option.usepdb or option.collectonly):
        option.numprocesses = WORKERS
    if option.numprocesses and option.dist == "no":  # -n N alone: one module to a worker as well
        option.dist = "loadfile"


# --- tiers ---------------------------------------------------------------------------------------------------------
# Every test is marked by what it starts (see docs/development.md, "Test tiers"), from the source of its module and of
# the fixtures it uses: ``-m "not live_server and not subprocess and not prometheus and not fault"`` is the fast,
# in-process tier. A test that starts something by other means says so itself (``pytest.mark.live_server`` ...).

#: A real server on a loopback socket: the gateway under uvicorn, a simulated sector system, a replica cluster.
_LIVE_SERVER = re.compile(r"\b(LiveServer|SimulatorServer|ApiServer|ReplicaCluster|serving)\(")
#: A child process: ``python -m gateway``, a tool (promtool, kubectl, mkdocs, nginx, chromium, curl).
_SUBPROCESS = re.compile(r"\bsubprocess\.|\bPopen\(|create_subprocess_exec|\bcli_forkserver\b")
#: A Prometheus server or promtool.
_PROMETHEUS = re.compile(r"\b(PrometheusServer|prometheus_server|promtool)\b")
#: Fault injection: databases and upstream systems stopped, locked, slowed or misbehaving on purpose.
FAULT_MODULES = frozenset(
    {
        "test_database_outage.py",
        "test_upstream_failures.py",
        "test_slow_clients.py",
        "test_outage_logs.py",
        "test_exchange_durability.py",
        "test_audit_tamper.py",
    }
)

_TIER_PATTERNS = (("live_server", _LIVE_SERVER), ("subprocess", _SUBPROCESS), ("prometheus", _PROMETHEUS))


@functools.cache
def _module_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


@functools.cache
def _function_source(function: Callable[..., object]) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""


def _tier_sources(item: pytest.Item) -> list[str]:
    """The source of the test's module and of every fixture it uses (wherever defined)."""
    sources = [_module_source(Path(str(item.fspath)))]
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info is not None else ():
        sources.extend(_function_source(definition.func) for definition in definitions)
    return sources


@functools.cache
def _starts(source: str, pattern: re.Pattern[str]) -> bool:
    """Whether ``source`` starts what ``pattern`` finds (each module and fixture is searched once, not per test)."""
    return pattern.search(source) is not None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        sources = _tier_sources(item)
        for marker, pattern in _TIER_PATTERNS:
            if any(_starts(source, pattern) for source in sources):
                item.add_marker(marker)
        if Path(str(item.fspath)).name in FAULT_MODULES:
            item.add_marker("fault")


@pytest.fixture(scope="module", autouse=True)
def suite_pepper() -> None:
    """Every module starts with the suite's pepper current, whichever modules this process ran before it (a gateway
    given another pepper makes that one current; in a worker, any module may have run before)."""
    use_pepper(TEST_PEPPER.encode())


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _database(tmp: Path, name: str, prefix: str) -> Iterator[str]:
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix=prefix) as url:
            yield url
    else:
        yield str(to_async_url(f"sqlite:///{tmp / name}"))


@pytest.fixture(scope="session")
def gateway_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's own database, migrated to head."""
    for url in _database(tmp_path_factory.mktemp("gateway-db"), "gateway.db", "gwtest"):
        migrations.upgrade(url)
        yield url


async def _plant_search_rows(url: str) -> PlantedSearch:
    from gateway.core.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            year_expr = sa.func.substr(CITIZENS.c.ngay_sinh, 1, 4)
            year = (
                await conn.execute(
                    sa.select(year_expr)
                    .where(CITIZENS.c.gioi_tinh == 2)
                    .group_by(year_expr)
                    .order_by(sa.func.count().desc(), year_expr)
                    .limit(1)
                )
            ).scalar_one()
            ids = (
                (
                    await conn.execute(
                        sa.select(CITIZENS.c.so_dinh_danh)
                        .where(CITIZENS.c.gioi_tinh == 2, year_expr == year)
                        .order_by(CITIZENS.c.so_dinh_danh)
                        .limit(SEARCH_MATCHES)
                    )
                )
                .scalars()
                .all()
            )
            await conn.execute(sa.update(CITIZENS).where(CITIZENS.c.so_dinh_danh.in_(ids)).values(ho_ten=SEARCH_NAME))
    finally:
        await engine.dispose()
    return PlantedSearch(SEARCH_NAME, int(year), tuple(sorted(ids)))


@pytest.fixture(scope="session")
def sector_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, PlantedSearch]]:
    """The simulated population database (same backend as the gateway's), seeded, with planted search rows."""
    for url in _database(tmp_path_factory.mktemp("sector-db"), "population.db", "sectortest"):
        asyncio.run(seed_population(url, count=SECTOR_CITIZENS, seed=68))
        planted = asyncio.run(_plant_search_rows(url))
        yield url, planted


@pytest.fixture(scope="session")
def sector_url(sector_database: tuple[str, PlantedSearch]) -> str:
    return sector_database[0]


@pytest.fixture(scope="session")
def planted(sector_database: tuple[str, PlantedSearch]) -> PlantedSearch:
    return sector_database[1]


@pytest.fixture(scope="session")
def make_settings(
    tmp_path_factory: pytest.TempPathFactory, gateway_database_url: str, sector_url: str
) -> Callable[..., Settings]:
    """Build settings for a test app; keyword arguments override the defaults."""
    data_dir = tmp_path_factory.mktemp("data")

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": gateway_database_url,
            "connectors": {"population": {"config": {"url": sector_url}}},
            "log_format": "console",
            "log_level": "WARNING",
            # Every test's requests come from 127.0.0.1, and some tests fail one client's token requests on
            # purpose, many times: the suite's failures must not add up to lockouts
            # (tests/gateway/test_client_secrets.py checks the limits, with gateways of its own).
            # Every gateway the tests start in this process hashes with the pepper the tests hash with.
            "secret_pepper": TEST_PEPPER,
            "data_key": TEST_DATA_KEY,
            "token_failures_per_client": 0,
            "token_failures_per_address": 0,
            # Tests ask one client for many tokens (tests/gateway/test_tokens.py checks the limit).
            "token_requests_per_minute": 0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def asgi_gateway(settings: Settings) -> Iterator[InProcessGateway]:
    """The gateway under test, in this process: its lifespan runs on an event loop of its own (a thread), requests
    reach it through httpx's ASGITransport, without a socket."""
    with InProcessGateway(create_app(settings)) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def api(asgi_gateway: InProcessGateway) -> Iterator[httpx.Client]:
    """A synchronous client of the in-process gateway (``asgi_gateway``)."""
    with asgi_gateway.client() as client:
        yield client


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[LiveServer]:
    """The gateway under test, served by uvicorn on 127.0.0.1."""
    with LiveServer(create_app(settings)) as live:
        yield live


@pytest.fixture(scope="session")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def make_client(gateway_database_url: str) -> Callable[..., ClientCredentials]:
    """Create a client in the gateway's database with the given scopes."""
    counter = iter(range(1_000_000))

    def make(*scopes: str, client_id: str | None = None) -> ClientCredentials:
        async def run() -> ClientCredentials:
            async with standalone_session(gateway_database_url) as session:
                client, secret = await create_client(
                    session,
                    name="Test client",
                    scopes=scopes,
                    client_id=client_id or f"test-{next(counter)}-{os.getpid()}",
                )
                return ClientCredentials(client.client_id, secret)

        return asyncio.run(run())

    return make


@pytest.fixture(scope="session")
def reader(make_client: Callable[..., ClientCredentials]) -> ClientCredentials:
    """A client allowed to read and search the population database."""
    return make_client("population:read", "population:search")


@pytest.fixture(scope="session")
def token(api: httpx.Client, reader: ClientCredentials) -> str:
    """The reader's token, from the in-process gateway: it holds at the live one as well (the same database, the same
    signing keys)."""
    return fetch_token(api, reader)


@pytest.fixture(scope="session")
def bearer(token: str) -> dict[str, str]:
    """Authorization plus the purpose and actor headers every grant made from a data scope requires."""
    return {"Authorization": f"Bearer {token}", **STATED}
