"""Which gateway the ``gateway`` command manages, run from another directory (in this process, with only the
environment a user would give it: ``tests/gateway/test_cli.py`` runs it as a subprocess): ``--data-dir``,
the settings file the demo writes in its data directory, the line saying which database is used, no database
created by a command that reads, and no scores stored by a scan that checked nothing."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
import yaml
from support import TEST_PEPPER, CommandResult, run_gateway_command

from gateway.core.settings import Settings
from gateway.demo_settings import DEMO_SETTINGS_FILE, demo_settings_values, write_demo_settings
from simulators.population import seed_population

USING = "using the gateway database sqlite"


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> CommandResult:
    """``gateway ARGS`` from ``cwd``, with no ``GATEWAY_`` variable but ``env``."""
    cwd.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    clean["PYTHONIOENCODING"] = "utf-8"
    result = run_gateway_command(args, cwd=cwd, env={**clean, **(env or {})})
    assert "Traceback" not in result.stderr, result.stderr
    return result


def files_in(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a migrated gateway database, made from another directory."""
    data = tmp_path_factory.mktemp("where") / "data"
    result = run(tmp_path_factory.mktemp("elsewhere"), "--data-dir", str(data), "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (data / "gateway.db").is_file()
    return data


def test_reading_commands_create_no_database_and_say_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (("axis",), ("clients", "list", "--json"), ("grants", "list"), ("audit", "verify")):
        result = run(empty, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert f"there is no gateway database at {empty / 'var' / 'gateway.db'}" in result.stderr
        assert "nothing was created" in result.stderr
        assert f"{USING}+aiosqlite:///{empty / 'var' / 'gateway.db'}" in result.stderr
        assert result.stdout == ""
        assert files_in(empty) == [], args
    other = tmp_path / "other"
    result = run(empty, "--data-dir", str(other), "axis")
    assert result.returncode == 1
    assert f"there is no gateway database at {other / 'gateway.db'}" in result.stderr
    assert not (other / "gateway.db").exists()


def test_data_dir_from_another_directory(migrated: Path, tmp_path: Path) -> None:
    created = run(tmp_path, "--data-dir", str(migrated), "clients", "create", "Sở Y tế", "--scope", "axis")
    assert created.returncode == 0, created.stderr
    listed = run(tmp_path, "--data-dir", str(migrated), "clients", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "Sở Y tế" in [client["name"] for client in json.loads(listed.stdout)]  # stdout is only the JSON
    assert f"{USING}+aiosqlite:///{migrated / 'gateway.db'}" in listed.stderr
    assert "settings: environment only" in listed.stderr
    assert files_in(tmp_path) == []


def _land_settings(data: Path) -> Settings:
    return Settings(
        data_dir=data,
        secret_pepper=TEST_PEPPER,
        connectors={"land": {"config": {"url": f"sqlite+aiosqlite:///{data / 'sectors' / 'land.db'}"}}},
    )


def test_demo_settings_file_holds_the_connectors_and_no_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = write_demo_settings(_land_settings(data))
    assert path == data / DEMO_SETTINGS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text(encoding="utf-8")
    assert TEST_PEPPER not in text and "secret_pepper:" not in text
    values = yaml.safe_load(text)
    assert values["data_dir"] == str(data)
    assert "database_url" not in values  # it follows the data directory
    assert values["connectors"]["land"]["config"]["url"].endswith(str(data / "sectors" / "land.db"))
    read = Settings.model_validate({**values, "secret_pepper": TEST_PEPPER})
    assert read.connectors.keys() == {"land"}
    assert read.database_url == f"sqlite+aiosqlite:///{data / 'gateway.db'}"


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    values = demo_settings_values(
        Settings(
            data_dir=Path("var"),
            database_url="sqlite:///elsewhere/gateway.db",
            secret_pepper=TEST_PEPPER,
            connectors={"population": {"config": {"url": "sqlite+aiosqlite:///var/sectors/population.db"}}},
        )
    )
    assert values["data_dir"] == str(tmp_path / "var")
    assert values["database_url"] == f"sqlite:///{tmp_path / 'elsewhere' / 'gateway.db'}"
    assert values["connectors"]["population"]["config"]["url"] == (
        f"sqlite+aiosqlite:///{tmp_path / 'var' / 'sectors' / 'population.db'}"
    )


def test_grants_are_checked_against_the_demo_connectors(migrated: Path, tmp_path: Path) -> None:
    created = run(tmp_path, "--data-dir", str(migrated), "clients", "create", "Sở Xây dựng", "--scope", "axis")
    assert created.returncode == 0, created.stderr
    client_id = created.stdout.split()[1]
    unchecked = run(tmp_path, "--data-dir", str(migrated), "grants", "add", client_id, "land", "-o", "read")
    assert unchecked.returncode == 0, unchecked.stderr
    assert "not checked against its database's connector" in unchecked.stderr

    demo_file = write_demo_settings(_land_settings(migrated))
    try:
        checked = run(tmp_path, "--data-dir", str(migrated), "grants", "add", client_id, "land", "-o", "search")
        assert checked.returncode == 0, checked.stderr
        assert "not checked" not in checked.stderr
        assert f"(settings: {demo_file})" in checked.stderr
        field = run(tmp_path, "--data-dir", str(migrated), "grants", "add", client_id, "land", "-o", "read", "-f", "x")
        assert field.returncode == 1
        assert "not checked" not in field.stderr
        unknown = run(tmp_path, "--data-dir", str(migrated), "grants", "add", client_id, "budget_units", "-o", "read")
        assert unknown.returncode == 1
        assert "serves no such database (it serves: land)" in unknown.stderr
        # The same data directory, named by the environment, from the data directory's parent.
        env = {"GATEWAY_DATA_DIR": migrated.name}
        relative = run(migrated.parent, "grants", "add", client_id, "budget_units", "-o", "read", env=env)
        assert "serves no such database (it serves: land)" in relative.stderr
        # A settings file named explicitly comes first.
        named = tmp_path / "named.yaml"
        named.write_text(f"data_dir: {migrated}\n", encoding="utf-8")
        explicit = run(tmp_path, "--config", str(named), "grants", "add", client_id, "land", "-o", "submit")
        assert explicit.returncode == 0, explicit.stderr
        assert f"(settings: {named})" in explicit.stderr
        assert "not checked against its database's connector" in explicit.stderr
    finally:
        demo_file.unlink()


def test_a_scan_that_checked_nothing_stores_nothing(migrated: Path, tmp_path: Path) -> None:
    seeded = tmp_path / "population.db"
    empty = tmp_path / "empty-population.db"
    asyncio.run(seed_population(f"sqlite+aiosqlite:///{seeded}", count=200))
    asyncio.run(seed_population(f"sqlite+aiosqlite:///{empty}", count=0))

    def scan(database: Path) -> CommandResult:
        env = {"GATEWAY_CONNECTORS__POPULATION__CONFIG__URL": f"sqlite+aiosqlite:///{database}"}
        return run(tmp_path, "--data-dir", str(migrated), "quality", "scan", "population", env=env)

    first = scan(seeded)
    assert first.returncode == 0, first.stderr
    before = run(tmp_path, "--data-dir", str(migrated), "quality", "report", "population")
    assert before.returncode == 0, before.stderr

    nothing = scan(empty)
    assert nothing.returncode == 1
    assert "nothing was checked" in nothing.stderr and "returned no record" in nothing.stderr
    assert "scores stored" not in nothing.stdout
    after = run(tmp_path, "--data-dir", str(migrated), "quality", "report", "population")
    assert json.loads(after.stdout)["scan"] == json.loads(before.stdout)["scan"]

    unconfigured = run(tmp_path, "--data-dir", str(migrated), "quality", "scan", "land")
    assert unconfigured.returncode == 1
    assert "nothing was checked: no connector is configured for 'land'" in unconfigured.stderr
