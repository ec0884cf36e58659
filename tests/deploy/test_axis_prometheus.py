"""The integration axis as the ops team sees it: a real Prometheus (on 127.0.0.1) scrapes a real gateway whose
population database is a real simulated sector system; the system stops, and Prometheus sees the connected count
drop by one, the database's ``up`` go to 0 within the health checks' threshold window, and the kit's own alert
rules (``deploy/prometheus/alerts.yml``, with their ``for`` shortened) fire: the database is down and a connection
was lost; the system comes back, and all of it recovers.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from ops_kit import ALERTS
from prometheus_server import PrometheusServer, loopback_target, require_prometheus
from support import LiveServer, postgres_database

from connectors.sql.urls import to_async_url
from gateway.core import migrations
from gateway.core.settings import Settings
from gateway.http.app import create_app
from simulators.http import SimulatorServer
from simulators.population import seed_population
from simulators.population_api import PopulationApi, load_rows, rest_connector_config

HEALTH = {"interval_seconds": 0.25, "jitter": 0, "timeout_seconds": 1, "failures_to_down": 3, "successes_to_connect": 2}
# Three failed checks 0.25 s apart, the metrics' one-second refresh, one-second scrapes: well under this.
THRESHOLD_WINDOW_SECONDS = 8.0


@pytest.fixture(scope="module")
def gateway_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwprom") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('prom-axis') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def population_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path = tmp_path_factory.mktemp("prom-sector") / "population.db"
    asyncio.run(seed_population(f"sqlite:///{path}", count=200, seed=68))
    return load_rows(path)


def shortened_rules(directory: Path) -> Path:
    """The kit's alert rules with every ``for`` cut to one second, so the test need not wait minutes."""
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "1s"
    path = directory / "alerts.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def value(prometheus: PrometheusServer, expr: str) -> float | None:
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if result else None


def wait_for(prometheus: PrometheusServer, expr: str, expected: float, timeout: float) -> float:
    """Seconds until ``expr`` is ``expected`` in Prometheus."""
    started = time.monotonic()
    while True:
        seen = value(prometheus, expr)
        if seen == expected:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{expr} was {seen}, not {expected}, after {timeout} s")
        time.sleep(0.1)


def firing(prometheus: PrometheusServer) -> set[tuple[str, str]]:
    return {
        (alert["labels"]["alertname"], alert["labels"].get("database", ""))
        for alert in prometheus.alerts()
        if alert["state"] == "firing"
    }


def wait_alert(prometheus: PrometheusServer, alert: tuple[str, str], *, present: bool, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (alert in firing(prometheus)) != present:
        assert time.monotonic() < deadline, (
            f"{alert} {'never fired' if present else 'kept firing'}: {firing(prometheus)}"
        )
        time.sleep(0.2)


def test_prometheus_sees_a_sector_system_go_down_and_come_back(
    gateway_database: str, population_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    require_prometheus()
    system = SimulatorServer(PopulationApi(population_rows)).start()
    port = int(system.url.rsplit(":", 1)[1])
    config = rest_connector_config(system.url, timeout_seconds=1)
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=gateway_database,
        connectors={"population": {"connector": "rest", "config": config, "health": HEALTH}},
        log_format="console",
        log_level="WARNING",
    )
    try:
        with (
            LiveServer(create_app(settings)) as gateway,
            PrometheusServer([loopback_target(gateway.url)], rule_files=[shortened_rules(tmp_path)]) as prometheus,
        ):
            connected = 'gateway_axis_databases{state="connected"}'
            up = 'gateway_axis_database_up{database="population"}'
            wait_for(prometheus, connected, 1, timeout=30)
            wait_for(prometheus, up, 1, timeout=30)
            assert value(prometheus, "sum(gateway_axis_databases)") == 16
            assert value(prometheus, 'gateway_axis_databases{state="pending"}') == 15
            assert not {("AxisDatabaseDown", "population"), ("AxisConnectionLost", "population")} & firing(prometheus)

            system.stop()
            took = wait_for(prometheus, up, 0, timeout=30)
            assert took < THRESHOLD_WINDOW_SECONDS, f"up went to 0 after {took:.1f} s"
            assert value(prometheus, connected) == 0  # dropped by one
            assert value(prometheus, 'gateway_axis_databases{state="down"}') == 1
            assert value(prometheus, 'gateway_axis_database_state{database="population",state="down"}') == 1
            failures = 'sum(gateway_health_check_failures_total{database="population",reason="connect"})'
            wait_for_positive(prometheus, failures)
            wait_alert(prometheus, ("AxisDatabaseDown", "population"), present=True)
            wait_alert(prometheus, ("AxisConnectionLost", "population"), present=True)

            system = SimulatorServer(PopulationApi(population_rows), port=port).start()
            took = wait_for(prometheus, up, 1, timeout=30)
            assert took < THRESHOLD_WINDOW_SECONDS, f"up came back after {took:.1f} s"
            assert value(prometheus, connected) == 1
            wait_alert(prometheus, ("AxisDatabaseDown", "population"), present=False)
            wait_alert(prometheus, ("AxisConnectionLost", "population"), present=False)
            # The history Prometheus kept shows the drop and the recovery.
            now = time.time()
            series = prometheus.query_range(up, now - 120, now, 1)
            seen = [float(sample[1]) for sample in series[0]["values"]]
            dropped = seen.index(0.0)
            assert 1.0 in seen[:dropped] and seen[-1] == 1.0
            assert httpx.get(f"{gateway.url}/healthz").status_code == 200
    finally:
        system.stop()


def wait_for_positive(prometheus: PrometheusServer, expr: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (value(prometheus, expr) or 0) <= 0:
        assert time.monotonic() < deadline, f"{expr} stayed at zero"
        time.sleep(0.2)
