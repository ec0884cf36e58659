"""Every PromQL expression of the Grafana dashboard and of the alert rules, run by a real Prometheus server
(Debian's package, on 127.0.0.1) that has scraped a running gateway.

The gateway serves two databases: ``population`` (the test's sector database) and ``land``, configured on a closed
loopback port so that its requests fail (503) and its health checks fail. A client with a registered certificate
makes allowed, refused (401), not-found (404) and failing (503) requests between the scrapes. Then every dashboard
query (its variables substituted as Grafana does) must be accepted and return data; every alert expression must be
accepted (it returns nothing unless the alert fires) and every metric selector in it must return data. Last, the
alerts Prometheus computes must match the gateway's real state.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ops_kit import ALERTS, alert_queries, dashboard, dashboard_queries, selectors, substitute
from prometheus_server import PrometheusError, PrometheusServer, loopback_target, require_prometheus
from support import STATED, ClientCredentials, LiveServer, PlantedSearch, empty_databases, fetch_token, free_port

from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.client_keys import register_client_key
from gateway.identity.clients import create_client
from gateway.quality.lookups import registry_lookups
from gateway.quality.service import scan_database
from gateway.records.registry import ConnectorRegistry

SERVED = ("population", "land")
#: A parcel id of the land contract's form (the land database's server is not there: any id is a 503).
LAND_PARCEL = "24781-12-345"
RATE_INTERVAL = "1m"
CERTIFICATE_KID = "ops-kit-certificate"
FAST_CHECKS = {"interval_seconds": 0.2, "jitter": 0}


def certificate_pem(days: int) -> str:
    """A self-signed certificate of a fresh EC key, valid for ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sở Tài chính")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def gateway_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's own database: on the suite's shared one, another gateway of this process (the session's) could
    hold the lease of the axis checks and record ``land`` as pending, not down (it does not serve it)."""
    with empty_databases(tmp_path_factory.mktemp("promql-gateway"), "promql") as (url,):
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def client(gateway_database: str) -> ClientCredentials:
    """A client of both databases with a registered certificate (so certificate expiry is exported)."""

    async def create() -> ClientCredentials:
        async with standalone_session(gateway_database) as session:
            client, secret = await create_client(
                session, name="Ops kit client", scopes=("population:read", "population:search", "land:read")
            )
            await register_client_key(session, client.client_id, certificate_pem(90), kid=CERTIFICATE_KID)
            return ClientCredentials(client.client_id, secret)

    return asyncio.run(create())


@pytest.fixture(scope="module")
def gateway(
    make_settings: Callable[..., Settings], gateway_database: str, sector_url: str, client: ClientCredentials
) -> Iterator[str]:
    require_prometheus()  # before starting anything
    settings = make_settings(
        database_url=gateway_database,
        connectors={
            # Accepting submissions, so that the exchange's series exist (nothing is submitted).
            "population": {"config": {"url": sector_url, "writes": {}}, "health": FAST_CHECKS},
            # The land database's own connector, on a server that is not there: down, its checks failing.
            "land": {"config": {"url": f"postgresql://reader@127.0.0.1:{free_port()}/land"}, "health": FAST_CHECKS},
        },
        rate_limit_per_second=1000,  # limited, so the client's rate-limit series exists
    )
    asyncio.run(scan_quality(settings, "population"))  # so that the last-scan series exists
    with LiveServer(create_app(settings)) as live:
        yield live.url


async def scan_quality(settings: Settings, database_id: str) -> None:
    """A data-quality scan of ``database_id``, as ``gateway quality scan`` makes it."""
    registry = ConnectorRegistry.from_settings(settings)
    await registry.start()
    try:
        async with standalone_session(settings.database_url) as session:
            await scan_database(
                session,
                database_id=database_id,
                connector=registry.databases[database_id].connector,
                settings=settings,
                lookups=registry_lookups(registry),
                sample_size=20,
            )
    finally:
        await registry.close()


def make_traffic(url: str, client: ClientCredentials, planted: PlantedSearch) -> None:
    """Allowed, not-found, refused and failing requests, so that counters and histograms have data."""
    with httpx.Client(base_url=url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {fetch_token(http, client)}", **STATED}
        record = "/v1/databases/{}/records/{}"
        assert http.get(record.format("population", planted.personal_ids[0]), headers=headers).status_code == 200
        assert http.get(record.format("population", "068099999999"), headers=headers).status_code == 404
        assert http.get(record.format("population", planted.personal_ids[0])).status_code == 401
        bad_token = {"Authorization": "Bearer not-a-token", **STATED}
        assert http.get(record.format("population", planted.personal_ids[0]), headers=bad_token).status_code == 401
        assert http.get(record.format("land", LAND_PARCEL), headers=headers).status_code == 503
        query = {"full_name": planted.full_name, "date_of_birth": str(planted.year)}
        assert http.post("/v1/databases/population/search", json=query, headers=headers).status_code == 200


def audit_chain_verified(url: str, limit_seconds: float = 120) -> None:
    """Wait until the gateway exports the result of the audit chain's verification at its start (done in a child
    process, so seconds on a busy machine): the dashboard and two alerts read those series."""
    deadline = time.monotonic() + limit_seconds
    while "\ngateway_audit_chain_last_verified_timestamp_seconds " not in httpx.get(f"{url}/metrics").text:
        assert time.monotonic() < deadline, "the audit chain was not verified at the gateway's start"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def prometheus(gateway: str, client: ClientCredentials, planted: PlantedSearch) -> Iterator[PrometheusServer]:
    """Prometheus scraping the gateway every second, with the alert rules, after traffic between its scrapes."""
    require_prometheus()
    audit_chain_verified(gateway)
    with PrometheusServer([loopback_target(gateway)], rule_files=[ALERTS]) as server:
        server.wait_for_scrapes(1)
        make_traffic(gateway, client, planted)
        server.wait_for_scrapes(3)  # two whole scrapes after the traffic, whatever one was under way
        yield server


def run(prometheus: PrometheusServer, expr: str) -> tuple[str | None, int]:
    """(why Prometheus refused ``expr`` or None, how many series it returned)."""
    try:
        return None, len(prometheus.query(expr))
    except PrometheusError as exc:
        return f"{exc.error_type}: {exc.error}", 0


def report(title: str, problems: list[str]) -> str:
    return f"{title} ({len(problems)}):\n  " + "\n  ".join(problems)


def test_prometheus_scrapes_the_gateway_and_evaluates_every_rule(prometheus: PrometheusServer) -> None:
    (target,) = prometheus.targets()
    assert target["health"] == "up", target.get("lastError")
    assert target["labels"]["job"] == "axis-gateway"
    rules = [rule for group in prometheus.rules() for rule in group["rules"]]
    assert sorted(rule["name"] for rule in rules) == sorted(q.source.removeprefix("alert ") for q in alert_queries())
    broken = [f"{rule['name']}: {rule.get('lastError')}" for rule in rules if rule["health"] == "err"]
    assert not broken, report("rules failing to evaluate", broken)


def test_the_database_variable_lists_the_served_databases(prometheus: PrometheusServer) -> None:
    variable = next(v for v in dashboard()["templating"]["list"] if v["name"] == "database")
    assert variable["query"]["query"] == "label_values(gateway_axis_database_up, database)"
    values = {series["metric"].get("database") for series in prometheus.query("gateway_axis_database_up")}
    missing = set(SERVED) - values
    assert not missing, f"label_values(gateway_axis_database_up, database) lacks {sorted(missing)}; got {values}"


def test_every_dashboard_expression_is_accepted_and_returns_data(prometheus: PrometheusServer) -> None:
    # As Grafana renders a multi-value selection of the two served databases in a regex matcher.
    (target,) = prometheus.targets()
    variables = {
        "database": f"({'|'.join(SERVED)})",
        # Grafana escapes regex characters in a variable's value, inside a PromQL string (so doubled).
        "instance": "(" + re.escape(target["labels"]["instance"]).replace("\\", "\\\\") + ")",
        "__rate_interval": RATE_INTERVAL,
    }
    rejected: list[str] = []
    empty: list[str] = []
    for query in dashboard_queries():
        expr = substitute(query.expr, variables)
        error, count = run(prometheus, expr)
        if error is not None:
            rejected.append(f"{query.source}: {error}")
        elif count == 0:
            lacking = [s for s in selectors(expr) if not prometheus.query(s)]
            empty.append(f"{query.source}: no data; metrics without data: {', '.join(lacking) or 'none'}")
    if rejected or empty:
        pytest.fail(
            "\n".join(
                report(title, problems)
                for title, problems in (("rejected by Prometheus", rejected), ("returning no data", empty))
                if problems
            ),
            pytrace=False,
        )


def test_every_alert_expression_is_accepted_and_its_metrics_have_data(prometheus: PrometheusServer) -> None:
    rejected: list[str] = []
    lacking: dict[str, list[str]] = {}
    for query in alert_queries():
        error, _ = run(prometheus, query.expr)
        if error is not None:
            rejected.append(f"{query.source}: {error}")
        for selector in selectors(query.expr):
            if not prometheus.query(selector):
                lacking.setdefault(selector, []).append(query.source.removeprefix("alert "))
    problems = [f"{selector} (in {', '.join(alerts)})" for selector, alerts in lacking.items()]
    if rejected or problems:
        pytest.fail(
            "\n".join(
                report(title, items)
                for title, items in (("rejected by Prometheus", rejected), ("metric selectors without data", problems))
                if items
            ),
            pytrace=False,
        )


def test_the_alerts_follow_the_gateway(prometheus: PrometheusServer) -> None:
    """land is unreachable: AxisDatabaseDown goes pending for it alone (the catalogued databases this gateway does
    not serve are pending, which is no alert). land was never connected, so no connection was lost: no
    AxisConnectionLost, whatever the plan's target (all of the catalogue by default, far from met). Nothing fails
    to be audited or counted, and the quality scan is fresh (and land, never scanned, was not connected 8 days
    ago)."""
    deadline = time.monotonic() + 30
    while True:
        alerts = {
            (alert["labels"]["alertname"], alert["labels"].get("database")): alert for alert in prometheus.alerts()
        }
        if ("AxisDatabaseDown", "land") in alerts:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"alerts after 30 s: {[alert['labels'] | alert['annotations'] for alert in alerts.values()]}")
        time.sleep(0.5)
    assert [key for key in alerts if key[0] == "AxisDatabaseDown"] == [("AxisDatabaseDown", "land")]
    down = alerts[("AxisDatabaseDown", "land")]
    assert down["state"] == "pending"  # for 2 minutes first
    assert down["labels"]["severity"] == "critical"
    assert down["annotations"]["summary"] == "National database land is down"
    assert down["annotations"]["runbook_url"] == "docs/runbooks.md#axisdatabasedown"
    quiet = {
        "AxisConnectionLost",
        "AxisHighLatency",
        "AxisAuditChainVerificationFailed",
        "AxisAuditWriteFailing",
        "AxisRateLimitStoreFailing",
        "QualityScanStale",
        "QualityNeverScanned",
        "ExchangeDeadLettersGrowing",
        "ExchangeWebhookDeliveriesFailing",
    }
    assert not {key for key in alerts if key[0] in quiet}
