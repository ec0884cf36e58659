"""/metrics when the gateway's own database cannot be read: the scrape still answers, and the failure is counted
(``gateway_shared_state_read_failures_total``, the AxisGatewayDatabaseUnreachable alert) until the database is
readable again."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import LiveServer

from connectors.sql.urls import to_async_url
from gateway.core import migrations
from gateway.core.settings import Settings
from gateway.http.app import create_app

FAILURES = "gateway_shared_state_read_failures_total"


@pytest.fixture(scope="module")
def database_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gateway database of its own (SQLite), since the test breaks it."""
    path = tmp_path_factory.mktemp("broken-state") / "gateway.db"
    migrations.upgrade(str(to_async_url(f"sqlite:///{path}")))
    return path


@pytest.fixture(scope="module")
def gateway(make_settings: Callable[..., Settings], database_file: Path) -> Iterator[httpx.Client]:
    settings = make_settings(database_url=str(to_async_url(f"sqlite:///{database_file}")))
    with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


def scrape(http: httpx.Client) -> tuple[float, str]:
    response = http.get("/metrics")
    assert response.status_code == 200
    for line in response.text.splitlines():
        if line.startswith(f"{FAILURES} "):
            return float(line.split()[1]), response.text
    raise AssertionError(f"{FAILURES} is not exported")


def scrape_until(http: httpx.Client, expected: float, timeout: float = 10) -> tuple[float, str]:
    """Scrape until the failure count is ``expected`` (the shared state is read at most once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        count, text = scrape(http)
        if count >= expected or time.monotonic() > deadline:
            return count, text
        time.sleep(0.2)


def rename_table(path: Path, old: str, new: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"ALTER TABLE {old} RENAME TO {new}")


def test_a_scrape_that_cannot_read_the_gateway_database_is_counted(gateway: httpx.Client, database_file: Path) -> None:
    before, text = scrape(gateway)
    assert "gateway_axis_databases{" in text
    rename_table(database_file, "signing_keys", "signing_keys_away")  # the state read now fails
    try:
        first, text = scrape_until(gateway, before + 1)
        assert first == before + 1
        assert "gateway_axis_databases{" in text  # the last values are still exported
        second, _ = scrape_until(gateway, before + 2)
        assert second == before + 2  # every failed read, not once per outage
    finally:
        rename_table(database_file, "signing_keys_away", "signing_keys")
    time.sleep(1.1)  # past the once-a-second cache: the next scrape reads the state
    again, _ = scrape(gateway)
    assert again == before + 2
    time.sleep(1.1)
    assert scrape(gateway)[0] == before + 2
