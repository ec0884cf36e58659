"""The fixtures and helpers of the exchange's tests (``test_exchange.py`` in process, ``test_exchange_webhooks.py``
with webhook receivers on sockets): a gateway of the module's own whose population connector accepts submissions,
on databases of the module's own, and the requests that submit, wait for delivery and read the receipts."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support import STATED, ClientCredentials, InProcessGateway, LiveServer, empty_databases, fetch_token

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.population import CITIZENS, seed_population

RECORDS = "/v1/databases/population/records"
CHANGES = "/v1/databases/population/changes"
EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The gateway's database, migrated, and a population database of 300 citizens, for this module."""
    with empty_databases(tmp_path_factory.mktemp("exchange"), "exgateway", "expopulation") as (gateway, population):
        migrations.upgrade(gateway)
        asyncio.run(seed_population(population, count=300, seed=11))
        yield gateway, population


@contextmanager
def exchange_databases(
    tmp_path_factory: pytest.TempPathFactory, name: str, *, citizens: int, seed: int
) -> Iterator[tuple[str, str]]:
    """A module's own gateway database (migrated) and population database (``citizens`` seeded), named after
    ``name``."""
    with empty_databases(tmp_path_factory.mktemp(name), f"{name}gateway", f"{name}population") as (gateway, population):
        migrations.upgrade(gateway)
        asyncio.run(seed_population(population, count=citizens, seed=seed))
        yield gateway, population


def writable_population(url: str, *, timeout_seconds: float = 2) -> dict[str, Any]:
    """The ``connectors`` setting of a population database at ``url`` that accepts submissions."""
    return {"population": {"config": {"url": url, "writes": {}, "timeout_seconds": timeout_seconds}}}


def live_exchange_gateway(name: str, *, citizens: int, seed: int, **options: Any) -> tuple[Any, Any, Any, Any]:
    """The fixtures ``databases``, ``settings``, ``http`` and ``admin`` of a module whose gateway serves on a
    socket (uvicorn on 127.0.0.1): its own databases (see :func:`exchange_databases`), the population connector
    accepting submissions, the settings ``options``, an HTTP client of the gateway and the headers of a client
    holding the ``admin`` scope. Bind them to those names::

        databases, settings, http, admin = live_exchange_gateway("exgr", citizens=40, seed=23)
    """

    @pytest.fixture(scope="module", name="databases")
    def module_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
        with exchange_databases(tmp_path_factory, name, citizens=citizens, seed=seed) as made:
            yield made

    @pytest.fixture(scope="module", name="settings")
    def module_settings(make_settings: Callable[..., Settings], databases: tuple[str, str]) -> Settings:
        return make_settings(database_url=databases[0], connectors=writable_population(databases[1]), **options)

    @pytest.fixture(scope="module", name="http")
    def module_http(settings: Settings) -> Iterator[httpx.Client]:
        with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield client

    @pytest.fixture(scope="module", name="admin")
    def module_admin(http: httpx.Client, databases: tuple[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {fetch_token(http, make_exchange_client(databases[0], 'admin'))}"}

    return module_databases, module_settings, module_http, module_admin


@pytest.fixture(scope="module")
def gateway_url(databases: tuple[str, str]) -> str:
    return databases[0]


@pytest.fixture(scope="module")
def population_url(databases: tuple[str, str]) -> str:
    return databases[1]


@pytest.fixture(scope="module")
def exchange_settings(make_settings: Callable[..., Settings], gateway_url: str, population_url: str) -> Settings:
    return make_settings(
        database_url=gateway_url,
        data_key=None,  # the data key file of the data directory: the data key rotates in these tests
        connectors={"population": {"config": {"url": population_url, "writes": {}, "timeout_seconds": 0.5}}},
        exchange_backoff_seconds=0.05,
        exchange_backoff_max_seconds=0.2,
        exchange_poll_seconds=0.05,
        exchange_max_attempts=4,
        # The receivers of these tests run on 127.0.0.1: allowed explicitly, as an operator would. ::1 is not.
        webhook_allowed_networks=["127.0.0.0/8"],
        webhook_max_subscriptions=10,
    )


@pytest.fixture(scope="module")
def exchange_gateway(exchange_settings: Settings) -> Iterator[InProcessGateway]:
    """The module's gateway, in process (it posts to webhook receivers over HTTP all the same)."""
    with InProcessGateway(create_app(exchange_settings)) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def client(exchange_gateway: InProcessGateway) -> Iterator[httpx.Client]:
    with exchange_gateway.client() as http:
        yield http


def make_exchange_client(url: str, *scopes: str) -> ClientCredentials:
    """A new client of the gateway database at ``url``, with ``scopes`` (each a grant on every field)."""

    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            made, secret = await create_client(
                session, name="Exchange test", scopes=scopes, client_id=f"ex-{uuid.uuid4().hex[:10]}"
            )
            return ClientCredentials(made.client_id, secret)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def writer(client: httpx.Client, gateway_url: str) -> dict[str, str]:
    credentials = make_exchange_client(gateway_url, "population:read", "population:submit")
    return {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}


def new_id(seed: int) -> str:
    """A personal id (province 068, female born 1985) not among the seeded citizens."""
    return f"068185{900000 + seed:06d}"


def citizen(personal_id: str, **changes: Any) -> dict[str, Any]:
    # A unique old identity card number: the sector table has a unique index on it.
    fields = {**EXAMPLE, "household_id": "HK068000123", "old_id_number": f"9{personal_id[-8:]}", **changes}
    fields.pop("personal_id")
    return fields


def operation(op: str, record_id: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"op": op, "record_id": record_id, "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"}}
    if fields is not None:
        body["fields"] = fields
    return body


def submit(
    client: httpx.Client, headers: dict[str, str], operations: list[Any], key: str | None = None
) -> httpx.Response:
    return client.post(
        RECORDS,
        json={"operations": operations},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def wait_delivered(
    client: httpx.Client, headers: dict[str, str], receipt_id: str, timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/receipts/{receipt_id}", headers=headers).json()
        states = {entry["state"] for entry in body["accepted"]}
        if states <= {"delivered", "dead"} or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def seeded_row(url: str, index: int) -> dict[str, Any]:
    """The seeded citizen at ``index`` of the sector table (in personal id order), as its row."""

    async def run() -> dict[str, Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(sa.select(CITIZENS).order_by(CITIZENS.c.so_dinh_danh))).all()
                return dict(rows[index]._mapping)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def sector_row(url: str, personal_id: str) -> dict[str, Any] | None:
    async def run() -> dict[str, Any] | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(sa.select(CITIZENS).where(CITIZENS.c.so_dinh_danh == personal_id))).first()
                return None if row is None else dict(row._mapping)
        finally:
            await engine.dispose()

    return asyncio.run(run())


SUBSCRIPTIONS = "/v1/databases/population/subscriptions"


def reader_headers(client: httpx.Client, gateway_url: str) -> dict[str, str]:
    credentials = make_exchange_client(gateway_url, "population:read")
    return {"Authorization": f"Bearer {fetch_token(client, credentials)}", **STATED}


def auditor_headers(client: httpx.Client, gateway_url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(client, make_exchange_client(gateway_url, 'audit'))}"}


def last_error(client: httpx.Client, headers: dict[str, str], subscription_id: str) -> str | None:
    deadline = time.monotonic() + 15
    while True:
        listed = client.get(SUBSCRIPTIONS, headers=headers).json()["subscriptions"]
        error: str | None = next(s for s in listed if s["id"] == subscription_id)["last_error"]
        if error is not None or time.monotonic() > deadline:
            return error
        time.sleep(0.05)


def dispatch_due(settings: Settings) -> None:
    """Deliver what is due now, in this process, with the clients' access as it is now (for a module whose gateway
    does not dispatch: ``exchange_dispatch=False``, as if the sector system were down until then)."""
    from gateway.core.db import create_sessionmaker
    from gateway.exchange.dispatcher import Dispatcher
    from gateway.identity.access import AccessControl
    from gateway.records.registry import ConnectorRegistry

    async def run() -> None:
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        registry = ConnectorRegistry.from_settings(settings)
        await registry.start()
        try:
            access = AccessControl(sessionmaker, ttl_seconds=0)
            dispatcher = Dispatcher(settings=settings, sessionmaker=sessionmaker, registry=registry, access=access)
            while await dispatcher.run_once():
                pass
        finally:
            await registry.close()
            await engine.dispose()

    asyncio.run(run())


def seeded_personal_ids(url: str) -> list[str]:
    """The personal ids of the population database at ``url``, in order."""

    async def run() -> list[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                query = sa.select(CITIZENS.c.so_dinh_danh).order_by(CITIZENS.c.so_dinh_danh)
                return [str(value) for value in (await conn.execute(query)).scalars()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def operation_outcomes(url: str, receipt_id: str) -> list[tuple[str, str | None]]:
    """The state and ``last_error`` of each operation of a receipt, in the gateway's database at ``url``."""
    from sqlmodel import col, select

    from gateway.exchange.models import ExchangeOperation

    async def run() -> list[tuple[str, str | None]]:
        async with standalone_session(url) as session:
            query = (
                select(ExchangeOperation)
                .where(col(ExchangeOperation.receipt_id) == receipt_id)
                .order_by(col(ExchangeOperation.position))
            )
            return [(operation.state, operation.last_error) for operation in (await session.exec(query)).all()]

    return asyncio.run(run())


def gapless_but_at_starts(positions: list[int]) -> bool:
    """Whether a feed's positions (in order) follow one another without a gap but where a gateway's dispatcher
    started (the feed moves on to that moment's first position: a multiple of the positions a millisecond, plus one
    for its first change)."""
    from gateway.exchange.dispatcher import FEED_POSITIONS_PER_MILLISECOND

    return all(
        later == earlier + 1 or (later > earlier and (later - 1) % FEED_POSITIONS_PER_MILLISECOND == 0)
        for earlier, later in itertools.pairwise(positions)
    )
