"""The demo's settings file: what ``gateway demo`` serves with, for the other ``gateway`` commands.

``gateway demo`` configures connectors of its own (the simulated sector systems) that no settings file names. It
writes its effective settings to :data:`DEMO_SETTINGS_FILE` in its data directory, so that a command run later with
the same data directory (and no ``--config``/``GATEWAY_CONFIG``) manages the same gateway: the same database, the
same connectors. Secret settings (``SecretStr``: the pepper, the data key) are never written; the connector
configurations are written as they are (the simulators' API keys among them), so the file is its user's only
(mode 0600).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.core.files import replace_file, restrict_umask
from gateway.core.settings import Settings

__all__ = [
    "DEMO_SETTINGS_FILE",
    "absolute_sqlite_url",
    "demo_settings_path",
    "demo_settings_values",
    "write_demo_settings",
]

DEMO_SETTINGS_FILE = "demo.yaml"
"""The demo's settings file, in its data directory (YAML: connector configurations may hold nulls, TOML has none)."""

_PATH_SETTINGS = ("data_dir", "signing_key_path", "data_key_file", "secret_pepper_path", "axis_catalogue_path")


def demo_settings_path(data_dir: Path) -> Path:
    """Where the demo of ``data_dir`` writes its settings."""
    return data_dir / DEMO_SETTINGS_FILE


def absolute_sqlite_url(url: str) -> str:
    """``url`` with its SQLite file path made absolute (other URLs, and in-memory SQLite, unchanged)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(Path(database).resolve())).render_as_string(hide_password=False)


def _absolute_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _absolute_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_absolute_urls(item) for item in value]
    if isinstance(value, str) and value.startswith("sqlite"):
        return absolute_sqlite_url(value)
    return value


def demo_settings_values(settings: Settings) -> dict[str, Any]:
    """The settings in effect that differ from the defaults, as a settings file holds them: paths absolute (the
    file is read from any directory), secret settings left out, the connectors (the demo's included) in full."""
    secret = {name for name, value in settings if isinstance(value, SecretStr)}
    # Left out where they follow the data directory (a data directory moved, or named by GATEWAY_DATA_DIR, keeps them).
    data_dir = settings.data_dir
    derived = {  # as Settings derives them
        "database_url": f"sqlite+aiosqlite:///{data_dir / 'gateway.db'}",
        "signing_key_path": data_dir / "keys" / "signing-key.pem",
        "secret_pepper_path": data_dir / "keys" / "secret-pepper",
    }
    follow = {name for name, value in derived.items() if getattr(settings, name) == value}
    values: dict[str, Any] = settings.model_dump(mode="json", exclude_defaults=True, exclude=secret | follow)
    for name in _PATH_SETTINGS:
        if values.get(name) is not None:
            values[name] = str(Path(values[name]).resolve())
    values["data_dir"] = str(settings.data_dir.resolve())
    if "database_url" in values:
        values["database_url"] = absolute_sqlite_url(values["database_url"])
    connectors = settings.model_dump(mode="json", include={"connectors"}, exclude_defaults=True).get("connectors")
    values["connectors"] = _absolute_urls(connectors or {})
    return values


def write_demo_settings(settings: Settings) -> Path:
    """Write the demo's effective settings to :func:`demo_settings_path` (mode 0600, replaced atomically)."""
    path = demo_settings_path(settings.data_dir)
    text = "# Written by `gateway demo` at each start: its effective settings (secret settings left out).\n"
    text += "# The other gateway commands run with this data directory read it (unless --config/GATEWAY_CONFIG).\n"
    text += yaml.safe_dump(demo_settings_values(settings), allow_unicode=True, sort_keys=True)
    restrict_umask()
    replace_file(path, text.encode("utf-8"))
    return path
