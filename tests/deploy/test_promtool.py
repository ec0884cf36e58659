"""The Prometheus configuration and alert rules of deploy/prometheus, checked by promtool (Debian's prometheus
package), and the rules' unit tests run; plus what every alert must carry for the ops team."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from ops_kit import ALERTS, ALERTS_TEST, PROMETHEUS_CONFIG, PROMETHEUS_DIR, alert_rules, load_yaml
from prometheus_server import require_promtool

SEVERITIES = {"critical", "warning"}
# The conditions the ops kit must alert on, and the alerts that cover them.
REQUIRED = {
    "AxisDatabaseDown": "2m",
    "AxisConnectedBelowTarget": None,
    "AxisHighErrorRatio": "5m",
    "AxisHighLatency": None,
    "AxisCircuitOpen": None,
    "AxisAuditChainVerificationFailed": None,
    "AxisAuditChainNotVerified": None,
    "AxisSigningKeyNearExpiry": None,
    "AxisClientCertificateNearExpiry": None,
}


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
    result = promtool("test", "rules", ALERTS_TEST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


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


def _tests_of(alert: str) -> list[dict[str, Any]]:
    cases = [case for test in load_yaml(ALERTS_TEST)["tests"] for case in test.get("alert_rule_test", [])]
    return [case for case in cases if case["alertname"] == alert]


@pytest.mark.parametrize("alert", [rule["alert"] for rule in alert_rules()])
def test_every_alert_has_a_firing_and_a_quiet_unit_test(alert: str) -> None:
    cases = _tests_of(alert)
    firing = [case for case in cases if case.get("exp_alerts")]
    quiet = [case for case in cases if not case.get("exp_alerts")]
    assert firing, f"no unit test where {alert} fires"
    assert quiet, f"no unit test where {alert} stays quiet"
    for case in firing:
        for expected in case["exp_alerts"]:
            assert expected["exp_labels"]["severity"] in SEVERITIES
            assert expected.get("exp_annotations"), f"{alert}: the annotations are not checked"


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


def test_the_connected_below_target_test_drops_from_12_to_11_against_12() -> None:
    tests = load_yaml(ALERTS_TEST)["tests"]
    test = next(
        t
        for t in tests
        if any(c.get("exp_alerts") and c["alertname"] == "AxisConnectedBelowTarget" for c in t["alert_rule_test"])
    )
    series = {s["series"]: s["values"] for s in test["input_series"]}
    connected = next(
        v for k, v in series.items() if k.startswith("gateway_axis_databases") and 'state="connected"' in k
    )
    target = next(v for k, v in series.items() if k.startswith("gateway_axis_connected_target"))
    assert connected.startswith("12 12 11")
    assert target.startswith("12x")
