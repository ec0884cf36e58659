"""``gateway exchange ...``: the operator's tools for submitted operations that could not be delivered.

The commands change the shared database only; the running gateways' dispatchers pick the operations up. A retry,
a dismissal or a replay is committed with its audit event (``exchange.retry``, ``exchange.dismiss``,
``exchange.replay``: the operator as actor, the database, the operations or receipt named and how many were
queued or dismissed), or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
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
    help="Submitted operations: dead letters, retries, dismissals, replays.",
    no_args_is_help=True,
    rich_markup_mode=None,
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
    from gateway.audit import administration
    from gateway.exchange import manage

    count = _on_dead_letters(
        "retry",
        operation_ids,
        database,
        needs_values=True,
        act=lambda session, ids: manage.retry(session, ids=ids, database_id=database),
        described=lambda ids, queued: administration.exchange_retried(
            database=database, operation_ids=ids, queued=queued
        ),
    )
    typer.echo(f"{count} operation(s) queued for delivery again")


@app.command("dismiss")
def dismiss(
    operation_ids: Annotated[
        list[int] | None, typer.Argument(help="Operation ids (all dead letters of --database when none).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Dismiss dead letters that are not to be delivered (superseded by a later change, refused by the sector
    system for good, written by a client since suspended): they are never delivered, their field values are erased
    at once, and their receipts say `dismissed`. Unknown operation ids or database: nothing is dismissed, exit 1."""
    from gateway.audit import administration
    from gateway.exchange import manage

    count = _on_dead_letters(
        "dismiss",
        operation_ids,
        database,
        needs_values=False,
        act=lambda session, ids: manage.dismiss(session, ids=ids, database_id=database),
        described=lambda ids, dismissed: administration.exchange_dismissed(
            database=database, operation_ids=ids, dismissed=dismissed
        ),
    )
    typer.echo(f"{count} operation(s) dismissed")


def _on_dead_letters(
    command: str,
    operation_ids: list[int] | None,
    database: str | None,
    *,
    needs_values: bool,
    act: Callable[[AsyncSession, list[int]], Awaitable[int]],
    described: Callable[[list[int], int], AdminDescriptor],
) -> int:
    """Run ``act`` on the dead letters named (or all of ``database``'s), with its audit event, in one transaction;
    how many it changed. The operations named that it leaves alone are said so on stderr."""
    if not operation_ids and database is None:
        typer.echo(f"error: name operation ids, or --database to {command} all of a database's dead letters", err=True)
        raise typer.Exit(2)
    ids = sorted(set(operation_ids or ()))
    done = {"retry": "retried", "dismiss": "dismissed"}[command]

    async def run(
        session: AsyncSession, _registry: ConnectorRegistry | None
    ) -> tuple[tuple[int, list[str]], AdminDescriptor]:
        if database is not None:
            await _require_database(session, database)
        skipped = await _left_alone(session, ids, database, verb=done, needs_values=needs_values)
        count = await act(session, ids)
        return (count, skipped), described(ids, count)

    count, skipped = run_recorded_admin(run)
    for line in skipped:
        typer.echo(f"note: {line}", err=True)
    return count


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


async def _left_alone(
    session: AsyncSession, ids: Sequence[int], database: str | None, *, verb: str, needs_values: bool
) -> list[str]:
    """Why each of the operations ``ids`` that a retry or a dismissal (``verb``) leaves alone is left alone (not a
    dead letter, of another database than ``database``, and when it ``needs_values``, its field values erased);
    :class:`~gateway.core.problems.NotFound` naming those that do not exist."""
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
            reasons.append(f"operation {op_id} is of database {op.database_id!r}, not {database!r}: not {verb}")
        elif op.state != "dead":  # a dead letter (gateway.exchange's state DEAD, as operation_view shows it)
            reasons.append(f"operation {op_id} is {op.state}, not dead-lettered: not {verb}")
        elif needs_values and op.payload_erased_at is not None:
            reasons.append(f"operation {op_id}: its field values were erased (retention): not {verb}")
    return reasons
