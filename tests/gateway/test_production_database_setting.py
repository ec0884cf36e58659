"""A production gateway whose database is not named (the secret file ``gateway_database_url`` missing or misnamed,
``GATEWAY_DATABASE_URL`` unset) is refused with one line naming the setting by ``gateway config check`` (the
Kubernetes pods' first step), ``gateway db upgrade`` (the migration Job) and ``gateway serve``, before anything is
created: it never falls back to a SQLite file of its own data directory, which would give each replica a gateway
of its own. An explicit SQLite URL (one production gateway) and development keep working."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support import TEST_DATA_KEY, run_gateway_command

from gateway.core.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def env(data_dir: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return (
        base
        | {
            "GATEWAY_DATA_DIR": str(data_dir),
            "GATEWAY_ENVIRONMENT": "production",
            "GATEWAY_DATA_KEY": TEST_DATA_KEY,
            "GATEWAY_SECRET_PEPPER": "p" * 40,
            "PYTHONIOENCODING": "utf-8",
        }
        | extra
    )


def test_the_settings_say_whether_the_database_was_named(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).database_url_defaulted
    named = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    assert not named.database_url_defaulted


@pytest.mark.parametrize(
    "command",
    [("config", "check"), ("db", "upgrade"), ("db", "downgrade", "base")],
)
def test_production_refuses_an_unnamed_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    data_dir = tmp_path / "data"
    result = run_gateway_command(command, env=env(data_dir), cwd=tmp_path)
    check_refusal(result.returncode, result.stderr, data_dir)


def test_production_serve_refuses_an_unnamed_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # A process of its own: the old behaviour served (on a SQLite file of the data directory) until stopped.
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=env(data_dir),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    check_refusal(done.returncode, done.stderr, data_dir)


def check_refusal(returncode: int, stderr: str, data_dir: Path) -> None:
    assert returncode == 2, stderr
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "GATEWAY_DATABASE_URL is not set" in line and "gateway_database_url" in line
    assert not (data_dir / "gateway.db").exists()


def test_an_explicit_sqlite_database_is_production_s_choice(tmp_path: Path) -> None:
    database = tmp_path / "data" / "gateway.db"
    named = env(tmp_path / "data", GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    result = run_gateway_command(("db", "upgrade"), env=named, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert database.is_file()


def test_development_keeps_the_sqlite_default(tmp_path: Path) -> None:
    development = env(tmp_path / "data", GATEWAY_ENVIRONMENT="development")
    result = run_gateway_command(("db", "upgrade"), env=development, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "gateway.db").is_file()
