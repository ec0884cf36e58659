"""``gateway exchange ...``: the operator's tools for submitted operations that could not be delivered.

The commands change the shared database only; the running gateways' dispatchers pick the operations up.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from gateway.cli.main import require_current_schema

app = typer.Typer(
    help="Submitted operations: dead letters, retries, replays.", no_args_is_help=True, rich_markup_mode=None
)

DatabaseOption = Annotated[str | None, typer.Option("--database", help="Only this database.", show_default=False)]


@app.command("dead-letters")
def dead_letters(
    database: DatabaseOption = None,
    limit: Annotated[int, typer.Option(help="Most operations listed.", min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """List dead-lettered operations, oldest first, with their last error (never their field values)."""
    import asyncio

    from gateway.core.db import standalone_session
    from gateway.core.settings import get_settings
    from gateway.exchange import manage

    settings = get_settings()
    require_current_schema(settings.database_url)

    async def run() -> list[dict[str, object]]:
        async with standalone_session(settings.database_url) as session:
            return [manage.operation_view(op) for op in await manage.dead_letters(session, database, limit)]

    rows = asyncio.run(run())
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no dead letters")
        return
    for row in rows:
        typer.echo(
            f"{row['operation_id']:>8}  {row['database']:<16} {row['op']:<6} {row['record_id']:<16} "
            f"attempts {row['attempts']:<3} receipt {row['receipt_id']}#{row['index']}  {row['last_error'] or ''}"
        )


@app.command("retry")
def retry(
    operation_ids: Annotated[
        list[int] | None, typer.Argument(help="Operation ids (all dead letters when none).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Deliver dead-lettered operations again (same idempotency key, attempts from zero)."""
    import asyncio

    from gateway.core.db import standalone_session
    from gateway.core.settings import get_settings
    from gateway.exchange import manage

    settings = get_settings()
    require_current_schema(settings.database_url)
    if not operation_ids and database is None:
        typer.echo("error: name operation ids, or --database to retry all of a database's dead letters", err=True)
        raise typer.Exit(2)

    async def run() -> int:
        async with standalone_session(settings.database_url) as session:
            return await manage.retry(session, ids=operation_ids or (), database_id=database)

    count = asyncio.run(run())
    typer.echo(f"{count} operation(s) queued for delivery again")


@app.command("replay")
def replay(
    database: Annotated[str, typer.Argument(help="The database whose delivered operations to deliver again.")],
    since: Annotated[
        datetime | None, typer.Option(help="Only operations accepted since then (ISO time, UTC if no zone).")
    ] = None,
    receipt: Annotated[str | None, typer.Option(help="Only the operations of this receipt.")] = None,
) -> None:
    """Deliver already applied operations again, in their order, under new idempotency keys: for a sector
    database restored from a backup taken before they were applied."""
    import asyncio

    from gateway.core.db import standalone_session
    from gateway.core.settings import get_settings
    from gateway.exchange import manage

    settings = get_settings()
    require_current_schema(settings.database_url)
    if since is None and receipt is None:
        typer.echo("error: give --since or --receipt (replaying a database's whole history is rarely meant)", err=True)
        raise typer.Exit(2)
    moment = None if since is None else manage.aware(since)

    async def run() -> int:
        async with standalone_session(settings.database_url) as session:
            return await manage.replay(session, database, since=moment, receipt_id=receipt)

    count = asyncio.run(run())
    typer.echo(f"{count} operation(s) of {database} queued for delivery again")
