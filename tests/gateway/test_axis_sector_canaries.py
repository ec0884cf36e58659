"""Deep health checks of the REST and SOAP sector systems, started as the demo starts them (their
:class:`~simulators.sectors.SectorSystem`, then :func:`gateway.demo.declare_canary`): when the simulator answers
records that break the contract, or bodies that cannot be read, the axis says ``down`` within two health rounds,
with the cause, and ``connected`` again once it behaves.

The gateway's database is fresh for this module (SQLite, or PostgreSQL when ``GATEWAY_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ClientCredentials, LiveServer, fetch_token, postgres_database

from connectors.sql.urls import to_async_url
from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.demo import declare_canary
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.http import SimulatorServer
from simulators.sectors import SectorContext, load_sector_system

DATABASES = ("business", "judicial_records")  # one over REST, one over SOAP
INTERVAL = 0.2
HEALTH = {"interval_seconds": INTERVAL, "jitter": 0, "timeout_seconds": 2, "failures_to_down": 3}


@dataclass
class Axis:
    http: httpx.Client
    headers: dict[str, str]
    servers: dict[str, SimulatorServer]

    def detail(self, database: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/axis/{database}", headers=self.headers, params={"history": 200})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_state(self, database: str, state: str, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            detail = self.detail(database)
            if detail["state"] == state:
                return detail
            assert time.monotonic() < deadline, f"{database} stayed {detail['state']} ({detail['error']}), not {state}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwcanary") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('canary-db') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def axis(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Axis]:
    data_dir: Path = tmp_path_factory.mktemp("canary-sectors")
    with ExitStack() as stack:
        context = SectorContext(data_dir=data_dir / "sectors", citizens=60, seed=68, stack=stack)
        connectors: dict[str, Any] = {"population": {"enabled": False}}
        for database in DATABASES:
            system = load_sector_system(database)
            config = asyncio.run(system.start(context))
            assert asyncio.run(declare_canary(system.connector, config)) == config["canary"]
            connectors[database] = {"connector": system.connector, "config": config, "health": HEALTH}

        async def operator() -> ClientCredentials:
            async with standalone_session(database_url) as session:
                client, secret = await create_client(session, name="Canary operator", scopes=["axis"])
                return ClientCredentials(client.client_id, secret)

        credentials = asyncio.run(operator())
        settings = Settings(
            data_dir=data_dir,
            database_url=database_url,
            connectors=connectors,
            log_format="console",
            log_level="WARNING",
            axis_lease_seconds=2,
        )
        with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
            token = fetch_token(http, credentials)
            yield Axis(http, {"Authorization": f"Bearer {token}"}, context.servers)


@pytest.mark.parametrize(
    ("mode", "cause"),
    [("violation", "contract-violation"), ("malformed", "check-protocol")],
    ids=["violation", "malformed"],
)
@pytest.mark.parametrize("database", DATABASES)
def test_a_misbehaving_sector_system_goes_down_at_its_canary_and_recovers(
    axis: Axis, database: str, mode: str, cause: str
) -> None:
    api = axis.servers[database].api
    axis.wait_state(database, "connected")
    switched = datetime.now(UTC)
    api.misbehave(mode=mode)  # type: ignore[attr-defined]
    try:
        down = axis.wait_state(database, "down")
        assert down["cause"] == cause, down
        after = [c for c in reversed(down["checks"]) if datetime.fromisoformat(c["checked_at"]) > switched]
        first_down = next(i for i, check in enumerate(after) if check["state"] == "down")
        assert first_down <= 1, after  # the first or second health round after the switch
        assert after[first_down]["cause"] == cause and after[first_down]["ok"] is False
    finally:
        api.reset()  # type: ignore[attr-defined]
    back = axis.wait_state(database, "connected")
    assert back["cause"] is None and back["error"] is None
