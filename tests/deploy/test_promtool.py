"""The Prometheus configuration and alert rules of deploy/prometheus, checked by promtool (Debian's prometheus
package), and the rules' unit tests run; plus what every alert must carry for the ops team."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ops_kit import (
    ALERTS,
    ALERTS_TEST,
    ALERTS_TESTS,
    PROMETHEUS_CONFIG,
    PROMETHEUS_DIR,
    ROOT,
    alert_rules,
    alert_unit_tests,
    load_yaml,
    shared_gauges,
    shared_gauges_per_instance,
)
from prometheus_server import require_promtool

from gateway.core.metrics import DATA_LATENCY_BUCKETS, HEALTH_CHECK_BUCKETS, LATENCY_BUCKETS
from gateway.core.settings import HealthPolicy

SEVERITIES = {"critical", "warning"}
# The conditions the ops kit must alert on, and the alerts that cover them.
REQUIRED = {
    "AxisGatewayDown": "2m",
    "AxisDatabaseDown": "2m",
    "AxisConnectionLost": "5m",
    "AxisHighErrorRatio": "2m",
    "AxisHighLatency": None,
    "AxisCircuitOpen": None,
    "AxisAuditChainVerificationFailed": None,
    "AxisAuditChainNotVerified": None,
    "AxisSigningKeyNearExpiry": None,
    "AxisClientCertificateNearExpiry": None,
    "AxisAuditWriteFailing": "1m",
    "AxisGatewayDatabaseUnreachable": "1m",
    "AxisRateLimitStoreFailing": "1m",
    "ExchangeDeadLettersGrowing": None,
    "ExchangeDeadLettersWaiting": None,
    "ExchangeWebhookDeliveriesFailing": None,
    "QualityScanStale": None,
}
RUNBOOKS = ROOT / "docs" / "runbooks.md"
_DURATION = re.compile(r"(\d+)(ms|[smhdwy])")
#: ``histogram_quantile(...)`` over a histogram's buckets, compared with a threshold in seconds.
_QUANTILE_THRESHOLD = re.compile(r"histogram_quantile\(.*?\b(\w+)_bucket\b.*?\)\s*>\s*([\d.]+)", re.DOTALL)
#: The buckets of the gateway's latency histograms (tests/gateway/test_operations.py checks them on /metrics).
BUCKETS = {
    "gateway_request_duration_seconds": DATA_LATENCY_BUCKETS,
    "gateway_upstream_request_duration_seconds": DATA_LATENCY_BUCKETS,
    "gateway_http_request_duration_seconds": LATENCY_BUCKETS,
    "gateway_exchange_delivery_duration_seconds": LATENCY_BUCKETS,
    "gateway_health_check_duration_seconds": HEALTH_CHECK_BUCKETS,
}
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_promtool(), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_configuration_and_its_rule_files() -> None:
    result = promtool("check", "config", PROMETHEUS_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    assert f"{len(alert_rules())} rules found" in result.stdout + result.stderr


def test_promtool_accepts_the_alert_rules() -> None:
    result = promtool("check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout + result.stderr


def test_the_alert_unit_tests_pass() -> None:
    result = promtool("test", "rules", *ALERTS_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).count("SUCCESS") == len(ALERTS_TESTS)
    for path in ALERTS_TESTS:
        assert load_yaml(path)["rule_files"] == [ALERTS.name], path


def test_a_broken_alert_fails_its_unit_test(tmp_path: Path) -> None:
    """The unit tests pin the alerts' timing: AxisDatabaseDown firing after 1 minute instead of 2 is caught."""
    text = ALERTS.read_text(encoding="utf-8")
    marker = "      - alert: AxisDatabaseDown\n"
    head, _, tail = text.partition(marker)
    assert tail, "AxisDatabaseDown not found"
    tail = tail.replace("for: 2m", "for: 1m", 1)
    (tmp_path / "alerts.yml").write_text(head + marker + tail, encoding="utf-8")
    (tmp_path / "alerts_test.yml").write_text(ALERTS_TEST.read_text(encoding="utf-8"), encoding="utf-8")
    result = promtool("test", "rules", tmp_path / "alerts_test.yml")
    assert result.returncode != 0
    assert "alertname: AxisDatabaseDown, time: 3m" in result.stdout + result.stderr


def test_the_configuration_scrapes_the_gateway_every_15_seconds_with_the_rules() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    rule_files = [PROMETHEUS_DIR / name for name in config["rule_files"]]
    assert rule_files == [ALERTS]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "axis-gateway"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job.get("scrape_interval", config["global"]["scrape_interval"]) == "15s"
    assert job["static_configs"] == [{"targets": ["gateway:8000"]}]


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(set(names)) == len(names), "an alert name is used twice"
    assert set(REQUIRED) <= set(names)
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
    for name, duration in REQUIRED.items():
        rule = next(rule for rule in rules if rule["alert"] == name)
        if duration is not None:
            assert rule["for"] == duration, name


def test_per_database_alerts_name_the_database() -> None:
    for rule in alert_rules():
        if "by (database" in rule["expr"] or rule["expr"].lstrip().startswith(
            ("gateway_axis_database_", "gateway_circuit")
        ):
            assert "{{ $labels.database }}" in rule["annotations"]["summary"], rule["alert"]
            assert "{{ $labels.database }}" in rule["annotations"]["description"], rule["alert"]


def seconds(duration: str) -> float:
    """A Prometheus duration (``1d2h30m``) in seconds."""
    parts = _DURATION.findall(duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _labels(expected: dict[str, Any]) -> frozenset[tuple[str, str]]:
    return frozenset((str(k), str(v)) for k, v in expected["exp_labels"].items())


def _edges(alert: str) -> tuple[list[float], list[float]]:
    """The evaluation times at which a unit test expects ``alert`` to fire, and those at which it expects an alert
    that fired at an earlier time of the same test to be gone (resolved)."""
    firing: list[float] = []
    resolved: list[float] = []
    for test in alert_unit_tests():
        cases = sorted(
            (seconds(case["eval_time"]), case) for case in test.get("alert_rule_test", []) if case["alertname"] == alert
        )
        fired: set[frozenset[tuple[str, str]]] = set()
        for at, case in cases:
            now = {_labels(expected) for expected in case.get("exp_alerts") or []}
            if fired - now:
                resolved.append(at)
            if now:
                firing.append(at)
            fired |= now
    return firing, resolved


@pytest.mark.parametrize("alert", [rule["alert"] for rule in alert_rules()])
def test_every_alert_has_a_unit_test_of_its_firing_and_its_resolving_edge(alert: str) -> None:
    firing, resolved = _edges(alert)
    assert firing, f"no unit test where {alert} fires"
    assert resolved, f"no unit test where {alert} fires and then resolves"
    cases = [case for test in alert_unit_tests() for case in test.get("alert_rule_test", [])]
    for case in cases:
        if case["alertname"] != alert:
            continue
        for expected in case.get("exp_alerts") or []:
            assert expected["exp_labels"]["severity"] in SEVERITIES
            assert expected.get("exp_annotations"), f"{alert}: the annotations are not checked"


def runbook_anchors() -> set[str]:
    """The anchors of docs/runbooks.md's headings (not the comments of its code blocks), as GitHub and GitLab make
    them."""
    anchors = set()
    text = re.sub(r"^```.*?^```$", "", RUNBOOKS.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    for line in text.splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            anchor = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(anchor.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_links_its_runbook_section(rule: dict[str, Any]) -> None:
    url = rule["annotations"].get("runbook_url")
    assert url == f"docs/runbooks.md#{rule['alert'].lower()}", rule["alert"]
    path, _, anchor = url.partition("#")
    assert (ROOT / path).is_file()
    assert anchor in runbook_anchors(), f"docs/runbooks.md has no section #{anchor}"


#: The sections of docs/runbooks.md that are no alert's: the page's title, and how to ask an instance, which the
#: alerts' sections link to.
RUNBOOK_GENERAL_SECTIONS = {"runbooks", "asking-an-instance"}


def test_every_runbook_section_is_an_alert() -> None:
    assert runbook_anchors() >= RUNBOOK_GENERAL_SECTIONS
    sections = runbook_anchors() - RUNBOOK_GENERAL_SECTIONS
    assert sections == {rule["alert"].lower() for rule in alert_rules()}


def test_alerts_on_the_shared_state_fire_once_whatever_the_number_of_instances() -> None:
    """Every instance exports the state shared through the gateway's database: an alert on it aggregates over the
    instances (else it fires once per replica, up to the autoscaler's maximum), and names no instance."""
    gauges = shared_gauges()
    assert {
        "gateway_axis_database_up",
        "gateway_audit_chain_verified",
        "gateway_signing_key_expiry_timestamp_seconds",
    } <= gauges
    assert shared_gauges_per_instance("gateway_axis_database_up == 0", gauges), "the check finds a copy per instance"
    assert shared_gauges_per_instance("sum by (database) (gateway_axis_database_up)", gauges)
    assert shared_gauges_per_instance("max by (instance, database) (gateway_axis_database_up)", gauges)
    reading = 0
    for rule in alert_rules():
        per_instance = shared_gauges_per_instance(rule["expr"], gauges)
        assert not per_instance, f"{rule['alert']} fires once per instance on {per_instance}"
        if any(gauge in rule["expr"] for gauge in gauges):
            reading += 1
            annotations = " ".join(rule["annotations"].values())
            assert "$labels.instance" not in annotations, f"{rule['alert']} names an instance it does not have"
    assert reading >= 12


def test_every_unit_test_of_a_shared_state_alert_has_two_instances() -> None:
    """The unit tests show it: two instances export the state, one alert fires."""
    gauges = shared_gauges()
    shared = {rule["alert"] for rule in alert_rules() if any(gauge in rule["expr"] for gauge in gauges)}
    shown = set()
    for test in alert_unit_tests():
        instances = {
            re.search(r'instance="([^"]+)"', series["series"]).group(1)  # type: ignore[union-attr]
            for series in test["input_series"]
            if series["series"].split("{")[0] in gauges
        }
        if len(instances) < 2:
            continue
        for case in test.get("alert_rule_test", []):
            if case["alertname"] in shared and case.get("exp_alerts"):
                assert all("instance" not in alert["exp_labels"] for alert in case["exp_alerts"]), case["alertname"]
                shown.add(case["alertname"])
    assert shared - shown == set(), f"no unit test with two instances: {sorted(shared - shown)}"


def test_no_alert_compares_the_connected_count_with_the_plan_target() -> None:
    """The plan's target is a reporting figure: a loss is measured against what was connected."""
    for rule in alert_rules():
        assert "gateway_axis_connected_target" not in rule["expr"], rule["alert"]


def test_a_slow_error_ratio_alert_fails_its_resolving_test(tmp_path: Path) -> None:
    """Without its 1-minute window, AxisHighErrorRatio would still fire after the failures stopped: caught."""
    text = ALERTS.read_text(encoding="utf-8")
    marker = "      - alert: AxisHighErrorRatio\n"
    head, _, tail = text.partition(marker)
    rule, _, rest = tail.partition("\n\n")
    assert "[1m]" in rule
    (tmp_path / "alerts.yml").write_text(head + marker + rule.replace("[1m]", "[5m]") + "\n\n" + rest, "utf-8")
    (tmp_path / "alerts_test.yml").write_text(ALERTS_TEST.read_text(encoding="utf-8"), encoding="utf-8")
    result = promtool("test", "rules", tmp_path / "alerts_test.yml")
    assert result.returncode != 0
    assert "alertname: AxisHighErrorRatio, time: 16m" in result.stdout + result.stderr


def test_the_database_down_test_goes_from_up_to_down_and_fires_after_2_minutes() -> None:
    tests = load_yaml(ALERTS_TEST)["tests"]
    test = next(test for test in tests if any(c["alertname"] == "AxisDatabaseDown" for c in test["alert_rule_test"]))
    series = {s["series"]: s["values"] for s in test["input_series"]}
    up = next(
        values
        for name, values in series.items()
        if name.startswith("gateway_axis_database_up") and "population" in name
    )
    assert up.startswith("1 1 0")  # up at 0m and 1m, down from 2m
    by_time = {case["eval_time"]: case["exp_alerts"] for case in test["alert_rule_test"]}
    assert by_time["3m"] == []
    assert by_time["4m"][0]["exp_labels"]["database"] == "population"


def test_latency_thresholds_of_the_alerts_are_bucket_boundaries() -> None:
    """A quantile compared with a threshold is exact only at a bucket boundary, and can exceed it only with a bucket
    above it (the quantile of the +Inf bucket is the highest boundary): fewer buckets must keep both."""
    found = []
    for rule in alert_rules():
        for histogram, threshold in _QUANTILE_THRESHOLD.findall(rule["expr"]):
            bounds = BUCKETS[histogram]
            assert float(threshold) in bounds, (rule["alert"], threshold, bounds)
            assert max(bounds) > float(threshold), (rule["alert"], threshold, bounds)
            found.append(histogram)
    assert "gateway_request_duration_seconds" in found
    # The state a connection is degraded in (its p95 over the default threshold) is readable from the same buckets.
    for histogram in found:
        assert HealthPolicy().degraded_latency_seconds in BUCKETS[histogram]
