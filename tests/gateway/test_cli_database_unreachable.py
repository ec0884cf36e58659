"""A gateway database that cannot be connected to (PostgreSQL down, an unknown database or user) stops the commands
that migrate it, ``gateway serve`` included, with one line naming ``GATEWAY_DATABASE_URL`` and the error's class,
never a traceback, and never the URL's password: what an operator sees when a replica starts before its database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support import run_gateway_command

PASSWORD = "pw-not-shown-9"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def base_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return env | {"GATEWAY_DATA_DIR": str(data_dir), "GATEWAY_DATABASE_URL": database_url, "PYTHONIOENCODING": "utf-8"}


def check_refusal(stderr: str, exit_code: int, error_class: str) -> None:
    assert exit_code == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert PASSWORD not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "GATEWAY_DATABASE_URL" in errors[0]
    assert error_class in errors[0]


@pytest.mark.parametrize("command", [("db", "upgrade"), ("db", "downgrade", "base")])
def test_migrations_name_an_unreachable_database_in_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"postgresql://gateway:{PASSWORD}@127.0.0.1:{closed_port()}/gateway"
    result = run_gateway_command(command, env=base_env(tmp_path, url), cwd=tmp_path)
    check_refusal(result.stderr, result.returncode, "ConnectionRefusedError")


def test_serve_names_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql://gateway:{PASSWORD}@127.0.0.1:{closed_port()}/gateway"
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", str(closed_port())],
        cwd=tmp_path,
        env=base_env(tmp_path, url),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
    )
    check_refusal(done.stderr, done.returncode, "ConnectionRefusedError")


@pytest.mark.skipif(not os.environ.get("GATEWAY_TEST_DATABASE_URL"), reason="needs the PostgreSQL test server")
def test_an_unknown_database_is_named_by_its_error_class(tmp_path: Path) -> None:
    server = make_url(os.environ["GATEWAY_TEST_DATABASE_URL"])
    url = server.set(database="axis_gateway_absent_database", password=PASSWORD).render_as_string(hide_password=False)
    result = run_gateway_command(("db", "upgrade"), env=base_env(tmp_path, url), cwd=tmp_path)
    check_refusal(result.stderr, result.returncode, "InvalidCatalogNameError")
