"""Settings from a file (``GATEWAY_CONFIG``, ``--config``): TOML or YAML, environment variables over it, a secrets
directory; ``gateway config check``; the example file configures the demo's twelve national databases."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic_settings import SettingsError
from support import TEST_PEPPER, LiveServer

from connectors.discovery import discover_connectors
from connectors.secrets import MASK
from gateway.cli.config import mask_secrets
from gateway.core.settings import CONFIG_ENV, SECRETS_DIR_ENV, Settings
from gateway.demo import start_sector_systems
from gateway.http.app import create_app
from simulators.sectors import SECTOR_SYSTEMS, SectorContext, load_sector_system

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "settings" / "demo.toml"
#: The configuration keys saying where a sector system is.
ADDRESS_KEYS = ("url", "base_url", "wsdl")


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        env=base | {"PYTHONIOENCODING": "utf-8"} | (env or {}),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


TAX_FILE = """
log_level = "DEBUG"
token_ttl_seconds = 600
[connectors.tax]
connector = "tax"
[connectors.tax.config]
base_url = "http://127.0.0.1:9"
auth = { type = "bearer", token = "token-from-the-file" }
[connectors.tax.health]
interval_seconds = 60
"""


def test_a_toml_file_is_read_and_environment_variables_override_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(write(tmp_path / "gateway.toml", TAX_FILE)))
    from_file = Settings(data_dir=tmp_path)
    assert from_file.log_level == "DEBUG" and from_file.token_ttl_seconds == 600
    tax = from_file.connectors["tax"]
    assert tax.connector == "tax" and tax.health.interval_seconds == 60
    assert tax.config == {"base_url": "http://127.0.0.1:9", "auth": {"type": "bearer", "token": "token-from-the-file"}}

    monkeypatch.setenv("GATEWAY_TOKEN_TTL_SECONDS", "700")
    monkeypatch.setenv("GATEWAY_CONNECTORS__TAX__CONFIG__BASE_URL", "http://127.0.0.1:10")
    overridden = Settings(data_dir=tmp_path)
    assert overridden.token_ttl_seconds == 700 and overridden.log_level == "DEBUG"
    # Nested tables merge: one key replaced, the rest of the file's table kept.
    assert overridden.connectors["tax"].config == {
        "base_url": "http://127.0.0.1:10",
        "auth": {"type": "bearer", "token": "token-from-the-file"},
    }
    assert overridden.connectors["tax"].health.interval_seconds == 60


def test_a_yaml_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    yaml_file = write(
        tmp_path / "gateway.yaml",
        "token_ttl_seconds: 600\nconnectors:\n  tax:\n    connector: tax\n    config:\n"
        "      base_url: http://127.0.0.1:9\n      auth: {type: bearer, token: t}\n",
    )
    monkeypatch.setenv(CONFIG_ENV, str(yaml_file))
    settings = Settings(data_dir=tmp_path)
    assert settings.token_ttl_seconds == 600
    assert settings.connectors["tax"].config["base_url"] == "http://127.0.0.1:9"


def test_the_secrets_directory_gives_secrets_under_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    write(secrets / "gateway_secret_pepper", "p" * 40)
    write(secrets / "gateway_connectors__tax__config__auth__token", "token-from-a-secret-file")
    monkeypatch.setenv(CONFIG_ENV, str(write(tmp_path / "gateway.toml", TAX_FILE)))
    monkeypatch.setenv(SECRETS_DIR_ENV, str(secrets))
    settings = Settings(data_dir=tmp_path)
    assert settings.secret_pepper is not None and settings.secret_pepper.get_secret_value() == "p" * 40
    # The secret file wins over the settings file, and keeps the rest of the table.
    assert settings.connectors["tax"].config["auth"] == {"type": "bearer", "token": "token-from-a-secret-file"}
    monkeypatch.setenv("GATEWAY_SECRET_PEPPER", "e" * 40)
    assert Settings(data_dir=tmp_path).secret_pepper.get_secret_value() == "e" * 40  # type: ignore[union-attr]

    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="does not exist"):
        Settings(data_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("bogus_setting = 1\n", "unknown.toml", "unknown settings: bogus_setting"),
        ("token_ttl_seconds = [\n", "broken.toml", "cannot be read"),
        ("token_ttl_seconds = 5\n[connectors.tax]\nenabled = 'maybe'\n", "invalid.toml", "token_ttl_seconds: "),
        ("[connectors.tax]\nconnector = 'no_such_connector'\n", "unloadable.toml", "connectors.tax: no connector"),
        ("token_ttl_seconds: [\n", "broken.yaml", "cannot be read"),
        ("token_ttl_seconds = 600\n", "settings.ini", "must end in .toml, .yaml or .yml"),
    ],
)
def test_config_check_refuses_an_invalid_file_readably(tmp_path: Path, text: str, name: str, expected: str) -> None:
    result = cli("config", "check", str(write(tmp_path / name, text)), cwd=tmp_path)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert result.stdout == ""
    if name == "invalid.toml":
        assert "connectors.tax.enabled: " in result.stderr and "'maybe'" not in result.stderr


def test_config_check_refuses_a_missing_file(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "nowhere.toml"), "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_config_check_reads_the_key_files_it_is_given(tmp_path: Path) -> None:
    """A wrong data-keys or pepper file (a Secret of the wrong content, say) is refused by the check, not by the
    server's start after it; an absent one is named, as the first process to start generates it."""
    settings_file = write(tmp_path / "gateway.toml", "token_ttl_seconds = 600\n")
    keys, pepper = tmp_path / "keys" / "data-keys", tmp_path / "keys" / "pepper"
    env = {"GATEWAY_DATA_KEY_FILE": str(keys), "GATEWAY_SECRET_PEPPER_PATH": str(pepper)}
    absent = cli("config", "check", str(settings_file), cwd=tmp_path, env=env)
    assert absent.returncode == 0, absent.stderr
    assert f"note: the data key file {keys} does not exist" in absent.stderr
    assert f"note: the secret pepper file {pepper} does not exist" in absent.stderr
    assert not keys.exists() and not pepper.exists(), "the check changes nothing"
    keys.parent.mkdir()
    keys.write_text("not a key\n", encoding="utf-8")
    wrong = cli("config", "check", str(settings_file), cwd=tmp_path, env=env)
    assert wrong.returncode == 2 and "invalid data keys" in wrong.stderr and "Traceback" not in wrong.stderr
    keys.write_text(Fernet.generate_key().decode() + "\n", encoding="utf-8")
    pepper.write_bytes(b"\n")
    empty = cli("config", "check", str(settings_file), cwd=tmp_path, env=env)
    assert empty.returncode == 2 and f"secret_pepper_path: {pepper} is empty" in empty.stderr
    pepper.write_bytes(b"p" * 43 + b"\n")
    good = cli("config", "check", str(settings_file), cwd=tmp_path, env=env)
    assert good.returncode == 0 and "note:" not in good.stderr, good.stderr


def test_config_check_prints_the_settings_in_effect_with_secrets_masked(tmp_path: Path) -> None:
    data_key = Fernet.generate_key().decode()
    settings_file = write(
        tmp_path / "gateway.toml",
        'database_url = "postgresql://gateway:db-password-1@127.0.0.1:5432/gateway"\n'
        'secret_pepper = "pepper-pepper-pepper-pepper-pepper-1"\n'
        'redis_url = "redis://:redis-password-1@127.0.0.1:6379/0"\n' + TAX_FILE,
    )
    result = cli(
        "config",
        "check",
        str(settings_file),
        cwd=tmp_path,
        env={"GATEWAY_DATA_KEY": data_key, "GATEWAY_TOKEN_TTL_SECONDS": "700"},
    )
    assert result.returncode == 0, result.stderr
    for secret in ("db-password-1", "pepper-pepper", "redis-password-1", "token-from-the-file", data_key):
        assert secret not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["token_ttl_seconds"] == 700  # the environment over the file
    assert shown["log_level"] == "DEBUG"
    assert shown["database_url"] == f"postgresql://gateway:{MASK}@127.0.0.1:5432/gateway"
    assert shown["connectors"]["tax"]["config"] == {
        "base_url": "http://127.0.0.1:9",
        "auth": {"type": "bearer", "token": MASK},
    }
    assert shown["secret_pepper"] == MASK and shown["data_key"] == MASK
    assert "1 connectors configured: tax" in result.stderr


def test_masking_keeps_what_is_not_secret() -> None:
    masked = mask_secrets(
        {
            "token_url": "/oauth/token",
            "signing_key_path": "var/keys/signing-key.pem",
            "token_ttl_seconds": 900,
            "auth": {"header": "X-Api-Key", "key": "k", "client_secret": "s", "password": "p", "api_key": "a"},
            "wsdl": "https://svc.example/x?wsdl&api_key=abc&mode=1",
            "libpq": "postgresql://gw@db/gw?sslkey=/k&sslpassword=Zz9",
            "empty_token": "",
            "other": {
                "apikey": "a",
                "apiKey": "a",
                "passphrase": "p",
                "credentials": "c",
                "record_key": "so_dinh_danh",
            },
        }
    )
    assert masked == {
        "token_url": "/oauth/token",
        "signing_key_path": "var/keys/signing-key.pem",
        "token_ttl_seconds": 900,
        "auth": {"header": "X-Api-Key", "key": MASK, "client_secret": MASK, "password": MASK, "api_key": MASK},
        "wsdl": f"https://svc.example/x?wsdl&api_key={MASK}&mode=1",
        "libpq": f"postgresql://gw@db/gw?sslkey=/k&sslpassword={MASK}",
        "empty_token": "",
        "other": {
            "apikey": MASK,
            "apiKey": MASK,
            "passphrase": MASK,
            "credentials": MASK,
            "record_key": "so_dinh_danh",
        },
    }


# --- the example file: the demo's twelve national databases ---------------------------------------------------------


@pytest.fixture(scope="module")
def demo_systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The simulated sector systems started and configured as ``gateway demo`` does (few citizens)."""
    data_dir = tmp_path_factory.mktemp("demo-systems")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite+aiosqlite:///{data_dir / 'gateway.db'}")
    with ExitStack() as stack:
        context = SectorContext(
            data_dir=data_dir / "sectors", citizens=300, seed=68, today=date(2026, 11, 20), stack=stack
        )
        started = asyncio.run(start_sector_systems(settings, context))
        assert sorted(started) == sorted(SECTOR_SYSTEMS)
        yield settings


def _addresses(demo: Settings) -> dict[str, str]:
    """Environment variables pointing the example file's databases at the running simulators."""
    env = {}
    for database, instance in demo.connectors.items():
        for key, value in instance.config.items():
            if key in (*ADDRESS_KEYS, "canary"):
                env[f"GATEWAY_CONNECTORS__{database.upper()}__CONFIG__{key.upper()}"] = str(value)
    return env


def test_the_example_file_configures_the_demos_twelve_databases(
    demo_systems: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLE))
    plain = Settings()
    assert sorted(plain.connectors) == sorted(SECTOR_SYSTEMS) and len(plain.connectors) == 12
    for name, value in _addresses(demo_systems).items():
        monkeypatch.setenv(name, value)
    from_file = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    assert sorted(from_file.connectors) == sorted(demo_systems.connectors)
    classes = discover_connectors().connectors
    for database, demo in demo_systems.connectors.items():
        configured = from_file.connectors[database]
        assert configured.connector == load_sector_system(database).connector == (demo.connector or database)
        model = classes[configured.connector or database].config_model
        # The same connector configuration once validated: the file spells out what the demo leaves to defaults.
        assert model.model_validate(configured.config) == model.model_validate(demo.config), database
    # Spelled out in the file, as nested tables: the SOAP service's XPath fields and its code lists.
    judicial = plain.connectors["judicial_records"].config
    assert judicial["fields"]["applicant.full_name"] == "lltp:NguoiYeuCau/lltp:HoTen"
    assert judicial["value_maps"]["status"]["3"] == "issued"


def test_a_gateway_serves_the_twelve_databases_from_the_example_file(
    demo_systems: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLE))
    for name, value in _addresses(demo_systems).items():
        monkeypatch.setenv(name, value)
    from gateway.core import migrations

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrations.upgrade(database_url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_pepper=TEST_PEPPER,
        log_format="console",
        log_level="WARNING",
    )
    with LiveServer(create_app(settings)) as live:
        ready = httpx.get(f"{live.url}/readyz", timeout=30)
    connectors: dict[str, Any] = ready.json()["checks"]["connectors"]
    assert sorted(connectors) == sorted(SECTOR_SYSTEMS)
    assert all(check["loaded"] and check["reachable"] for check in connectors.values()), connectors
    assert ready.status_code == 200
