"""The files of the ops kit in deploy/, read for the tests: paths, the dashboard's panels and queries, the alert rules,
and the metric selectors of a PromQL expression."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
#: The unit tests that need days of history, evaluated every 10 minutes rather than every minute.
ALERTS_LONG_TEST = PROMETHEUS_DIR / "alerts_long_test.yml"
ALERTS_TESTS = (ALERTS_TEST, ALERTS_LONG_TEST)
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "axis-gateway.json"
COMPOSE = ROOT / "docker-compose.yml"

# A metric name in PromQL, not inside a string, with its label matchers if any.
_SELECTOR = re.compile(r'(?<![\w"])([A-Za-z_:][\w:]*)(\s*\{[^}]*\})?')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


@dataclass(frozen=True)
class Query:
    """One PromQL expression of the ops kit and where it comes from."""

    source: str
    expr: str


def dashboard_queries(board: dict[str, Any] | None = None) -> list[Query]:
    board = board or dashboard()
    return [
        Query(f"panel {panel['id']} {panel['title']!r} target {target['refId']}", target["expr"])
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def alert_queries() -> list[Query]:
    return [Query(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def substitute(expr: str, variables: dict[str, str]) -> str:
    """``expr`` with Grafana's ``$name`` / ``${name}`` variables replaced; every ``$`` must be accounted for."""
    for name, value in sorted(variables.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    if "$" in expr:
        raise ValueError(f"unsubstituted variable in {expr!r}")
    return expr


def selectors(expr: str, prefixes: tuple[str, ...] = ("gateway_",), names: tuple[str, ...] = ("up",)) -> list[str]:
    """The metric selectors of ``expr`` (``name{matchers}``) for metrics starting with one of ``prefixes`` or named
    in ``names``, in order, without duplicates."""
    found: list[str] = []
    blanked = _STRING.sub(lambda match: " " * len(match.group(0)), expr)
    for match in _SELECTOR.finditer(blanked):
        name = match.group(1)
        if not (name.startswith(prefixes) or name in names):
            continue
        selector = name
        if match.group(2):
            start, end = match.span(2)
            selector += re.sub(r"\s+", " ", expr[start:end].strip())
        if selector not in found:
            found.append(selector)
    return found


def alert_unit_tests() -> list[dict[str, Any]]:
    """The unit tests of every alert test file (``tests:`` of each)."""
    return [test for path in ALERTS_TESTS for test in load_yaml(path)["tests"]]


def shared_gauges() -> frozenset[str]:
    """The gauges every gateway instance exports alike: the state shared through the gateway's database (the axis,
    the audit chain's verification, key and certificate expiry, the exchange's queue, data quality), as the
    gateway's collectors of that state name them."""
    from gateway.core import metrics

    ops = metrics.OpsCollector()
    ops.snapshot = metrics.OpsSnapshot(
        states={"population": "connected"},
        states_all=("connected", "down"),
        up_states=frozenset({"connected"}),
        connected_target=1,
        last_success={"population": 1.0},
        audit_verified=True,
        audit_good_at=1.0,
        signing_key_expiry={"kid": 1.0},
        certificate_expiry={("client", "kid"): 1.0},
        exchange_databases=("population",),
    )
    quality = metrics.QualityCollector()
    quality.snapshot = metrics.QualitySnapshot(
        counts={}, served=("population",), submitting=("population",), last_scan={"population": 1.0}
    )
    return frozenset(family.name for collector in (ops, quality) for family in collector.collect())


#: What opens a parenthesis: a label list (``by (``, ``on (``, ...), else a function or aggregation and its
#: grouping (``max by (job, database) (``), else a plain group.
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*$")
_CALL = re.compile(r"\b(\w+)\s*(?:(by|without)\s*\(([^)]*)\)\s*)?$")


def _enclosing_calls(blanked: str, position: int) -> list[tuple[str, str | None, set[str]]]:
    """The calls whose parentheses enclose ``position`` of ``blanked`` (an expression with its strings blanked), from
    the outermost: (function or aggregation, ``by``/``without`` or None, the labels of that clause)."""
    stack: list[tuple[str, str | None, set[str]]] = []
    for index, char in enumerate(blanked[:position]):
        if char == "(":
            before = blanked[:index]
            call = _CALL.search(before)
            if _LABEL_LIST.search(before):
                stack.append(("labels", None, set()))
            elif call:
                labels = {label.strip() for label in (call.group(3) or "").split(",") if label.strip()}
                stack.append((call.group(1), call.group(2), labels))
            else:
                stack.append(("", None, set()))
        elif char == ")" and stack:
            stack.pop()
    return stack


def shared_gauges_per_instance(expr: str, gauges: frozenset[str]) -> list[str]:
    """The selectors of ``gauges`` in ``expr`` that are not taken once across the instances: not inside a ``min``
    or ``max`` that drops the ``instance`` label. Every instance exports the same values of such a gauge, so
    without it a query shows (and an alert fires) once per instance, and a ``sum`` counts each value as often."""
    blanked = _STRING.sub(lambda match: " " * len(match.group(0)), expr)
    found = []
    for match in _SELECTOR.finditer(blanked):
        if match.group(1) not in gauges:
            continue
        once = any(
            name in {"min", "max"} and (clause is None or (clause == "by") != ("instance" in labels))
            for name, clause, labels in _enclosing_calls(blanked, match.start())
        )
        if not once:
            found.append(expr[match.start() : match.end()].strip())
    return found
