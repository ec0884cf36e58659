"""The README and the documentation are a contract with users: their commands, options, metrics and error types
must match the code. The README stays short (what it is, the two commands, a map of ``docs/``) and its links lead
somewhere; the pages of ``docs/`` are checked by mkdocs in strict mode (``tests/docs/test_site.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main
from prometheus_client import REGISTRY

import gateway.core.metrics  # noqa: F401 - registers the gateway's metrics
from gateway.cli import app as cli_app
from gateway.core.problems import PROBLEM_TYPES
from gateway.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
PAGES = {path: path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]}
LINK = re.compile(r"\]\(([^)\s]+)\)")

DEMO_COMMAND = "python3 -m venv .venv && .venv/bin/pip install '.[demo]' ./demo && .venv/bin/gateway demo"
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' -e ./demo && .venv/bin/pytest"


def test_readme_gives_the_two_commands() -> None:
    """The README gives them, and so does the documentation's home page."""
    for text in (README, PAGES[DOCS / "index.md"]):
        assert DEMO_COMMAND in text
        assert TEST_COMMAND in text


def test_the_readme_is_short_and_maps_every_page() -> None:
    assert len(README.encode()) < 6000
    assert README.count("```sh") == 2
    linked = set(LINK.findall(README))
    missing = sorted(
        path.relative_to(ROOT).as_posix()
        for path in DOCS.glob("*.md")
        if not any(target.partition("#")[0] == path.relative_to(ROOT).as_posix() for target in linked)
    )
    assert not missing, f"pages of docs/ the README's map does not link: {missing}"


def _github_anchors(text: str) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_link_of_the_readme_leads_somewhere() -> None:
    """The README is not part of the documentation site (whose links mkdocs checks), so its links are checked
    here: each names a file of the repository, and a section of it that exists."""
    targets = [target for target in LINK.findall(README) if not target.startswith(("http://", "https://"))]
    assert len(targets) > 20
    for target in targets:
        path, _, anchor = target.partition("#")
        resolved = ROOT / path
        assert resolved.exists(), target
        if anchor:
            assert anchor in _github_anchors(resolved.read_text(encoding="utf-8")), target


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in ci
    assert "set -euo pipefail" in ci
    assert "GATEWAY_TEST_DATABASE_URL=postgresql://" in ci
    assert re.search(r"^(?:\w+=\S+ )*\.venv/bin/mkdocs build --strict ", ci, re.MULTILINE), (
        "CI builds the documentation site"
    )


def test_every_gateway_metric_is_documented() -> None:
    names = {
        metric.name.removesuffix("_total") if metric.type == "counter" else metric.name
        for metric in REGISTRY.collect()
        if metric.name.startswith("gateway_")
    }
    assert names
    documented = set(re.findall(r"^\| `(gateway_[a-z_]+)`", PAGES[DOCS / "metrics.md"], re.MULTILINE))
    missing = sorted(n for n in names if n not in documented and f"{n}_total" not in documented)
    assert not missing, f"metrics missing from docs/metrics.md: {missing}"


def test_every_problem_type_is_documented() -> None:
    api = PAGES[DOCS / "api.md"]
    missing = sorted(slug for slug in PROBLEM_TYPES if f"`/problems/{slug}`" not in api)
    assert not missing, f"problem types missing from docs/api.md: {missing}"


def test_every_setting_is_documented() -> None:
    """Each setting has its variable in docs/configuration.md (``GATEWAY_NAME``, or ``GATEWAY_NAME__<ID>`` for one
    set per database)."""
    documented = set(re.findall(r"`(GATEWAY_[A-Z0-9_]+?)(?:__<|`)", PAGES[DOCS / "configuration.md"]))
    missing = sorted({f"GATEWAY_{name.upper()}" for name in Settings.model_fields} - documented)
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


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


def _unknown_subcommand(command: Any, words: list[str]) -> str | None:
    """The first of ``words`` that stands where a subcommand of ``command`` goes and is none (``gateway clients
    delete``), or None. Options of the groups on the way (``--config FILE``) are passed over."""
    words = list(words)
    while words and getattr(command, "commands", None):
        word = words.pop(0)
        if word.startswith("-"):
            option = next((param for param in command.params if word in param.opts), None)
            if option is not None and not getattr(option, "is_flag", False) and words:
                words.pop(0)
            continue
        if word in command.commands:
            command = command.commands[word]
        elif re.fullmatch(r"[a-z][a-z-]+", word):
            return word
        else:
            return None
    return None


OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def test_every_option_the_docs_name_exists() -> None:
    """Every ``gateway ...`` command the README and the pages of ``docs/`` show (inline, in code blocks, and in the
    command table, where ``show ID`` after ``gateway clients list`` means ``gateway clients show ID``) exists, and
    every ``--option`` of it is an option of that command."""
    root = typer.main.get_command(cli_app)
    shown: list[tuple[Any, str]] = []
    unknown: list[str] = []
    text = "\n".join(PAGES.values())
    for block in re.findall(r"^```\w*\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            words = line.strip().removeprefix(".venv/bin/").split()
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VARIABLE=value gateway ...
                words = words[1:]
            if words and words[0] == "gateway":
                shown.append((_resolve(root, words[1:])[0], line))
                unknown.append(f"{line}: {_unknown_subcommand(root, words[1:])}")
    for row in text.splitlines():
        table_row = row.startswith("| `gateway")
        group = None
        for span in re.findall(r"`([^`\n]+)`", row.split(" | ")[0] if table_row else row):
            words = span.replace("\\|", " ").split()
            if words[0] == "gateway":
                command, group = _resolve(root, words[1:])
                unknown.append(f"{span}: {_unknown_subcommand(root, words[1:])}")
            elif table_row and group is not None and words[0] in group.commands:
                command, group = _resolve(group, words)
            else:
                continue
            shown.append((command, span))
    assert len(shown) > 40
    # Log lines the pages quote (gateway/core/outages.py), not commands.
    logged = ("gateway database unavailable", "gateway database available again")
    unknown = [entry for entry in unknown if not entry.endswith(": None") and not entry.startswith(logged)]
    assert not unknown, f"no such gateway command: {unknown}"
    wrong = [
        f"{text}: {option}"
        for command, text in shown
        for option in OPTION.findall(text)
        if option not in _options(command)
    ]
    assert not wrong, wrong
