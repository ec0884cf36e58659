"""The Grafana dashboard of deploy/grafana and its provisioning: well-formed, complete, and wired to the
provisioned Prometheus data source."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from ops_kit import (
    DASHBOARD,
    GRAFANA_DIR,
    dashboard,
    dashboard_queries,
    load_yaml,
    panels,
    selectors,
    shared_gauges,
    shared_gauges_per_instance,
)

from gateway.axis._states import STATES

GRID_WIDTH = 24
# Panel titles the ops team looks for, and a metric each must show.
REQUIRED_PANELS = {
    "Connected / total": "gateway_axis_databases",
    "Database state": "gateway_axis_database_state",
    "Request rate": "gateway_requests_total",
    "Error ratio (5xx)": "gateway_requests_total",
    "Latency percentiles": "gateway_request_duration_seconds_bucket",
    "Upstream latency (p95)": "gateway_upstream_request_duration_seconds_bucket",
    "Upstream errors by reason": "gateway_upstream_errors_total",
    "Circuit state": "gateway_circuit_state",
    "Rate limited": "gateway_rate_limited_total",
    "Authentication failures": "gateway_auth_failures_total",
    "Health-check latency (p95)": "gateway_health_check_duration_seconds_bucket",
    "Audit events": "gateway_audit_events_total",
    "Audit write failures": "gateway_audit_write_failures_total",
    "Rate-limit store errors": "gateway_rate_limit_store_errors_total",
    "Token endpoint": "gateway_http_requests_total",
    "Gateway database read failures": "gateway_shared_state_read_failures_total",
    "Webhook deliveries": "gateway_webhook_deliveries_total",
    "Since the last quality scan": "gateway_data_quality_last_scan_timestamp_seconds",
    "Data quality trend (scans)": "gateway_data_quality_ratio",
    "Availability, last 30 days": "gateway_axis_database_up",
    "HTTP requests by route": "gateway_http_requests_total",
    "HTTP responses by status": "gateway_http_requests_total",
    "HTTP latency (p95) by route": "gateway_http_request_duration_seconds_bucket",
    "HTTP error ratio (5xx)": "gateway_http_requests_total",
    "Token endpoint latency": "gateway_http_request_duration_seconds_bucket",
}
#: An aggregation over every series of its argument (``max(...)``, ``sum by (state) (...)``).
AGGREGATION = re.compile(r"\b(?:min|max|sum|avg|count)\s*(?:by\s*\(([^)]*)\)\s*)?\(")


@pytest.fixture(scope="module")
def board() -> dict[str, Any]:
    return dashboard()


def test_the_dashboard_is_a_grafana_dashboard(board: dict[str, Any]) -> None:
    assert board["uid"] == "axis-gateway"
    assert board["title"]
    assert 36 <= board["schemaVersion"] <= 41
    assert board["time"]["from"].startswith("now-")
    assert "id" not in board or board["id"] is None  # provisioning assigns the id


def test_panel_ids_are_unique_and_every_panel_has_a_title_and_type(board: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in panels(board)]
    assert all(isinstance(panel_id, int) and panel_id > 0 for panel_id in ids)
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        assert panel["title"], panel["id"]
        assert panel["type"] in {"row", "stat", "gauge", "bargauge", "timeseries", "state-timeline", "table"}


def test_grid_positions_fit_the_grid_and_do_not_overlap(board: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], int] = {}
    for panel in panels(board):
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"}, panel["id"]
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0, panel["id"]
        assert grid["x"] + grid["w"] <= GRID_WIDTH, panel["id"]
        for cell in itertools.product(range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])):
            assert cell not in cells, f"panels {cells[cell]} and {panel['id']} overlap at {cell}"
            cells[cell] = panel["id"]


def test_every_target_has_an_expression_a_unique_ref_id_and_the_datasource_variable(board: dict[str, Any]) -> None:
    for panel in panels(board):
        if panel["type"] == "row":
            assert not panel.get("targets")
            continue
        assert panel["targets"], f"panel {panel['id']} has no query"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["id"]
        for target in panel["targets"]:
            assert target["expr"].strip(), f"panel {panel['id']} target {target['refId']}"
            assert target["datasource"] == panel["datasource"]


def test_the_template_variables(board: dict[str, Any]) -> None:
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    database = variables["database"]
    assert database["type"] == "query"
    assert database["query"]["query"] == "label_values(gateway_axis_database_up, database)"
    assert database["definition"] == database["query"]["query"]
    assert database["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert database["multi"] and database["includeAll"]
    instance = variables["instance"]
    assert instance["type"] == "query"
    assert instance["query"]["query"] == "label_values(gateway_axis_database_up, instance)"
    assert instance["definition"] == instance["query"]["query"]
    assert instance["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert instance["multi"] and instance["includeAll"] and instance["allValue"] == ".*"


def test_every_gateway_metric_is_filtered_by_the_instance_variable(board: dict[str, Any]) -> None:
    for query in dashboard_queries(board):
        for selector in selectors(query.expr, names=()):
            assert 'instance=~"$instance"' in selector, f"{query.source}: {selector}"


def test_queries_use_only_the_defined_variables_and_filter_per_database_metrics(board: dict[str, Any]) -> None:
    defined = {variable["name"] for variable in board["templating"]["list"]} | {"__rate_interval"}
    for query in dashboard_queries(board):
        used = set(re.findall(r"\$\{?(\w+)", query.expr))
        assert used <= defined, f"{query.source}: {used - defined}"
        for selector in selectors(query.expr):
            per_database = selector.startswith(
                (
                    "gateway_requests",
                    "gateway_request_duration",
                    "gateway_upstream",
                    "gateway_circuit",
                    "gateway_health",
                )
            ) or selector.startswith("gateway_axis_database_state")
            if per_database:
                assert 'database=~"$database"' in selector, f"{query.source}: {selector}"


@pytest.mark.parametrize(("title", "metric"), REQUIRED_PANELS.items())
def test_the_required_panels_are_there(board: dict[str, Any], title: str, metric: str) -> None:
    by_title = {panel["title"]: panel for panel in panels(board)}
    assert title in by_title, f"no panel {title!r}"
    metrics = {
        selector.split("{")[0] for target in by_title[title]["targets"] for selector in selectors(target["expr"])
    }
    assert metric in metrics


def test_the_headline_shows_connected_and_total(board: dict[str, Any]) -> None:
    headline = next(panel for panel in panels(board) if panel["title"] == "Connected / total")
    assert headline["type"] == "stat"
    assert headline["gridPos"]["y"] <= 1 and headline["gridPos"]["x"] == 0
    legends = [target["legendFormat"] for target in headline["targets"]]
    assert legends == ["connected", "total"]


def test_the_state_timeline_maps_every_state(board: dict[str, Any]) -> None:
    timeline = next(panel for panel in panels(board) if panel["title"] == "Database state")
    (mapping,) = timeline["fieldConfig"]["defaults"]["mappings"]
    texts = {option["text"] for option in mapping["options"].values()}
    assert texts == {state.value for state in STATES}  # every state the axis can export
    for state in texts:
        assert f'state="{state}"' in timeline["targets"][0]["expr"]


def test_provisioning_points_grafana_at_prometheus_and_the_dashboards() -> None:
    (datasource,) = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["isDefault"] is True
    (provider,) = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "axis-gateway.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert DASHBOARD.parent.name == "dashboards"


def test_stat_panels_show_one_value_whatever_the_number_of_replicas(board: dict[str, Any]) -> None:
    """Every replica exports the shared state (audit chain, signing keys, the axis): a stat aggregates over the
    instances instead of showing one value per replica."""
    stats = [panel for panel in panels(board) if panel["type"] in ("stat", "gauge")]
    assert {"Audit chain", "Signing key: rotate within", "Connected / total"} <= {panel["title"] for panel in stats}
    for panel in stats:
        for target in panel["targets"]:
            outer = AGGREGATION.match(re.sub(r"^time\(\)\s*-\s*", "", target["expr"].strip()))
            assert outer, f"{panel['title']}: {target['expr']}"
            assert "instance" not in (outer.group(1) or ""), f"{panel['title']}: {target['expr']}"


def test_the_shared_state_is_taken_once_whatever_the_number_of_replicas(board: dict[str, Any]) -> None:
    """Every instance exports the same values of the gauges read from the gateway's database: a panel takes them
    once (``max by (database)``, ...) instead of drawing one bar or line per replica, or summing the copies."""
    gauges = shared_gauges()
    per_instance = {
        query.source: found
        for query in dashboard_queries(board)
        if (found := shared_gauges_per_instance(query.expr, gauges))
    }
    assert not per_instance, per_instance


def test_the_http_latency_histogram_is_never_read_by_status(board: dict[str, Any]) -> None:
    """``gateway_http_request_duration_seconds`` has no status label (the counter has)."""
    for query in dashboard_queries(board):
        for selector in selectors(query.expr):
            if selector.startswith("gateway_http_request_duration_seconds"):
                assert "status" not in selector, f"{query.source}: {selector}"


def test_the_token_endpoint_latency_shows_percentiles_of_its_route(board: dict[str, Any]) -> None:
    panel = next(panel for panel in panels(board) if panel["title"] == "Token endpoint latency")
    assert [target["legendFormat"] for target in panel["targets"]] == ["p50", "p95", "p99"]
    for target in panel["targets"]:
        assert 'route="/oauth/token"' in target["expr"] and target["expr"].startswith("histogram_quantile(")
