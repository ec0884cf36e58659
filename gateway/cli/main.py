"""The ``gateway`` command: serving, the demo, and the gateway's own database.

The command modules import only the standard library and typer when loaded: ``gateway --help`` (and every
command) must start fast, so the gateway's heavier parts (the settings, SQLAlchemy, the app, the connectors) are
imported inside the commands that use them.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from gateway import __version__
from gateway.core.files import private_directory, replace_file, restrict_umask
from gateway.http.serve import EXIT_CANNOT_LISTEN, exec_server
from gateway.http.serve import run as run_server

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from gateway.axis.catalogue import Catalogue
    from gateway.core.settings import Settings

#: The variable naming the settings file (``gateway.core.settings.CONFIG_ENV``, spelled out here so that the help is
#: built without loading the settings).
CONFIG_ENV = "GATEWAY_CONFIG"

#: Exit status of a command whose settings are not valid.
EXIT_BAD_SETTINGS = 2


class GatewayGroup(TyperGroup):
    """The ``gateway`` command: settings that are not valid stop every command with the lines of
    :func:`load_settings` and exit :data:`EXIT_BAD_SETTINGS`, never a traceback, whichever command read them (each
    reads them when it needs them, with ``get_settings()``, after its arguments were parsed and its help shown)."""

    def invoke(self, ctx: Any) -> Any:  # ctx: typer's click Context (Any: typer's click is its own, private)
        try:
            return super().invoke(ctx)
        except Exception as exc:
            problems = settings_problems(exc)
            if problems is None:
                raise
            refuse_settings(problems)


# Every group's help is click's plain help (rich_markup_mode=None): it lists a flag as ``--json`` (rich's table
# showed ``--json <bool>``, as if it took a value), and the help and usage errors need no rich.
app = typer.Typer(
    name="gateway",
    help="The provincial data-sharing integration gateway.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    cls=GatewayGroup,
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
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        file_okay=False,
        help="The gateway's data directory (its database, keys, demo data); the same as GATEWAY_DATA_DIR. Run from "
        "any directory: with no --config nor GATEWAY_CONFIG, the settings the demo wrote there are used.",
    ),
]
#: Exit status of a command that cannot write the file it was asked to (``--output``).
EXIT_CANNOT_WRITE = 2
#: Exit status of ``gateway demo`` when the simulated sector systems (the distribution axis-gateway-demo, whose
#: package is ``simulators``) are not installed.
EXIT_DEMO_NOT_INSTALLED = 2
DATA_DIR_ENV = "GATEWAY_DATA_DIR"
#: The default data directory and the demo's settings file in it (``Settings.data_dir``'s default and
#: ``gateway.demo_settings.DEMO_SETTINGS_FILE``, spelled out so that the command reads no module for them).
DEFAULT_DATA_DIR = "var"
DEMO_SETTINGS_FILE = "demo.yaml"
#: Commands that never read the demo's settings file: the demo writes it (and configures its connectors itself),
#: ``serve`` serves what its operator configured.
_OWN_SETTINGS_COMMANDS = frozenset({"demo", "serve"})


def use_config(path: Path | None) -> None:
    """Read the settings from ``path`` from now on (and in the worker processes started from here)."""
    if path is None:
        return
    from gateway.core.settings import get_settings

    os.environ[CONFIG_ENV] = str(path.resolve())
    get_settings.cache_clear()


def use_data_dir(path: Path | None) -> None:
    """Use the data directory ``path`` (absolute, whatever the current directory) from now on."""
    if path is None:
        return
    from gateway.core.settings import get_settings

    os.environ[DATA_DIR_ENV] = str(path.resolve())
    get_settings.cache_clear()


def use_demo_settings() -> Path | None:
    """Without a settings file named (``--config``, ``GATEWAY_CONFIG``), read the settings file the demo wrote in
    the data directory (``GATEWAY_DATA_DIR``, else the default), when there is one. Returns it."""
    if os.environ.get(CONFIG_ENV):
        return None
    data_dir = Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)
    path = data_dir / DEMO_SETTINGS_FILE
    if not path.is_file():
        return None
    from gateway.core.settings import get_settings

    os.environ[CONFIG_ENV] = str(path.resolve())
    get_settings.cache_clear()
    return path


def describe_settings_error(exc: ValidationError | SettingsError) -> list[str]:
    """One line per problem, naming the setting (``connectors.tax.config``) and what is wrong; never the value
    given (it may be a secret)."""
    from pydantic_settings import SettingsError

    if isinstance(exc, SettingsError):
        return [str(exc)]
    return [f"{'.'.join(str(part) for part in error['loc']) or '(settings)'}: {error['msg']}" for error in exc.errors()]


def settings_problems(exc: BaseException) -> list[str] | None:
    """The lines of :func:`describe_settings_error` when ``exc`` is the settings' own error (reading their sources,
    or validating :class:`~gateway.core.settings.Settings`); ``None`` for any other exception."""
    if "pydantic_settings" not in sys.modules:  # the settings were never read
        return None
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    if isinstance(exc, SettingsError) or (isinstance(exc, ValidationError) and exc.title == "Settings"):
        return describe_settings_error(exc)
    return None


def refuse_settings(problems: list[str]) -> NoReturn:
    """Print ``error: invalid settings`` (naming the settings file) and one line per problem on stderr, and exit
    :data:`EXIT_BAD_SETTINGS`."""
    source = os.environ.get(CONFIG_ENV)
    typer.echo(f"error: invalid settings{f' (settings file {source})' if source else ''}:", err=True)
    for line in problems:
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(EXIT_BAD_SETTINGS)


def load_settings() -> Settings:
    """The settings, or exit with readable errors (no traceback) when they are not valid, alone or with the axis
    catalogue they name (:func:`checked_catalogue`)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from gateway.core.settings import get_settings

    try:
        settings = get_settings()
    except (ValidationError, SettingsError) as exc:
        refuse_settings(describe_settings_error(exc))
    checked_catalogue(settings)
    return settings


def checked_catalogue(settings: Settings) -> Catalogue:
    """The axis catalogue of ``settings``; exit as :func:`load_settings` does when it cannot be loaded or when
    ``axis_connected_target`` exceeds its databases (the settings cannot check that alone: the catalogue is the
    axis's)."""
    from gateway.axis.catalogue import CatalogueError, load_catalogue

    try:
        catalogue = load_catalogue(settings.axis_catalogue_path)
    except CatalogueError as exc:
        refuse_settings([f"axis_catalogue_path: {exc}"])
    target, total = settings.axis_connected_target, len(catalogue.databases)
    if target is not None and target > total:
        which = settings.axis_catalogue_path or "the shipped catalogue"
        refuse_settings(
            [f"axis_connected_target: {target} exceeds the {total} national databases of the axis catalogue ({which})"]
        )
    return catalogue


def require_data_keys(settings: Settings) -> None:
    """Exit :data:`EXIT_BAD_SETTINGS` with one line, before anything is done, when the data keys cannot be used (a
    key file that is not one key a line): the server would fail to start with it."""
    from gateway.identity.datakeys import DataKeyError, check_data_keys

    try:
        check_data_keys(settings)
    except DataKeyError as exc:
        typer.echo(f"error: invalid data keys: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_SETTINGS) from None


def _cannot_write(path: Path, why: str) -> typer.Exit:
    typer.echo(f"error: cannot write {path}: {why}; nothing was written", err=True)
    return typer.Exit(EXIT_CANNOT_WRITE)


def checked_output(path: Path | None) -> Path | None:
    """The callback of every option naming a file a command writes (``--output``): a path that cannot be written
    (in a directory that does not exist or is not writable, a directory itself, a read-only file) is refused with
    one line, exit :data:`EXIT_CANNOT_WRITE`, before the command does anything. :func:`write_output` writes it."""
    if path is None:
        return None
    parent = path.absolute().parent
    why = None
    if path.is_dir():
        why = "it is a directory"
    elif not parent.is_dir():
        why = f"the directory {parent} does not exist" if not parent.exists() else f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        why = f"the directory {parent} is not writable"
    elif path.exists() and not os.access(path, os.W_OK):
        why = "it is not writable"
    if why is not None:
        raise _cannot_write(path, why)
    return path


def write_output(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all: into a new file beside it, renamed over it once
    complete (a device or a pipe, such as ``/dev/stdout``, is written directly); one line and exit
    :data:`EXIT_CANNOT_WRITE` when it cannot be written (no traceback, no partial file)."""
    data = text.encode("utf-8")
    target = path.resolve() if path.is_symlink() else path
    try:
        if target.exists() and not target.is_file() and not target.is_dir():
            with target.open("wb") as stream:
                stream.write(data)
            return
        replace_file(target.absolute(), data)
    except OSError as exc:
        raise _cannot_write(path, exc.strerror or type(exc).__name__) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"axis-gateway {__version__}")
        raise typer.Exit


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The provincial data-sharing integration gateway.

    Settings, first found: --config, GATEWAY_CONFIG, the demo's settings file in the data directory
    (demo.yaml), else the environment only; environment variables override a settings file."""
    use_data_dir(data_dir)
    use_config(config)
    if ctx.invoked_subcommand not in _OWN_SETTINGS_COMMANDS:
        use_demo_settings()
    restrict_umask()  # everything the gateway writes (databases, journals, keys, demo data) is its user's only


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL (``None``: another database, or SQLite in memory)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return Path(url.database.removeprefix("file:").split("?", 1)[0])
    return Path(url.database)


def say_which_gateway(database_url: str) -> None:
    """One line on stderr naming the gateway database the command uses, and the settings file it came from."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        shown = make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "(an invalid URL)"
    file = sqlite_file(database_url)
    if file is not None:
        shown = f"{shown.split(':', 1)[0]}:///{file.resolve()}"
    source = os.environ.get(CONFIG_ENV)
    typer.echo(
        f"using the gateway database {shown} (settings: {source or 'environment only, no settings file'})", err=True
    )


def require_current_schema(database_url: str) -> None:
    """Say which gateway database the command uses; exit with a one-line message (no traceback) unless it exists
    and is at the newest migration. A SQLite database that does not exist is not created."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from gateway.core import migrations
    from gateway.core.db import create_engine

    say_which_gateway(database_url)
    file = sqlite_file(database_url)
    if file is not None and not file.is_file():
        typer.echo(
            f"error: there is no gateway database at {file.resolve()} (nothing was created). Run the command with "
            "the gateway's data directory (--data-dir DIR, GATEWAY_DATA_DIR) or settings (--config FILE, "
            "GATEWAY_CONFIG); for a new gateway, `gateway db upgrade` creates the database (`gateway demo` too).",
            err=True,
        )
        raise typer.Exit(1)

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


def listen(host: str, port: int) -> socket.socket:
    """Bind the socket the server will serve on, as uvicorn would (``SO_REUSEADDR``; IPv6 when ``host`` has a
    colon), before anything else is done: when the address is taken, print one line on stderr and exit
    :data:`EXIT_CANNOT_LISTEN` with nothing changed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        why = (
            "the address is already in use (is another gateway or demo running there?)"
            if exc.errno == errno.EADDRINUSE
            else (exc.strerror or type(exc).__name__)
        )
        typer.echo(f"error: cannot listen on {shown}: {why}; nothing was changed", err=True)
        raise typer.Exit(EXIT_CANNOT_LISTEN) from None
    sock.set_inheritable(True)  # the worker processes of --workers serve on it
    return sock


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
    require_named_database(settings)
    require_data_keys(settings)
    sock = listen(host, port)  # a taken address fails here, before the schema is touched
    private_directory(settings.data_dir)
    if migrate:
        upgrade_schema(settings.database_url)
    else:
        require_current_schema(settings.database_url)
    exec_server(sock, host=host, port=port, workers=workers)  # this process becomes the server


def demo_not_installed() -> str:
    """The line ``gateway demo`` prints when the simulated sector systems are not installed: the command that
    installs them (the README's), with the pip of this gateway's Python."""
    import shlex

    pip = f"{shlex.quote(sys.executable)} -m pip"
    return (
        "error: gateway demo needs the simulated sector systems (the distribution axis-gateway-demo, in the "
        f"repository's demo/), which are not installed; from the repository's root: {pip} install '.[demo]' ./demo"
    )


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

    try:
        from gateway.demo import demo_banner, keep_tokens_fresh, prepare_demo, scan_later
    except ModuleNotFoundError as error:
        if error.name != "simulators" and not (error.name or "").startswith("simulators."):
            raise
        typer.echo(demo_not_installed(), err=True)
        raise typer.Exit(EXIT_DEMO_NOT_INSTALLED) from None
    from gateway.core.logs import configure_logging
    from gateway.demo_settings import write_demo_settings

    use_config(config)
    settings = load_settings()
    if not settings.data_dir.is_absolute():  # the settings file it writes is read from any directory
        use_data_dir(settings.data_dir)
        settings = load_settings()
    if settings.environment == "production":
        typer.echo("gateway demo refuses to run with GATEWAY_ENVIRONMENT=production", err=True)
        raise typer.Exit(2)
    require_data_keys(settings)
    # Logs go to stderr from the start: stdout carries only the banner (people paste from it).
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    # A taken address fails here, before the secrets are renewed or anything is printed or written.
    sock = listen(host, port)
    private_directory(settings.data_dir)
    upgrade_schema(settings.database_url)
    with ExitStack() as stack:  # the simulated sector systems serve until the gateway stops
        info = asyncio.run(prepare_demo(settings, citizens=citizens, seed=seed, stack=stack))
        write_demo_settings(settings)
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only displayed
        shown_host = f"[{shown_host}]" if ":" in shown_host else shown_host
        population_url = str(settings.connectors["population"].config.get("url"))
        base_url = f"http://{shown_host}:{port}"
        typer.echo(demo_banner(info, base_url=base_url, population_url=population_url))
        stop = threading.Event()
        stack.callback(stop.set)
        refresher = threading.Thread(
            target=keep_tokens_fresh, args=(info, base_url, stop), name="demo-tokens", daemon=True
        )
        refresher.start()
        if info.unscanned:  # scanned while the gateway serves; stopped before the simulated systems stop
            stack.callback(scan_later(settings, info.unscanned))
        # Served in this process, beside the simulated sector systems it started.
        status = run_server(sock, host=host, port=port, workers=1)
        if status:
            sys.exit(status)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the migrations up to REVISION (creating the database, when it is an absent SQLite file)."""
    from gateway.core import migrations
    from gateway.core.settings import get_settings

    require_named_database(load_settings())
    url = get_settings().database_url
    say_which_gateway(url)
    _migrate(migrations.upgrade, url, revision)


def require_named_database(settings: Settings) -> None:
    """In production, exit :data:`EXIT_BAD_SETTINGS` with one line, before anything is done, when no source set the
    gateway's database (``GATEWAY_DATABASE_URL``): a secret file ``gateway_database_url`` missing or misnamed would
    otherwise give each replica a SQLite database of its own in its data directory, silently. A single production
    gateway on SQLite names its file (``sqlite+aiosqlite:////var/lib/gateway/gateway.db``)."""
    problem = unnamed_database(settings)
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_SETTINGS)


def unnamed_database(settings: Settings) -> str | None:
    """What :func:`require_named_database` refuses, in a line (without ``error:``), or ``None``."""
    if settings.environment != "production" or not settings.database_url_defaulted:
        return None
    return (
        "GATEWAY_DATABASE_URL is not set (no environment variable, no file gateway_database_url in the secrets "
        "directory, no database_url in the settings file), and production does not fall back to a SQLite file of "
        f"its data directory ({settings.data_dir}); set it to the gateway's PostgreSQL database "
        "(postgresql://user@host/db), or to an explicit sqlite+aiosqlite:///FILE for a single gateway process; "
        "nothing was changed"
    )


def _innermost_error_name(exc: BaseException) -> str:
    """The class of the error behind ``exc`` (SQLAlchemy's wrapper, the driver's adapter, then the driver's own
    error: ``InvalidCatalogNameError``, ``ConnectionRefusedError``), never its text (it may quote the URL)."""
    seen: set[int] = set()
    error: BaseException = exc
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "orig", None) or error.__cause__
        if not isinstance(inner, BaseException):
            break
        error = inner
    return type(error).__name__


def require_reachable_database(database_url: str) -> None:
    """Exit 1 with one line naming ``GATEWAY_DATABASE_URL`` (its address, never its password) and the error's class
    when the gateway's PostgreSQL database cannot be connected to (down, refused, unknown database or user): before a
    migration, which would otherwise end in a traceback. SQLite is left to the migrations, which create its file."""
    import asyncio

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.core.db import create_engine, ping

    if sqlite_file(database_url) is not None or make_url(database_url).get_backend_name() == "sqlite":
        return

    async def check() -> None:
        engine = create_engine(database_url, poolclass=_null_pool())
        try:
            await ping(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(check())
    except (SQLAlchemyError, OSError) as exc:
        shown = make_url(database_url).render_as_string(hide_password=True)
        typer.echo(
            f"error: cannot connect to the gateway database {shown} (GATEWAY_DATABASE_URL): "
            f"{_innermost_error_name(exc)}; nothing was changed",
            err=True,
        )
        raise typer.Exit(1) from None


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def upgrade_schema(url: str) -> None:
    """Bring the gateway's database to this version's schema before serving; one migrated by a newer version
    is one line and exit 1 (what to run), never a traceback, and so is a database that cannot be reached."""
    from alembic.util.exc import CommandError

    from gateway.core import migrations

    require_reachable_database(url)
    try:
        migrations.upgrade(url)
    except CommandError as exc:
        _migration_failed(url, exc)


def _migration_failed(url: str, error: Exception, hint: str = "") -> NoReturn:
    """Alembic refused to migrate the database at ``url``: one line on stderr and exit 1, never a traceback. A
    database a newer version migrated is named, with what to run; otherwise Alembic's ``error``, then ``hint``."""
    from gateway.core import migrations

    current = migrations.revision_of(url)
    if current is not None and migrations.newer_than_code(current):
        typer.echo(f"error: {migrations.ahead_of_code(current)}", err=True)
    else:
        typer.echo(f"error: {error}{hint}", err=True)
    raise typer.Exit(1) from None


def _migrate(step: Any, url: str, revision: str) -> None:
    """Run ``step`` (:func:`~gateway.core.migrations.upgrade` or ``downgrade``) to ``revision`` and say where the
    database is now; a revision Alembic does not know is one line on stderr and exit 1, never a traceback."""
    from alembic.util.exc import CommandError

    from gateway.core import migrations

    require_reachable_database(url)
    try:
        step(url, revision)
    except migrations.MigrationRefused as exc:
        typer.echo(f"error: {exc} (the database is left at {migrations.revision_of(url) or 'base'})", err=True)
        raise typer.Exit(1) from None
    except CommandError as exc:
        _migration_failed(url, exc, f" (this version's revisions go from base to {migrations.HEAD})")
    reached = migrations.revision_of(url)
    typer.echo(f"database at {reached or 'base'}{' (head)' if reached == migrations.HEAD else ''}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base.")]) -> None:
    """Revert the migrations down to REVISION."""
    from gateway.core import migrations
    from gateway.core.settings import get_settings

    require_named_database(load_settings())
    file = sqlite_file(get_settings().database_url)
    say_which_gateway(get_settings().database_url)
    if file is not None and not file.is_file():
        typer.echo(f"error: there is no gateway database at {file.resolve()} (nothing was created)", err=True)
        raise typer.Exit(1)
    _migrate(migrations.downgrade, get_settings().database_url, revision)
