"""``gateway grants ...``: what each client may do with each national database.

Changes are written to the gateway's database and announced to running gateway processes (at once on
PostgreSQL; on SQLite, which they poll for the clients changed lately, within about a second).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.clients import (
    JsonOption,
    echo_json,
    grant_row,
    run_admin,
    run_recorded_admin,
    shown,
    warn_unchecked,
)

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from gateway.identity.grants import GrantPublic
    from gateway.identity.request_state import AdminDescriptor
    from gateway.records.registry import ConnectorRegistry

app = typer.Typer(
    help="Grants: what each client may do with each national database.", no_args_is_help=True, rich_markup_mode=None
)

# Grant ids are 32-bit integers in the database (SERIAL on PostgreSQL), as the admin API's path says.
GrantIdArgument = Annotated[int, typer.Argument(help="The grant id.", min=1, max=2**31 - 1, show_default=False)]


def _echo_grant(grant: GrantPublic) -> None:
    def listed(values: list[str] | None, everything: str) -> str:
        return everything if values is None else " ".join(values)

    def moment(value: datetime | None, missing: str) -> str:
        return value.isoformat(timespec="seconds") if value is not None else missing

    lines = [
        ("grant_id", str(grant.id)),
        ("client_id", grant.client_id),
        ("database", grant.database),
        ("status", grant.status.value),
        ("operations", " ".join(grant.operations)),
        ("fields", listed(grant.fields, "* (every field)")),
        ("purposes", listed(grant.purposes, "* (any purpose)")),
        (
            "require",
            " ".join(h for h, on in (("X-Purpose", grant.require_purpose), ("X-Actor-Id", grant.require_actor)) if on)
            or "-",
        ),
        ("valid_from", moment(grant.valid_from, "-")),
        ("valid_until", moment(grant.valid_until, "- (open)")),
        ("note", grant.note or "-"),
        ("created_at", moment(grant.created_at, "-")),
        ("revoked_at", moment(grant.revoked_at, "-")),
    ]
    for name, value in lines:
        typer.echo(f"{name + ':':<13} {shown(value)}")


@app.command("add")
def grants_add(
    client_id: Annotated[str, typer.Argument(help="The client.", show_default=False)],
    database: Annotated[str, typer.Argument(help="The national database, e.g. population.", show_default=False)],
    *,
    operation: Annotated[
        list[str],
        typer.Option(
            "--operation",
            "-o",
            help="read, search, submit or delete (repeat; delete needs submit).",
            show_default=False,
        ),
    ],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="A contract field or dotted path (repeat); every field when absent."),
    ] = None,
    purpose: Annotated[
        list[str] | None,
        typer.Option("--purpose", "-p", help="A procedure code the grant serves (repeat); any purpose when absent."),
    ] = None,
    valid_from: Annotated[
        str | None, typer.Option(help="A date (Viet Nam time) or a date-time with its offset; now when absent.")
    ] = None,
    valid_until: Annotated[
        str | None, typer.Option(help="A date (through that day, Viet Nam time) or a date-time with its offset.")
    ] = None,
    require_purpose: Annotated[bool, typer.Option(help="Requests must state X-Purpose.")] = True,
    require_actor: Annotated[bool, typer.Option(help="Requests must state X-Actor-Id.")] = True,
    note: Annotated[str | None, typer.Option(help="Why the grant exists (a decision, a ticket).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Give a client operations on a database, limited to fields and purposes; checked against the database's
    connector as configured in the settings."""

    from gateway.audit import administration
    from gateway.identity.grants import GrantCreate, GrantPublic, add_grant, validated

    given: dict[str, Any] = {
        "client_id": client_id,
        "database": database,
        "operations": operation,
        "fields": field or None,
        "purposes": purpose or None,
        "require_purpose": require_purpose,
        "require_actor": require_actor,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "note": note,
    }

    async def add(session: AsyncSession, registry: ConnectorRegistry | None) -> tuple[GrantPublic, AdminDescriptor]:
        spec = validated(GrantCreate, given)
        added = await add_grant(session, spec, registry=registry)
        warn_unchecked(registry, [spec.database])
        return GrantPublic.of(added), administration.grant_added(added)

    grant = run_recorded_admin(add, catalog=True, given=given)
    if as_json:
        echo_json(grant)
    else:
        _echo_grant(grant)


@app.command("list")
def grants_list(
    client: Annotated[str | None, typer.Option("--client", help="Only this client's grants.")] = None,
    database: Annotated[str | None, typer.Option(help="Only grants on this database.")] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Only grants in force now, or only revoked, expired or pending ones."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List grants, one per line: id, client, database, status, operations, fields, purposes (``*``: all),
    valid from, valid until."""

    from gateway.identity.grants import GrantPublic, list_grants

    async def find(session: AsyncSession, _registry: ConnectorRegistry | None) -> list[GrantPublic]:
        grants = await list_grants(session, client_id=client, database=database, active=active)
        return [GrantPublic.of(g) for g in grants]

    grants = run_admin(find)
    if as_json:
        echo_json(grants)
        return
    for grant in grants:
        typer.echo(grant_row(grant))


@app.command("show")
def grants_show(grant_id: GrantIdArgument, as_json: JsonOption = False) -> None:
    """Show one grant and its status now."""

    from gateway.identity.grants import GrantPublic, get_grant

    async def show(session: AsyncSession, _registry: ConnectorRegistry | None) -> GrantPublic:
        return GrantPublic.of(await get_grant(session, grant_id))

    grant = run_admin(show)
    if as_json:
        echo_json(grant)
    else:
        _echo_grant(grant)


@app.command("revoke")
def grants_revoke(grant_id: GrantIdArgument) -> None:
    """Revoke a grant at once (it is kept, marked revoked)."""

    from gateway.audit import administration
    from gateway.identity.grants import GrantPublic, get_grant, revoke_grant

    async def revoke(session: AsyncSession, _registry: ConnectorRegistry | None) -> tuple[GrantPublic, AdminDescriptor]:
        already = (await get_grant(session, grant_id)).revoked_at is not None
        revoked = await revoke_grant(session, grant_id)
        return GrantPublic.of(revoked), administration.grant_revoked(revoked, already=already)

    grant = run_recorded_admin(revoke)
    typer.echo(
        f"grant {grant.id} revoked at {grant.revoked_at.isoformat(timespec='seconds') if grant.revoked_at else '-'}"
    )
