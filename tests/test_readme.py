"""The README is a contract with users: its commands, metrics and error types must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY

import gateway.metrics  # noqa: F401 - registers the gateway's metrics
from gateway.problems import PROBLEM_TYPES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

DEMO_COMMAND = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/gateway demo"
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest"


def test_readme_gives_the_two_commands() -> None:
    assert DEMO_COMMAND in README
    assert TEST_COMMAND in README


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in ci
    assert "set -euo pipefail" in ci
    assert "GATEWAY_TEST_DATABASE_URL=postgresql://" in ci


def test_every_gateway_metric_is_documented() -> None:
    names = {
        metric.name.removesuffix("_total") if metric.type == "counter" else metric.name
        for metric in REGISTRY.collect()
        if metric.name.startswith("gateway_")
    }
    assert names
    documented = set(re.findall(r"`(gateway_[a-z_]+)`", README))
    missing = sorted(n for n in names if n not in documented and f"{n}_total" not in documented)
    assert not missing, f"metrics missing from the README: {missing}"


def test_every_problem_type_is_documented() -> None:
    missing = sorted(slug for slug in PROBLEM_TYPES if f"/problems/{slug}" not in README)
    assert not missing, f"problem types missing from the README: {missing}"
