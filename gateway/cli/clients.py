"""``gateway clients ...``: agency systems allowed to call the gateway.

Changes are written to the gateway's database and announced to running gateway processes (at once on
PostgreSQL; on SQLite, which they poll for the clients changed lately, within about a second).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from gateway.cli.main import require_current_schema

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlmodel.ext.asyncio.session import AsyncSession

    from gateway.core.problems import Problem
    from gateway.core.settings import Settings
    from gateway.identity.clients import ClientDetail
    from gateway.identity.grants import GrantPublic
    from gateway.identity.models import ClientStatus
    from gateway.identity.request_state import AdminDescriptor
    from gateway.records.registry import ConnectorRegistry

app = typer.Typer(
    help="Clients: agency systems allowed to call the gateway.", no_args_is_help=True, rich_markup_mode=None
)

T = TypeVar("T")
if TYPE_CHECKING:
    Action = Callable[[AsyncSession, ConnectorRegistry | None], Awaitable[T]]
    #: A change: its result and what it did (for the audit trail).
    RecordedAction = Callable[[AsyncSession, ConnectorRegistry | None], Awaitable[tuple[T, AdminDescriptor]]]

ClientIdArgument = Annotated[str, typer.Argument(help="The client id.", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the admin API's answer).")]


class StatusChoice(StrEnum):
    """A client's status as ``--status`` takes it: the values of :class:`gateway.tables.ClientStatus` (spelled out
    here so that the help is built without loading the models)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


def fail(problem: Problem, given: Mapping[str, Any] | None = None) -> NoReturn:
    """Print a problem (and each invalid value, quoting it from ``given``) on stderr and exit 1."""
    typer.echo(f"error: {problem.detail or problem.title}", err=True)
    for error in problem.extensions.get("errors", []):
        loc = [part for part in error.get("loc", []) if part != "body"]
        where = ".".join(str(part) for part in loc) or "(request)"
        quoted = ""
        if given is not None and loc and loc[0] in given:
            value = given[loc[0]]
            for part in loc[1:]:
                value = value[part] if isinstance(value, list | tuple) and isinstance(part, int) else None
            quoted = f" ({value!r})" if value is not None else ""
        typer.echo(f"  {where}{quoted}: {error.get('msg', '')}", err=True)
    raise typer.Exit(1)


def _catalog(settings: Settings) -> ConnectorRegistry | None:
    """The databases configured in the settings, to check grants against their connectors (``None``: nothing to
    check against, said on stderr)."""
    from gateway.core.logs import configure_logging
    from gateway.records.registry import ConnectorRegistry

    configure_logging(level=settings.log_level, fmt=settings.log_format)
    registry = ConnectorRegistry.from_settings(settings)
    if not registry.databases and not registry.failures:
        # Settings without connectors (another data directory than the demo's, whose settings file would name
        # its connectors): nothing to check against; said, not refused.
        typer.echo(
            "warning: these settings configure no connector (--config, GATEWAY_CONFIG, GATEWAY_CONNECTORS, or a "
            "demo's data directory: --data-dir): the grant is not checked against its database's connector",
            err=True,
        )
        return None
    return registry


def run_admin(action: Action[T], *, catalog: bool = False, given: Mapping[str, Any] | None = None) -> T:
    """Run ``action`` on the gateway's database (its schema must be current). With ``catalog`` it also gets
    the databases configured in the settings, to check grants against their connectors. A problem (not found,
    conflict, invalid values) is printed and exits 1."""
    import asyncio

    from gateway.core.db import standalone_session
    from gateway.core.problems import Problem
    from gateway.core.settings import get_settings

    settings = get_settings()
    require_current_schema(settings.database_url)
    registry = _catalog(settings) if catalog else None

    async def run() -> T:
        async with standalone_session(settings.database_url) as session:
            return await action(session, registry)

    try:
        return asyncio.run(run())
    except Problem as exc:
        fail(exc, given)


def run_recorded_admin(
    change: RecordedAction[T], *, catalog: bool = False, given: Mapping[str, Any] | None = None
) -> T:
    """:func:`run_admin` for a change, committed with its audit event (:mod:`gateway.cli.recorded`): ``change``
    returns its result and what it did. A problem is printed and exits 1, as is an event that could not be
    appended (nothing is changed then)."""
    import asyncio

    from gateway.cli.recorded import NotRecorded, not_recorded_message, run_recorded
    from gateway.core.problems import Problem
    from gateway.core.settings import get_settings

    settings = get_settings()
    require_current_schema(settings.database_url)
    registry = _catalog(settings) if catalog else None
    try:
        return asyncio.run(run_recorded(settings.database_url, lambda session: change(session, registry)))
    except Problem as exc:
        fail(exc, given)
    except NotRecorded as exc:
        typer.echo(not_recorded_message(exc), err=True)
        raise typer.Exit(1) from None


def warn_unchecked(registry: ConnectorRegistry | None, databases: Sequence[str]) -> None:
    """Say which of ``databases`` are configured but not loaded now: what is given on them is not checked against
    their connector (operations offered, fields of the contract)."""
    for database in dict.fromkeys(databases):
        if registry is not None and database in registry.failures:
            typer.echo(
                f"warning: the {database} database's connector did not load ({registry.failures[database]}): what is "
                "given on it is not checked against its operations and contract",
                err=True,
            )


def echo_json(value: BaseModel | Sequence[BaseModel]) -> None:
    """Print a model (or a list of them) as JSON."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        typer.echo(value.model_dump_json(indent=2))
    else:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in value], indent=2, ensure_ascii=False))


def shown(text: str) -> str:
    """``text`` as printed: its control, format and invisible characters escaped (``\\x1b``, ``\\n``, ``\\u202e``), so
    that a stored value (written before the admin API refused them, or by hand) cannot forge a line, clear or colour
    the terminal, or hide what it says."""
    from gateway.identity.grants import UNPRINTABLE_CATEGORIES

    if text.isprintable():
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii") if unicodedata.category(char) in UNPRINTABLE_CATEGORIES else char
        for char in text
    )


async def _an_active_admin(session: AsyncSession, client_id: str) -> bool:
    from gateway.identity.clients import active_admins

    return client_id in await active_admins(session)


NO_ADMIN_LEFT = (
    "warning: no active client holds the admin scope now: the admin API refuses every request until one does "
    "(gateway clients update CLIENT_ID --scope admin, or gateway clients activate CLIENT_ID)"
)


def _moment(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def grant_row(grant: GrantPublic) -> str:
    """One grant as a tab-separated line: id, client, database, status, operations, fields, purposes (``*``:
    all), valid from, valid until."""
    return "\t".join(
        shown(value)
        for value in (
            str(grant.id),
            grant.client_id,
            grant.database,
            grant.status.value,
            ",".join(grant.operations),
            "*" if grant.fields is None else ",".join(grant.fields),
            "*" if grant.purposes is None else ",".join(grant.purposes),
            _moment(grant.valid_from),
            _moment(grant.valid_until),
        )
    )


def _echo_client(detail: ClientDetail) -> None:
    def limit(value: int | None) -> str:
        return "default" if value is None else str(value)

    active = [s for s in detail.secrets if s.active]
    expiring = sorted(_moment(s.expires_at) for s in active if s.expires_at is not None)
    lines = [
        ("client_id", detail.client_id),
        ("name", detail.name),
        ("agency_code", detail.agency_code or "-"),
        ("contact", detail.contact or "-"),
        ("status", detail.status.value),
        ("scopes", " ".join(detail.scopes) or "-"),
        ("token_scopes", " ".join(detail.token_scopes) or "-"),
        ("rate_limits", f"{limit(detail.rate_limit_per_second)}/s, {limit(detail.rate_limit_per_day)}/day"),
        ("secrets", f"{len(active)} active" + (f", expiring {', '.join(expiring)}" if expiring else "")),
        ("created_at", _moment(detail.created_at)),
        ("updated_at", _moment(detail.updated_at)),
    ]
    for name, value in lines:
        typer.echo(f"{name + ':':<14} {shown(value)}")
    typer.echo("grants:" if detail.grants else "grants:       -")
    for grant in detail.grants:
        typer.echo("  " + grant_row(grant))


@app.command("create")
def clients_create(
    name: Annotated[str, typer.Argument(help="The agency system's name.")],
    *,
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            "-s",
            help="admin, audit, axis, or database:operation (a grant on every field), e.g. population:read.",
        ),
    ],
    client_id: Annotated[str | None, typer.Option(help="The client id; generated when absent.")] = None,
    agency_code: Annotated[str | None, typer.Option(help="Electronic agency code, e.g. 000.00.00.H41.")] = None,
    contact: Annotated[str | None, typer.Option(help="Who answers for the system.")] = None,
    rate_limit_per_second: Annotated[
        int | None, typer.Option(help="Requests per second (default: the gateway's).")
    ] = None,
    rate_limit_per_day: Annotated[int | None, typer.Option(help="Requests per day (default: the gateway's).")] = None,
) -> None:
    """Create a client and print its id and secret. The secret is shown only this once."""

    from gateway.audit import administration
    from gateway.identity.clients import ClientCreate, add_client, describe_client
    from gateway.identity.grants import validated

    given: dict[str, Any] = {
        "name": name,
        "scopes": scope,
        "client_id": client_id,
        "agency_code": agency_code,
        "contact": contact,
        "rate_limit_per_second": rate_limit_per_second,
        "rate_limit_per_day": rate_limit_per_day,
    }

    async def create(
        session: AsyncSession, registry: ConnectorRegistry | None
    ) -> tuple[tuple[str, str], AdminDescriptor]:
        spec = validated(ClientCreate, given)
        client, secret = await add_client(session, spec, registry=registry)
        warn_unchecked(registry, [s.partition(":")[0] for s in spec.scopes if ":" in s])
        return (client.client_id, secret), administration.client_created(await describe_client(session, client))

    new_id, secret = run_recorded_admin(create, catalog=True, given=given)
    typer.echo(f"client_id:     {new_id}")
    typer.echo(f"client_secret: {secret}")
    typer.echo("Store the secret now: it is not kept and cannot be shown again.", err=True)


@app.command("list")
def clients_list(
    status: Annotated[StatusChoice | None, typer.Option(help="Only clients with this status.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the clients, one per line: id, status, token scopes, name (never their secrets)."""
    from gateway.identity.clients import ClientPublic, describe_client, list_clients
    from gateway.identity.models import ClientStatus

    wanted = None if status is None else ClientStatus(status.value)

    async def details(session: AsyncSession, _registry: ConnectorRegistry | None) -> list[ClientDetail]:
        return [await describe_client(session, client) for client in await list_clients(session, status=wanted)]

    found = run_admin(details)
    if as_json:
        echo_json([ClientPublic.model_validate(d.model_dump()) for d in found])
        return
    for detail in found:
        values = (detail.client_id, detail.status.value, " ".join(detail.token_scopes), detail.name)
        typer.echo("\t".join(shown(value) for value in values))


@app.command("show")
def clients_show(client_id: ClientIdArgument, as_json: JsonOption = False) -> None:
    """Show a client: its details, the scopes a token would carry now, its secrets' dates and its grants."""

    from gateway.identity.clients import describe_client, require_client

    async def show(session: AsyncSession, _registry: ConnectorRegistry | None) -> ClientDetail:
        return await describe_client(session, await require_client(session, client_id))

    detail = run_admin(show)
    if as_json:
        echo_json(detail)
    else:
        _echo_client(detail)


@app.command("update")
def clients_update(
    client_id: ClientIdArgument,
    *,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    agency_code: Annotated[str | None, typer.Option(help="A new electronic agency code ('' clears it).")] = None,
    contact: Annotated[str | None, typer.Option(help="A new contact ('' clears it).")] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="Replace the non-data scopes: admin, audit, axis (repeat)."),
    ] = None,
    no_scopes: Annotated[bool, typer.Option("--no-scopes", help="Remove the non-data scopes.")] = False,
    rate_limit_per_second: Annotated[
        int | None, typer.Option(help="Requests per second (0: the gateway's default).", min=0)
    ] = None,
    rate_limit_per_day: Annotated[
        int | None, typer.Option(help="Requests per day (0: the gateway's default).", min=0)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a client's details; running gateways apply the change at once."""

    from gateway.audit import administration
    from gateway.identity.clients import ClientUpdate, active_admins, describe_client, require_client, update_client
    from gateway.identity.grants import validated

    given: dict[str, Any] = {}
    if name is not None:
        given["name"] = name
    for member, text in (("agency_code", agency_code), ("contact", contact)):
        if text is not None:
            given[member] = text or None
    if scope and no_scopes:
        typer.echo("error: --scope and --no-scopes contradict each other: give one of them", err=True)
        raise typer.Exit(2)
    if scope or no_scopes:
        given["scopes"] = [] if no_scopes else scope
    for member, number in (
        ("rate_limit_per_second", rate_limit_per_second),
        ("rate_limit_per_day", rate_limit_per_day),
    ):
        if number is not None:
            given[member] = number or None
    if not given:
        typer.echo("error: nothing to change (see --help)", err=True)
        raise typer.Exit(2)

    async def update(
        session: AsyncSession, _registry: ConnectorRegistry | None
    ) -> tuple[tuple[ClientDetail, bool], AdminDescriptor]:
        changes = validated(ClientUpdate, given)
        client = await require_client(session, client_id)
        was_admin = await _an_active_admin(session, client_id)
        before = administration.client_values(client)
        await update_client(session, client, changes)
        done = administration.client_updated(
            client.client_id, changes.model_fields_set, before, administration.client_values(client)
        )
        return (await describe_client(session, client), was_admin and not await active_admins(session)), done

    detail, last_admin_gone = run_recorded_admin(update, given=given)
    if last_admin_gone:
        typer.echo(NO_ADMIN_LEFT, err=True)
    if as_json:
        echo_json(detail)
    else:
        _echo_client(detail)


def _set_status(client_id: str, status: ClientStatus) -> None:

    from gateway.audit import administration
    from gateway.identity.clients import active_admins, require_client, set_status

    async def change(session: AsyncSession, _registry: ConnectorRegistry | None) -> tuple[bool, AdminDescriptor]:
        client = await require_client(session, client_id)
        was_admin = await _an_active_admin(session, client_id)
        previous = client.status
        await set_status(session, client, status)
        done = administration.status_set(client.client_id, client.status, previous)
        return was_admin and not await active_admins(session), done

    last_admin_gone = run_recorded_admin(change)
    typer.echo(f"client {client_id} is {status.value}")
    if last_admin_gone:
        typer.echo(NO_ADMIN_LEFT, err=True)


@app.command("suspend")
def clients_suspend(client_id: ClientIdArgument) -> None:
    """Suspend a client: its tokens stop working and it obtains no new ones."""
    from gateway.identity.models import ClientStatus

    _set_status(client_id, ClientStatus.SUSPENDED)


@app.command("activate")
def clients_activate(client_id: ClientIdArgument) -> None:
    """Reactivate a suspended client."""
    from gateway.identity.models import ClientStatus

    _set_status(client_id, ClientStatus.ACTIVE)


@app.command("rotate-secret")
def clients_rotate_secret(
    client_id: ClientIdArgument,
    overlap: Annotated[
        int, typer.Option(help="Seconds the current secrets keep working (0: they stop at once).", min=0)
    ] = 0,
) -> None:
    """Give a client a new secret and print it (shown only this once)."""

    from gateway.audit import administration
    from gateway.identity.clients import SecretRotation, require_client, rotate_client_secret
    from gateway.identity.grants import validated

    given = {"overlap_seconds": overlap}

    async def rotate(
        session: AsyncSession, _registry: ConnectorRegistry | None
    ) -> tuple[tuple[str, datetime], AdminDescriptor]:
        rotation = validated(SecretRotation, given)
        rotated = await rotate_client_secret(session, await require_client(session, client_id), rotation)
        done = administration.secret_rotated(
            rotated.client_id, rotation.overlap_seconds, rotated.previous_secrets_expire_at
        )
        return (rotated.client_secret, rotated.previous_secrets_expire_at), done

    secret, until = run_recorded_admin(rotate, given=given)
    typer.echo(f"client_id:     {client_id}")
    typer.echo(f"client_secret: {secret}")
    typer.echo(f"The previous secrets stop working at {_moment(until)}.", err=True)
    typer.echo("Store the secret now: it is not kept and cannot be shown again.", err=True)
