"""``gateway clients ...``: agency systems allowed to call the gateway."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ..db import standalone_session, utcnow
from ..services.access import load_access
from ..services.clients import ClientError, create_client, list_clients
from ..settings import get_settings
from .main import require_current_schema

app = typer.Typer(help="Clients: agency systems allowed to call the gateway.", no_args_is_help=True)


@app.command("create")
def clients_create(
    name: Annotated[str, typer.Argument(help="The agency system's name.")],
    scope: Annotated[list[str], typer.Option("--scope", "-s", help="A scope, e.g. population:read (repeat).")],
    client_id: Annotated[str | None, typer.Option(help="The client id; generated when absent.")] = None,
    agency_code: Annotated[str | None, typer.Option(help="Electronic agency code, e.g. 000.00.00.H41.")] = None,
) -> None:
    """Create a client and print its id and secret. The secret is shown only this once."""

    require_current_schema(get_settings().database_url)

    async def run() -> tuple[str, str]:
        async with standalone_session(get_settings().database_url) as session:
            client, secret = await create_client(
                session, name=name, scopes=scope, client_id=client_id, agency_code=agency_code
            )
            return client.client_id, secret

    try:
        new_id, secret = asyncio.run(run())
    except ClientError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"client_id:     {new_id}")
    typer.echo(f"client_secret: {secret}")
    typer.echo("Store the secret now: it is not kept and cannot be shown again.", err=True)


@app.command("list")
def clients_list() -> None:
    """List the clients (never their secrets)."""

    require_current_schema(get_settings().database_url)

    async def run() -> list[tuple[str, str, str, str]]:
        rows = []
        async with standalone_session(get_settings().database_url) as session:
            for client in await list_clients(session):
                access = await load_access(session, client.client_id)
                scopes = access.token_scopes(utcnow()) if access else []
                rows.append((client.client_id, client.status.value, " ".join(scopes), client.name))
        return rows

    for row in asyncio.run(run()):
        typer.echo("\t".join(row))
