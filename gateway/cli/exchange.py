"""``gateway exchange ...``: the operator's tools for submitted operations that could not be delivered.

The commands change the shared database only; the running gateways' dispatchers pick the operations up. A retry
or a replay is committed with its audit event (``exchange.retry``, ``exchange.replay``: the operator as actor, the
database, the operations or receipt named and how many were queued), or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.clients import run_recorded_admin
from gateway.cli.main import checked_catalogue, require_current_schema

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from gateway.identity.request_state import AdminDescriptor
    from gateway.records.registry import ConnectorRegistry

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
    """Deliver dead-lettered operations again (same idempotency key, attempts from zero). Unknown operation ids or
    database: nothing is queued, exit 1."""
    from gateway.exchange import manage

    if not operation_ids and database is None:
        typer.echo("error: name operation ids, or --database to retry all of a database's dead letters", err=True)
        raise typer.Exit(2)
    ids = sorted(set(operation_ids or ()))

    async def run(
        session: AsyncSession, _registry: ConnectorRegistry | None
    ) -> tuple[tuple[int, list[str]], AdminDescriptor]:
        from gateway.audit import administration

        if database is not None:
            await _require_database(session, database)
        skipped = await _not_retried(session, ids, database)
        queued = await manage.retry(session, ids=ids, database_id=database)
        return (queued, skipped), administration.exchange_retried(database=database, operation_ids=ids, queued=queued)

    count, skipped = run_recorded_admin(run)
    for line in skipped:
        typer.echo(f"note: {line}", err=True)
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
    database restored from a backup taken before they were applied. Unknown database or receipt: nothing is
    queued, exit 1."""
    from gateway.exchange import manage

    if since is None and receipt is None:
        typer.echo("error: give --since or --receipt (replaying a database's whole history is rarely meant)", err=True)
        raise typer.Exit(2)
    moment = None if since is None else manage.aware(since)

    async def run(session: AsyncSession, _registry: ConnectorRegistry | None) -> tuple[int, AdminDescriptor]:
        from gateway.audit import administration

        await _require_database(session, database)
        if receipt is not None:
            await _require_receipt(session, receipt, database)
        queued = await manage.replay(session, database, since=moment, receipt_id=receipt)
        described = administration.exchange_replayed(database=database, since=moment, receipt_id=receipt, queued=queued)
        return queued, described

    count = run_recorded_admin(run)
    typer.echo(f"{count} operation(s) of {database} queued for delivery again")


async def _require_database(session: AsyncSession, database: str) -> None:
    """Nothing, when ``database`` is known: catalogued, configured in these settings, or holding submitted
    operations; else :class:`~gateway.core.problems.NotFound` naming the known ones."""
    from sqlmodel import select

    from gateway.core.problems import NotFound
    from gateway.core.settings import get_settings
    from gateway.exchange.models import ExchangeOperation

    settings = get_settings()
    known = {*checked_catalogue(settings).ids, *settings.connectors}
    if database in known:
        return
    stored = await session.exec(select(ExchangeOperation.database_id).distinct())
    known |= set(stored.all())
    if database not in known:
        raise NotFound(
            f"no database {database!r}: not in the axis catalogue, the settings' connectors nor the submitted "
            f"operations (known: {', '.join(sorted(known))})"
        )


async def _require_receipt(session: AsyncSession, receipt_id: str, database: str) -> None:
    """Nothing, when ``receipt_id`` is a receipt of ``database``; else :class:`~gateway.core.problems.NotFound`."""
    from gateway.core.problems import NotFound
    from gateway.exchange.models import ExchangeReceipt

    found = await session.get(ExchangeReceipt, receipt_id)
    if found is None:
        raise NotFound(f"no receipt {receipt_id!r}")
    if found.database_id != database:
        raise NotFound(f"receipt {receipt_id!r} is of database {found.database_id!r}, not {database!r}")


async def _not_retried(session: AsyncSession, ids: Sequence[int], database: str | None) -> list[str]:
    """Why each of the operations ``ids`` that a retry leaves alone is left alone (not a dead letter, its field
    values erased, of another database than ``database``); :class:`~gateway.core.problems.NotFound` naming those
    that do not exist."""
    from sqlmodel import col, select

    from gateway.core.problems import NotFound
    from gateway.exchange.models import ExchangeOperation

    if not ids:
        return []
    ops = ExchangeOperation
    found = {op.id: op for op in (await session.exec(select(ops).where(col(ops.id).in_(ids)))).all()}
    missing = [str(op_id) for op_id in ids if op_id not in found]
    if missing:
        raise NotFound(f"no operation {', '.join(missing)} (gateway exchange dead-letters lists the dead letters)")
    reasons = []
    for op_id in ids:
        op = found[op_id]
        if database is not None and op.database_id != database:
            reasons.append(f"operation {op_id} is of database {op.database_id!r}, not {database!r}: not retried")
        elif op.state != "dead":  # a dead letter (gateway.exchange's state DEAD, as operation_view shows it)
            reasons.append(f"operation {op_id} is {op.state}, not dead-lettered: not retried")
        elif op.payload_erased_at is not None:
            reasons.append(f"operation {op_id}: its field values were erased (retention): not retried")
    return reasons
