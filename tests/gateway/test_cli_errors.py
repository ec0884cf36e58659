"""Bad input to the ``gateway`` command: one line (or one line per problem) on stderr and a non-zero exit, never a
traceback. Settings that are not valid stop every command (exit 2), including a log level, data keys, a database
URL or an axis target the gateway could not serve with; a file that cannot be written is not half written; unknown
operations, databases and receipts of the exchange are named (exit 1). Most commands run in this process (typer's
runner, as ``python -m gateway`` would); a representative few through the real entry point."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel, ValidationError
from support import TEST_DATA_KEY, CommandResult, run_gateway_command

from gateway.cli.main import settings_problems, write_output
from gateway.core.db import standalone_session
from gateway.core.settings import Settings, data_key_fernets
from gateway.exchange.models import ExchangeOperation, ExchangeReceipt
from gateway.identity.datakeys import DataKeyError, DataKeys, check_data_keys, new_key, write_key_file

SECRET = "db-password-7"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


def base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return env | {"GATEWAY_DATA_DIR": str(data_dir), "PYTHONIOENCODING": "utf-8"}


def gateway(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> CommandResult:
    """``gateway ARGS`` in this process, in ``data_dir``, with only ``env`` over the data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return run_gateway_command(args, env=base_env(data_dir) | (env or {}), cwd=data_dir)


def gateway_process(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m gateway ARGS`` in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=data_dir,
        env=base_env(data_dir) | (env or {}),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def refused_settings(result: CommandResult | subprocess.CompletedProcess[str], *expected: str) -> None:
    """``result`` is the refusal of settings that are not valid: exit 2, ``error: invalid settings`` and the lines
    naming the problem, no traceback, nothing on stdout."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: invalid settings"), result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose gateway database is at the newest migration."""
    data_dir = tmp_path_factory.mktemp("cli-errors") / "data"
    result = gateway(data_dir, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return data_dir


# --- settings: every command refuses them the same way ------------------------------------------------------------

BAD_FILE = "bogus_setting = 1\n"

INVALID = [
    pytest.param(("--config", "/nonexistent.toml", "axis"), {}, "does not exist", id="missing-config-option"),
    pytest.param(("--config", "{bad}", "axis"), {}, "unknown settings: bogus_setting", id="unknown-key-in-file"),
    pytest.param(("clients", "list"), {"GATEWAY_CONFIG": "/nonexistent.toml"}, "does not exist", id="missing-file"),
    pytest.param(("axis",), {"GATEWAY_AXIS_HISTORY": "abc"}, "axis_history: ", id="not-an-integer"),
    pytest.param(("axis",), {"GATEWAY_AXIS_LEASE_SECONDS": "-5"}, "axis_lease_seconds: ", id="out-of-range"),
    pytest.param(("axis",), {"GATEWAY_CONNECTORS": "{not json"}, '"connectors"', id="not-json"),
    pytest.param(
        ("axis", "report", "--month", "2026-01"),
        {"GATEWAY_AXIS_REPORT_TIMEZONE": "Mars/Base"},
        "unknown time zone 'Mars/Base'",
        id="time-zone",
    ),
    pytest.param(("axis",), {"GATEWAY_SECRETS_DIR": "/nonexistent"}, "GATEWAY_SECRETS_DIR: ", id="secrets-dir"),
    pytest.param(
        ("axis",), {"GATEWAY_DATABASE_URL": f"mysql://u:{SECRET}@db/gw"}, "cannot be 'mysql'", id="mysql-database"
    ),
    pytest.param(("grants", "list"), {"GATEWAY_LOG_LEVEL": "verbose"}, "log_level: ", id="log-level"),
    pytest.param(("keys", "signing"), {"GATEWAY_DATA_KEY": "x"}, "data_key: ", id="data-key"),
    pytest.param(
        ("exchange", "retry", "1"), {"GATEWAY_AXIS_CONNECTED_TARGET": "-1"}, "axis_connected_target: ", id="target"
    ),
    pytest.param(("audit", "seal"), {"GATEWAY_PAGE_SIZE_DEFAULT": "500"}, "page_size_default exceeds", id="audit"),
    pytest.param(("quality", "report", "population"), {"GATEWAY_DATABASE_URL": "nothing"}, "not a database URL"),
    pytest.param(("db", "upgrade"), {"GATEWAY_DATABASE_URL": "mysql://db/gw"}, "database_url: ", id="db-upgrade"),
]


@pytest.mark.parametrize(("args", "env", "expected"), INVALID)
def test_every_command_refuses_invalid_settings_in_one_line_each(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_FILE, encoding="utf-8")
    result = gateway(tmp_path / "data", *(arg.replace("{bad}", str(bad)) for arg in args), env=env)
    refused_settings(result, expected)
    assert SECRET not in result.stderr
    assert not (tmp_path / "data" / "gateway.db").exists()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("--config", "/nonexistent.toml", "axis"), {}, "settings file /nonexistent.toml does not exist"),
        (("clients", "list"), {"GATEWAY_CONNECTORS": "{not json"}, '"connectors"'),
        (("axis",), {"GATEWAY_DATABASE_URL": f"mysql://u:{SECRET}@db/gw"}, "database_url: "),
    ],
)
def test_the_real_command_refuses_invalid_settings_without_a_traceback(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    result = gateway_process(tmp_path, *args, env=env)
    refused_settings(result, expected)
    assert SECRET not in result.stderr


def test_help_is_shown_whatever_the_settings(tmp_path: Path) -> None:
    result = gateway(tmp_path, "clients", "list", "--help", env={"GATEWAY_LOG_LEVEL": "verbose"})
    assert result.returncode == 0 and "Usage:" in result.stdout, result.stderr


def test_only_the_settings_errors_are_reported_as_settings() -> None:
    class Other(BaseModel):
        number: int

    with pytest.raises(ValidationError) as other:
        Other.model_validate({"number": "x"})
    assert settings_problems(other.value) is None
    assert settings_problems(ValueError("x")) is None
    with pytest.raises(ValidationError) as settings:
        Settings(axis_history="x")  # type: ignore[arg-type]
    assert settings_problems(settings.value) == [
        "axis_history: Input should be a valid integer, unable to parse string as an integer"
    ]


# --- the log level ------------------------------------------------------------------------------------------------


def test_the_log_level_is_one_of_the_levels_in_any_case() -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"  # type: ignore[arg-type]
    assert Settings(log_level=" Warning ").log_level == "WARNING"  # type: ignore[arg-type]
    for bogus in ("bogus", "verbose", "", "10"):
        with pytest.raises(ValidationError, match="log_level"):
            Settings(log_level=bogus)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", [("config", "check"), ("serve", "--port", "1")])
def test_check_and_serve_refuse_an_unknown_log_level(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = gateway_process(tmp_path, *command, env={"GATEWAY_LOG_LEVEL": "bogus"})
    refused_settings(result, "log_level: Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'")
    assert list(tmp_path.iterdir()) == []


# --- data keys ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x", "the data key is not a Fernet key"),
        ("not-a-fernet-key,also-bad", "data key 1 of 2 is not a Fernet key"),
        (f"{TEST_DATA_KEY},nope", "data key 2 of 2 is not a Fernet key"),
        (" , ", "no data key"),
    ],
)
def test_data_keys_are_checked_by_the_settings_without_showing_them(value: str, expected: str) -> None:
    with pytest.raises(ValidationError, match=expected) as caught:
        Settings(data_key=value)  # type: ignore[arg-type]
    for part in value.split(","):
        if len(part.strip()) > 3:
            assert part.strip() not in str(caught.value)
    with pytest.raises(DataKeyError, match=expected):
        DataKeys(keys=value.split(","))
    key = new_key()
    assert Settings(data_key=f"{key}, {TEST_DATA_KEY},").data_key is not None  # type: ignore[arg-type]
    assert len(data_key_fernets([key, "# a comment", "", TEST_DATA_KEY])) == 2


@pytest.mark.parametrize("command", [("config", "check"), ("serve", "--port", "1")])
def test_check_and_serve_refuse_a_malformed_data_key_before_doing_anything(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = gateway_process(tmp_path, *command, env={"GATEWAY_DATA_KEY": "not-a-fernet-key,also-bad"})
    refused_settings(result, "data_key: ", "data key 1 of 2 is not a Fernet key")
    assert "not-a-fernet-key" not in result.stderr and "also-bad" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no database, no key file


def test_serve_refuses_a_data_key_file_that_holds_no_key(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "data-keys"
    write_key_file(key_file, [new_key(), "garbage-not-a-key"])
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(DataKeyError, match=r"data-keys: data key 2 of 2 is not a Fernet key") as caught:
        check_data_keys(settings)
    assert "garbage" not in str(caught.value)
    result = gateway_process(tmp_path, "serve", "--port", "1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: invalid data keys: the data key file ") and "Traceback" not in result.stderr
    assert "garbage" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["keys"]  # no database created


def test_a_data_key_file_that_is_absent_or_valid_passes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    check_data_keys(settings)  # absent: generated at the first start
    assert not settings.data_key_file_path.exists()
    write_key_file(settings.data_key_file_path, [new_key(), "# kept for a while", new_key()])
    check_data_keys(settings)


def test_rotating_leaves_a_malformed_key_file_alone(migrated: Path) -> None:
    key_file = migrated / "keys" / "data-keys"
    kept = key_file.read_text(encoding="utf-8") if key_file.exists() else None
    write_key_file(key_file, ["garbage-not-a-key"])
    try:
        result = gateway(migrated, "keys", "rotate-data-key")
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "the data key file" in result.stderr and "garbage" not in result.stderr
        assert key_file.read_text(encoding="utf-8") == "garbage-not-a-key\n"
    finally:
        if kept is None:
            key_file.unlink()
        else:
            key_file.write_text(kept, encoding="utf-8")


# --- the gateway database's URL -----------------------------------------------------------------------------------


def test_the_gateway_database_is_sqlite_or_postgresql() -> None:
    for url in (
        "sqlite+aiosqlite:///x.db",
        "sqlite:///x.db",
        "postgresql://u@db/gw",
        "postgresql+asyncpg://u@db/gw",
        "postgres://u@db/gw",
    ):
        assert Settings(database_url=url).database_url == url
    for url, expected in (
        (f"mysql://u:{SECRET}@db/gw", "cannot be 'mysql'"),
        ("mysql+aiomysql://db/gw", "cannot be 'mysql+aiomysql'"),
        ("postgresql+psycopg2://db/gw", "cannot be 'postgresql+psycopg2'"),
        ("gateway.db", "not a database URL"),
    ):
        with pytest.raises(ValidationError, match=re.escape(expected)) as caught:
            Settings(database_url=url)
        assert SECRET not in str(caught.value)


# --- the axis target ----------------------------------------------------------------------------------------------

CATALOGUE = """
[[databases]]
id = "population"
name_vi = "Cơ sở dữ liệu quốc gia về dân cư"
name_en = "National population database"
agency = "Bộ Công an"

[[databases]]
id = "land"
name_vi = "Cơ sở dữ liệu quốc gia về đất đai"
name_en = "National land database"
agency = "Bộ Tài nguyên và Môi trường"
"""


def test_the_target_cannot_exceed_the_catalogued_databases(tmp_path: Path, migrated: Path) -> None:
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(CATALOGUE, encoding="utf-8")
    shipped = "axis_connected_target: 99 exceeds the 16 national databases of the axis catalogue"
    refused_settings(gateway_process(tmp_path, "config", "check", env={"GATEWAY_AXIS_CONNECTED_TARGET": "99"}), shipped)
    own = {"GATEWAY_AXIS_CATALOGUE_PATH": str(catalogue), "GATEWAY_AXIS_CONNECTED_TARGET": "3"}
    exceeded = f"axis_connected_target: 3 exceeds the 2 national databases of the axis catalogue ({catalogue})"
    refused_settings(gateway(tmp_path, "config", "check", env=own), exceeded)
    refused_settings(gateway_process(tmp_path, "serve", "--port", "1", env=own), exceeded)
    assert not (tmp_path / "gateway.db").exists()
    refused_settings(gateway(migrated, "axis", env=own), exceeded)
    refused_settings(gateway(migrated, "axis", "report", "--month", "2026-01", env=own), exceeded)
    fits = gateway(migrated, "axis", env=own | {"GATEWAY_AXIS_CONNECTED_TARGET": "2"})
    assert fits.returncode == 0 and "0 of 2 national databases" in fits.stdout and "(target 2;" in fits.stdout
    assert gateway(tmp_path, "config", "check", env={"GATEWAY_AXIS_CONNECTED_TARGET": "16"}).returncode == 0


# --- files written by the commands --------------------------------------------------------------------------------

WRITERS = [
    ("axis", "report", "--month", "2026-12", "--format", "html", "--output"),
    ("quality", "report", "population", "--format", "html", "--output"),
    ("quality", "report", "population", "-o"),
]


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("{tmp}/nonexistent/dir/x.html", "the directory {tmp}/nonexistent/dir does not exist"),
        ("{tmp}", "it is a directory"),
        ("{tmp}/file/x.html", "{tmp}/file is not a directory"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_anything(
    tmp_path: Path, command: tuple[str, ...], target: str, expected: str
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    path = target.format(tmp=tmp_path)
    result = gateway(tmp_path / "data", *command, path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: cannot write {path}: {expected.format(tmp=tmp_path)}; nothing was written\n"
    assert not (tmp_path / "data" / "gateway.db").exists()  # refused before the database was opened


def test_an_output_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.html"
    write_output(target, "first\n")
    assert target.read_text(encoding="utf-8") == "first\n"
    write_output(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"

    def full_disk(self: Path, other: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", full_disk)
    with pytest.raises(typer.Exit) as caught:
        write_output(target, "third, cut short\n")
    assert caught.value.exit_code == 2
    assert target.read_text(encoding="utf-8") == "second\n"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]  # no partial file left beside it


def test_an_output_can_be_a_device(tmp_path: Path) -> None:
    write_output(Path(os.devnull), "discarded\n")
    assert Path(os.devnull).exists() and not Path(os.devnull).is_file()


def test_the_axis_report_is_written_to_its_file(migrated: Path, tmp_path: Path) -> None:
    target = tmp_path / "axis.json"
    result = gateway(migrated, "axis", "report", "--month", "2026-01", "--format", "json", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert '"month": "2026-01"' in target.read_text(encoding="utf-8")


# --- the exchange's unknown operations, databases and receipts ----------------------------------------------------


@pytest.fixture(scope="module")
def operations(migrated: Path) -> Iterator[dict[str, int]]:
    """Two operations of a receipt to ``population``: one dead-lettered, one delivered; and one of a database
    neither catalogued nor configured (``retired_db``), dead-lettered."""
    url = f"sqlite+aiosqlite:///{migrated / 'gateway.db'}"
    now = datetime.now(UTC)

    async def plant() -> dict[str, int]:
        async with standalone_session(url) as session:
            session.add(
                ExchangeReceipt(
                    id="receipt-1",
                    client_id="c",
                    database_id="population",
                    idempotency_key="k",
                    request_hash="h",
                    accepted=2,
                    rejected=0,
                )
            )
            planted = {}
            for name, database, state in (
                ("dead", "population", "dead"),
                ("delivered", "population", "delivered"),
                ("retired", "retired_db", "dead"),
            ):
                op = ExchangeOperation(
                    receipt_id="receipt-1" if database == "population" else "receipt-2",
                    position=len(planted),
                    database_id=database,
                    record_id=f"r-{name}",
                    kind="create",
                    state=state,
                    next_attempt_at=now,
                    accepted_at=now,
                )
                session.add(op)
                await session.flush()
                assert op.id is not None
                planted[name] = op.id
            await session.commit()
            return planted

    yield asyncio.run(plant())


def exchange(migrated: Path, *args: str) -> CommandResult:
    return gateway(migrated, "exchange", *args)


def unknown(result: CommandResult, expected: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert f"error: {expected}" in result.stderr, result.stderr


def test_unknown_operations_databases_and_receipts_are_named_known_ones_queued(
    migrated: Path, operations: dict[str, int]
) -> None:
    unknown(exchange(migrated, "retry", "999999"), "no operation 999999")
    unknown(exchange(migrated, "retry", str(operations["dead"]), "999998", "999999"), "no operation 999998, 999999")
    unknown(exchange(migrated, "retry", "--database", "nosuch"), "no database 'nosuch'")
    unknown(exchange(migrated, "replay", "nosuch", "--since", "2026-01-01"), "no database 'nosuch'")
    unknown(exchange(migrated, "replay", "population", "--receipt", "nosuch"), "no receipt 'nosuch'")
    unknown(
        exchange(migrated, "replay", "land", "--receipt", "receipt-1"),
        "receipt 'receipt-1' is of database 'population', not 'land'",
    )
    listed = exchange(migrated, "dead-letters")
    assert str(operations["dead"]) in listed.stdout  # nothing was queued by the refusals

    # A database with operations is known although neither catalogued nor configured.
    retired = exchange(migrated, "retry", "--database", "retired_db")
    assert retired.returncode == 0 and retired.stdout == "1 operation(s) queued for delivery again\n", retired.stderr
    # A named operation the retry leaves alone is said so.
    named = exchange(migrated, "retry", str(operations["delivered"]), str(operations["dead"]))
    assert named.returncode == 0 and named.stdout == "1 operation(s) queued for delivery again\n", named.stderr
    assert f"note: operation {operations['delivered']} is delivered, not dead-lettered: not retried" in named.stderr
    # A catalogued database without operations is known: nothing to replay.
    empty = exchange(migrated, "replay", "land", "--since", "2026-01-01")
    assert empty.returncode == 0 and empty.stdout == "0 operation(s) of land queued for delivery again\n"
