"""``gateway axis ...``: the national databases of the catalogue and their connections, in the terminal.

The states shown are those the running gateway's health-check runner wrote to the shared database; the command
loads no connector and calls no sector system.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from ..axis.catalogue import Catalogue, CatalogueEntry, CatalogueError, load_catalogue
from ..axis.maintenance import set_maintenance
from ..axis.overview import AxisOverview, DatabaseDetail, axis_overview, connected_target, database_detail
from ..db import standalone_session
from ..settings import Settings, get_settings
from .clients import echo_json
from .main import require_current_schema

app = typer.Typer(help="The integration axis: catalogued national databases and their connections.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DatabaseArgument = Annotated[str, typer.Argument(help="The catalogued database's id.", show_default=False)]


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def overview_table(overview: AxisOverview) -> str:
    """The axis as a text table, headed by "N of M databases connected"."""
    counts = ", ".join(f"{count} {state.value}" for state, count in overview.by_state.items() if count)
    lines = [
        f"{overview.connected} of {overview.total} national databases connected through the axis "
        f"(target {overview.target}; {counts})",
        "",
    ]
    header = ("DATABASE", "STATE", "SINCE", "LAST CHECK", "LATENCY", "NAME", "ERROR")
    rows = [
        (
            item.id,
            item.state.value,
            _ago(item.since),
            _ago(item.last_check),
            "-" if item.latency_ms is None else f"{item.latency_ms:.0f} ms",
            item.name_en,
            item.error or "",
        )
        for item in overview.databases
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _catalogue(settings: Settings) -> Catalogue:
    try:
        return load_catalogue(settings.axis_catalogue_path)
    except CatalogueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _entry(catalogue: Catalogue, database_id: str) -> CatalogueEntry:
    entry = catalogue.get(database_id)
    if entry is None:
        typer.echo(f"error: no database {database_id!r} in the axis catalogue ({', '.join(catalogue.ids)})", err=True)
        raise typer.Exit(1)
    return entry


@app.callback(invoke_without_command=True)
def axis(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print every catalogued database with its connection state (the table of `GET /v1/axis`)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    require_current_schema(settings.database_url)
    catalogue = _catalogue(settings)

    async def run() -> AxisOverview:
        async with standalone_session(settings.database_url) as session:
            target = connected_target(catalogue, settings.axis_connected_target)
            return await axis_overview(session, catalogue, None, target)

    overview = asyncio.run(run())
    if as_json:
        echo_json(overview)
    else:
        typer.echo(overview_table(overview))


def detail_text(detail: DatabaseDetail) -> str:
    """One database's connection and its recent checks, as text."""
    lines = [
        f"{detail.id}: {detail.name} ({detail.name_en})",
        f"  agency:     {detail.agency}",
        f"  contracts:  {', '.join(detail.contracts) or '-'}",
        f"  state:      {detail.state.value} since {_ago(detail.since)}"
        + (" (maintenance)" if detail.maintenance else ""),
        f"  last check: {_ago(detail.last_check)}; last success: {_ago(detail.last_success)}",
    ]
    if detail.error:
        lines.append(f"  error:      {detail.error}")
    if detail.checks:
        lines += ["", "  recent checks (newest first):"]
        for check in detail.checks:
            latency = "-" if check.latency_ms is None else f"{check.latency_ms:.0f} ms"
            outcome = "ok  " if check.ok else "FAIL"
            lines.append(
                f"    {check.checked_at.isoformat(timespec='seconds')}  {outcome}  {latency:>9}  "
                f"{check.state.value:<11}  {check.error or ''}".rstrip()
            )
    return "\n".join(lines)


@app.command("show")
def show(
    database_id: DatabaseArgument,
    history: Annotated[int, typer.Option(help="Recent checks to show.", min=1, max=1000)] = 20,
    as_json: JsonOption = False,
) -> None:
    """One database's connection and its recent health checks."""
    settings = get_settings()
    require_current_schema(settings.database_url)
    entry = _entry(_catalogue(settings), database_id)

    async def run() -> DatabaseDetail:
        async with standalone_session(settings.database_url) as session:
            return await database_detail(session, entry, None, history=history)

    detail = asyncio.run(run())
    if as_json:
        echo_json(detail)
    else:
        typer.echo(detail_text(detail))


@app.command("maintenance")
def maintenance(
    database_id: DatabaseArgument,
    on: Annotated[bool, typer.Option("--on/--off", help="Start or end maintenance.")] = True,
) -> None:
    """Put a database's connection under maintenance (not checked, shown as maintenance), or end it."""
    settings = get_settings()
    require_current_schema(settings.database_url)
    entry = _entry(_catalogue(settings), database_id)

    async def run() -> None:
        async with standalone_session(settings.database_url) as session:
            await set_maintenance(session, entry.id, on)

    asyncio.run(run())
    typer.echo(f"{entry.id}: maintenance {'started' if on else 'ended'}")
