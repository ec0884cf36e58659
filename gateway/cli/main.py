"""The ``gateway`` command: serving, the demo, and the gateway's own database.

The command modules import only the standard library and typer when loaded: ``gateway --help`` (and every
command) must start fast, so the gateway's heavier parts (the settings, SQLAlchemy, the app, the connectors) are
imported inside the commands that use them.
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .. import __version__
from ..files import DIRECTORY_MODE, private_directory, restrict_umask

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from ..settings import Settings

#: The variable naming the settings file (``gateway.settings.CONFIG_ENV``, spelled out here so that the help is
#: built without loading the settings).
CONFIG_ENV = "GATEWAY_CONFIG"

# Every group's help is click's plain help (rich_markup_mode=None): it lists a flag as ``--json`` (rich's table
# showed ``--json <bool>``, as if it took a value), and the help and usage errors need no rich.
app = typer.Typer(
    name="gateway",
    help="The provincial data-sharing integration gateway.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="The gateway's own database.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")

HostOption = Annotated[str, typer.Option(help="Interface to listen on.", envvar="GATEWAY_HOST")]
PortOption = Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535, envvar="GATEWAY_PORT")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help=f"Settings file (TOML, or YAML); the same as {CONFIG_ENV}. Environment variables override it.",
    ),
]
#: Exit status of a command whose settings are not valid.
EXIT_BAD_SETTINGS = 2


def use_config(path: Path | None) -> None:
    """Read the settings from ``path`` from now on (and in the worker processes started from here)."""
    if path is None:
        return
    from ..settings import get_settings

    os.environ[CONFIG_ENV] = str(path.resolve())
    get_settings.cache_clear()


def describe_settings_error(exc: ValidationError | SettingsError) -> list[str]:
    """One line per problem, naming the setting (``connectors.tax.config``) and what is wrong; never the value
    given (it may be a secret)."""
    from pydantic_settings import SettingsError

    if isinstance(exc, SettingsError):
        return [str(exc)]
    return [f"{'.'.join(str(part) for part in error['loc']) or '(settings)'}: {error['msg']}" for error in exc.errors()]


def load_settings() -> Settings:
    """The settings, or exit with readable errors (no traceback) when they are not valid."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from ..settings import get_settings

    try:
        return get_settings()
    except (ValidationError, SettingsError) as exc:
        source = os.environ.get(CONFIG_ENV)
        typer.echo(f"error: invalid settings{f' (settings file {source})' if source else ''}:", err=True)
        for line in describe_settings_error(exc):
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(EXIT_BAD_SETTINGS) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"axis-gateway {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """The provincial data-sharing integration gateway."""
    use_config(config)
    restrict_umask()  # everything the gateway writes (databases, journals, keys, demo data) is its user's only


def require_current_schema(database_url: str) -> None:
    """Exit with a one-line message (no traceback) unless the gateway's database is at the newest migration."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from .. import migrations
    from ..db import create_engine

    async def check() -> None:
        engine = create_engine(database_url)
        try:
            await migrations.ensure_current(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(check())
    except migrations.SchemaNotCurrent as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"error: cannot read the gateway database: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from None


def prepare_multiprocess_metrics(settings: Settings, workers: int) -> None:
    """With several workers, make prometheus-client share counters and histograms through files in a fresh
    directory (``PROMETHEUS_MULTIPROC_DIR``, ``data_dir/metrics`` unless already set), so that a scrape answered
    by any worker reports the sum of all of them."""
    if workers < 2:
        return
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.data_dir / "metrics")
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=DIRECTORY_MODE)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    import uvicorn

    from ..http_server import uvicorn_options

    private_directory(settings.data_dir)
    prepare_multiprocess_metrics(settings, workers)
    uvicorn.run(
        "gateway.app:create_app", factory=True, **uvicorn_options(settings, host=host, port=port, workers=workers)
    )


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    migrate: Annotated[bool, typer.Option(help="Upgrade the database schema before serving.")] = True,
    config: ConfigOption = None,
) -> None:
    """Serve the gateway with uvicorn.

    In production, several workers need Redis (GATEWAY_REDIS_URL): each worker would otherwise count the rate
    limits in its own memory."""
    from .. import migrations

    use_config(config)
    settings = load_settings()
    if settings.environment == "production" and workers > 1 and not settings.redis_url:
        typer.echo(
            f"error: gateway serve refuses --workers {workers} in production without GATEWAY_REDIS_URL: each "
            "worker process would count the rate limits in its own memory, letting a client make "
            f"{workers} times its limit. Set GATEWAY_REDIS_URL (the workers then count together in Redis), or "
            "serve with --workers 1.",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_SETTINGS)
    private_directory(settings.data_dir)
    if migrate:
        migrations.upgrade(settings.database_url)
    else:
        require_current_schema(settings.database_url)
    _serve(settings, host=host, port=port, workers=workers)


@app.command()
def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    citizens: Annotated[int, typer.Option(help="Citizens in the simulated population database.", min=1)] = 20000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated data.")] = 68,
    config: ConfigOption = None,
) -> None:
    """Seed demo data if absent, print the demo client's credentials and a ready request, then serve.

    Databases the settings configure already are served as configured; the others of the simulated sector systems
    are started and configured here."""
    import asyncio

    from .. import migrations
    from ..demo import demo_banner, prepare_demo
    from ..logs import configure_logging

    use_config(config)
    settings = load_settings()
    if settings.environment == "production":
        typer.echo("gateway demo refuses to run with GATEWAY_ENVIRONMENT=production", err=True)
        raise typer.Exit(2)
    # Logs go to stderr from the start: stdout carries only the banner (people paste from it).
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    private_directory(settings.data_dir)
    migrations.upgrade(settings.database_url)
    with ExitStack() as stack:  # the simulated sector systems serve until the gateway stops
        info = asyncio.run(prepare_demo(settings, citizens=citizens, seed=seed, stack=stack))
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only displayed
        shown_host = f"[{shown_host}]" if ":" in shown_host else shown_host
        population_url = str(settings.connectors["population"].config.get("url"))
        typer.echo(demo_banner(info, base_url=f"http://{shown_host}:{port}", population_url=population_url))
        _serve(settings, host=host, port=port, workers=1)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the migrations up to REVISION."""
    from .. import migrations
    from ..settings import get_settings

    migrations.upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base.")]) -> None:
    """Revert the migrations down to REVISION."""
    from .. import migrations
    from ..settings import get_settings

    migrations.downgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")
