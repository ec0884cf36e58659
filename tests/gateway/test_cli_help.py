"""The ``gateway`` command's help: it is built without loading the gateway's heavy parts, every boolean option is a
flag and is listed as one, and ``connector new --directory`` says where the package goes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from gateway.cli import app
from gateway.cli.clients import StatusChoice
from gateway.cli.main import CONFIG_ENV
from gateway.core.settings import CONFIG_ENV as SETTINGS_CONFIG_ENV
from gateway.identity.models import ClientStatus

#: Modules that loading the command, or printing any help, must not import (together they took seconds to load).
#: Not pydantic: typer itself converts the options' values with it (but not for ``gateway --help``).
HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "pydantic_settings",
    "httpx",
    "rich",
    "asyncio",
    "connectors",
    "contracts",
    "simulators",
    "gateway.core.settings",
    "gateway.http.app",
    "gateway.core.db",
    "gateway.tables",
    "gateway.records.registry",
)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every group and command under ``command`` (typer's click objects), with the words that call it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_group_and_command_is_walked() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "clients", "clients list", "grants list", "connector new", "axis report", "db upgrade"} <= paths


def test_help_loads_none_of_the_heavy_modules() -> None:
    """Every help (the command's, each group's, each command's) in one fresh interpreter: the modules it imported."""
    script = f"""
import json, sys
from typer.testing import CliRunner
from gateway.cli import app
paths = {json.dumps([list(path) for path, _ in COMMANDS])}
for path in paths:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, (path, result.output)
heavy = {HEAVY!r}
loaded = [name for name, module in sys.modules.items() if module is not None]  # None: marked absent, not loaded
print(json.dumps(sorted(m for m in loaded if m.split(".")[0] in heavy or m in heavy)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_heavy_modules_check_can_see_them() -> None:
    """The check above would notice: running a command (not its help) loads the settings."""
    script = (
        "import sys\nfrom typer.testing import CliRunner\nfrom gateway.cli import app\n"
        "CliRunner().invoke(app, ['config', 'check'])\nprint('gateway.core.settings' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.strip() == "True", done.stderr


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) or "gateway" for path, _ in COMMANDS])
def test_boolean_options_are_flags_listed_as_flags(path: tuple[str, ...], command: Any) -> None:
    for param in command.params:
        if param.param_type_name == "option" and param.type_descriptor.annotation is bool:
            assert param.is_flag, f"gateway {' '.join(path)} {param.opts[0]} takes a value: declare it as a flag"
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "BOOLEAN" not in result.output


def test_json_is_listed_as_a_flag_and_takes_no_value() -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["grants", "list", "--help"]).output
    assert any(line.split()[:2] == ["--json", "Print"] for line in shown.splitlines()), shown
    assert any(line.split()[:3] == ["--active", "/", "--inactive"] for line in shown.splitlines()), shown
    refused = runner.invoke(app, ["grants", "list", "--json", "true"])
    assert refused.exit_code == 2
    assert "unexpected extra argument" in refused.output.lower()


def test_connector_new_says_the_package_is_created_inside_the_directory() -> None:
    shown = " ".join(CliRunner().invoke(app, ["connector", "new", "--help"]).output.split())
    assert "--directory" in shown
    assert "inside --directory" in shown
    assert "not the package itself" in shown
    (directory,) = [p for p in dict(COMMANDS)[("connector", "new")].params if p.name == "directory"]
    assert "DIRECTORY/axis-connector-NAME" in directory.help


def test_what_the_help_spells_out_matches_the_gateway() -> None:
    """Names the command modules repeat so as not to load the settings and models for the help."""
    assert CONFIG_ENV == SETTINGS_CONFIG_ENV
    assert [choice.value for choice in StatusChoice] == [status.value for status in ClientStatus]


def test_the_demo_settings_file_the_command_looks_for_is_the_demos() -> None:
    from gateway.cli.main import DEFAULT_DATA_DIR, DEMO_SETTINGS_FILE
    from gateway.core.settings import Settings
    from gateway.demo_settings import demo_settings_path

    assert Path(DEFAULT_DATA_DIR) == Settings.model_fields["data_dir"].default
    assert demo_settings_path(Path(DEFAULT_DATA_DIR)) == Path(DEFAULT_DATA_DIR) / DEMO_SETTINGS_FILE
