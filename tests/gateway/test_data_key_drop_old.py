"""``gateway keys rotate-data-key --drop-old`` removes the older data keys from ``GATEWAY_DATA_KEY_FILE``; with
``GATEWAY_DATA_KEY`` set (a Kubernetes Secret, a secrets directory) there is no file it could change, so it refuses,
saying what to do, rather than print a success while the old keys stay in force."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet
from support import run_gateway_command


def env(data_dir: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return base | {"GATEWAY_DATA_DIR": str(data_dir), "PYTHONIOENCODING": "utf-8"} | extra


def test_drop_old_with_the_keys_in_the_environment_is_refused(tmp_path: Path) -> None:
    assert run_gateway_command(("db", "upgrade"), env=env(tmp_path), cwd=tmp_path).returncode == 0
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"

    result = run_gateway_command(
        ("keys", "rotate-data-key", "--drop-old"), env=env(tmp_path, GATEWAY_DATA_KEY=keys), cwd=tmp_path
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "GATEWAY_DATA_KEY is set" in line
    assert keys.split(",")[1] not in result.stderr


def test_without_drop_old_the_first_key_of_the_environment_re_encrypts(tmp_path: Path) -> None:
    assert run_gateway_command(("db", "upgrade"), env=env(tmp_path), cwd=tmp_path).returncode == 0
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"

    result = run_gateway_command(("keys", "rotate-data-key"), env=env(tmp_path, GATEWAY_DATA_KEY=keys), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "re-encrypted:" in result.stdout
