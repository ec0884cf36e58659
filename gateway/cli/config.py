"""``gateway config ...``: checking a settings file and showing the settings in effect, secrets masked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.main import CONFIG_ENV, EXIT_BAD_SETTINGS, load_settings, use_config

if TYPE_CHECKING:
    from gateway.core.settings import Settings

app = typer.Typer(help="The gateway's settings.", no_args_is_help=True, rich_markup_mode=None)


def mask_secrets(value: Any, key: str = "") -> Any:
    """``value`` (a settings dump) with every secret-like value replaced: values under secret-like keys
    (:func:`connectors.secrets.is_secret_name`, the rule the conformance kit applies to connectors' settings),
    passwords in URLs, secret-like query parameters. ``SecretStr`` values are masked by the dump already."""
    from connectors.secrets import MASK, is_secret_name, mask_urls

    if isinstance(value, dict):
        return {name: mask_secrets(item, str(name)) for name, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item, key) for item in value]
    if isinstance(value, str):
        if value and is_secret_name(key):
            return MASK
        return mask_urls(value, every_query_value=False)
    return value


def effective_settings(settings: Settings) -> dict[str, Any]:
    """The settings in effect, as JSON-compatible values, secrets masked."""
    dumped: dict[str, Any] = settings.model_dump(mode="json")
    masked: dict[str, Any] = mask_secrets(dumped)
    return masked


def _connector_failures(settings: Settings) -> dict[str, str]:
    """Databases whose connector cannot be built from its configuration: database id -> why."""
    import asyncio

    from gateway.core.logs import configure_logging
    from gateway.records.registry import ConnectorRegistry

    configure_logging(level="CRITICAL", fmt=settings.log_format)  # the failures are reported below, stdout is JSON
    registry = ConnectorRegistry.from_settings(settings)
    asyncio.run(registry.close())
    return dict(registry.failures)


@app.command("check")
def config_check(
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[FILE]", help=f"The settings file (TOML, or YAML); default: {CONFIG_ENV} (or --config)."
        ),
    ] = None,
) -> None:
    """Check a settings file (with the environment variables and secrets directory that override it), and print
    the settings in effect as JSON, secrets masked.

    Every connector configured is built from its configuration (nothing is connected). Exit status: 0 valid,
    2 invalid (each problem on a line of its own, on stderr)."""
    use_config(file)
    source = os.environ.get(CONFIG_ENV)
    settings = load_settings()
    failures = _connector_failures(settings)
    if failures:
        where = f" (settings file {source})" if source else ""
        typer.echo(f"error: connectors that cannot be loaded{where}:", err=True)
        for database, reason in sorted(failures.items()):
            typer.echo(f"  connectors.{database}: {reason}", err=True)
        raise typer.Exit(EXIT_BAD_SETTINGS)
    typer.echo(json.dumps(effective_settings(settings), indent=2, ensure_ascii=False, sort_keys=True))
    databases = sorted(db for db, instance in settings.connectors.items() if instance.enabled)
    typer.echo(
        f"settings valid{f' ({source})' if source else ' (no settings file)'}; "
        f"{len(databases)} connectors configured{': ' + ', '.join(databases) if databases else ''}",
        err=True,
    )
