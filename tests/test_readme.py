"""The README is a contract with users: its commands, metrics and error types must match the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main
from prometheus_client import REGISTRY

import gateway.metrics  # noqa: F401 - registers the gateway's metrics
from gateway.cli import app as cli_app
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


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def _resolve(command: Any, words: list[str]) -> tuple[Any, Any]:
    """The (sub)command ``words`` name from ``command`` (the words that name subcommands, as far as they do), and
    the innermost group on the way."""
    group = command
    for word in words:
        subcommands = getattr(command, "commands", None)
        if not subcommands or word not in subcommands:
            break
        command = subcommands[word]
        if getattr(command, "commands", None):
            group = command
    return command, group


OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def test_every_option_the_readme_names_exists() -> None:
    """Every ``--option`` of a ``gateway ...`` command the README shows (inline, in code blocks, and in the command
    table, where ``show ID`` after ``gateway clients list`` means ``gateway clients show ID``) is an option of that
    command."""
    root = typer.main.get_command(cli_app)
    shown: list[tuple[Any, str]] = []
    for block in re.findall(r"^```\w*\n(.*?)^```$", README, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            words = line.strip().removeprefix(".venv/bin/").split()
            if words and words[0] == "gateway":
                shown.append((_resolve(root, words[1:])[0], line))
    for row in README.splitlines():
        table_row = row.startswith("| `gateway")
        group = None
        for span in re.findall(r"`([^`\n]+)`", row.split(" | ")[0] if table_row else row):
            words = span.replace("\\|", " ").split()
            if words[0] == "gateway":
                command, group = _resolve(root, words[1:])
            elif table_row and group is not None and words[0] in group.commands:
                command, group = _resolve(group, words)
            else:
                continue
            shown.append((command, span))
    assert len(shown) > 40
    wrong = [
        f"{text}: {option}"
        for command, text in shown
        for option in OPTION.findall(text)
        if option not in _options(command)
    ]
    assert not wrong, wrong
