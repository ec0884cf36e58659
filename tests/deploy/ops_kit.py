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
