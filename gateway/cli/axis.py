"""``gateway axis ...``: the national databases of the catalogue and their connections, in the terminal.

The states shown are those the running gateway's health-check runner wrote to the shared database; the command
loads no connector and calls no sector system.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.clients import echo_json
from gateway.cli.main import checked_catalogue, checked_output, require_current_schema, write_output

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from gateway.axis.catalogue import Catalogue, CatalogueEntry
    from gateway.axis.overview import AxisOverview, DatabaseDetail
    from gateway.axis.report import AxisMonthReport
    from gateway.core.settings import Settings
    from gateway.identity.request_state import AdminDescriptor

app = typer.Typer(
    help="The integration axis: catalogued national databases and their connections.", rich_markup_mode=None
)

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


def _route_text(route: str | None, platform: str | None) -> str:
    if route == "axis":
        return f"via the axis ({platform})" if platform else "via the axis"
    return route or "-"


def overview_table(overview: AxisOverview) -> str:
    """The axis as a text table, headed by "N of M databases connected"."""
    counts = ", ".join(f"{count} {state.value}" for state, count in overview.by_state.items() if count)
    lines = [
        f"{overview.connected} of {overview.total} national databases connected through the axis "
        f"(target {overview.target}; {counts})",
        "",
    ]
    header = ("DATABASE", "STATE", "ROUTE", "SINCE", "LAST CHECK", "LATENCY", "NAME", "ERROR")
    rows = [
        (
            item.id,
            item.state.value,
            _route_text(item.route, item.platform),
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
    """The catalogue in effect; exit 2 naming the problem when it, or the target set beside it, is not valid."""
    return checked_catalogue(settings)


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
    import asyncio

    from gateway.axis.overview import axis_overview, connected_target, stale_bounds
    from gateway.axis.routes import connection_routes
    from gateway.core.db import standalone_session
    from gateway.core.settings import get_settings

    settings = get_settings()
    catalogue = _catalogue(settings)
    require_current_schema(settings.database_url)

    async def run() -> AxisOverview:
        async with standalone_session(settings.database_url) as session:
            target = connected_target(catalogue, settings.axis_connected_target)
            routes, stale = connection_routes(settings.connectors), stale_bounds(settings)
            return await axis_overview(session, catalogue, None, target, routes=routes, stale=stale)

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
        f"  route:      {_route_text(detail.route, detail.platform)}",
        f"  state:      {detail.state.value} since {_ago(detail.since)}"
        + (" (maintenance)" if detail.maintenance else ""),
        f"  last check: {_ago(detail.last_check)}; last good check: {_ago(detail.last_success)}",
    ]
    if detail.error:
        lines.append(f"  error:      {detail.error}")
    calls = detail.recent_calls
    if calls is None:
        lines.append("  real calls: none shared lately by a gateway process")
    else:
        lines.append(
            f"  real calls: {calls.answered} of {calls.calls} answered in the evidence window ({calls.failed} failed, "
            f"{calls.violations} broke the contract; {calls.processes} process(es), as of {_ago(calls.as_of)})"
        )
        if calls.operations:
            each = ", ".join(f"{op.operation} {op.calls} ({op.failed} failed)" for op in calls.operations)
            lines.append(f"  by operation: {each}")
    lines.append(f"  last call answered well: {_ago(detail.last_answered)}")
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
    import asyncio

    from gateway.axis.overview import database_detail, stale_bounds
    from gateway.axis.routes import connection_routes
    from gateway.core.db import standalone_session
    from gateway.core.settings import get_settings

    settings = get_settings()
    catalogue = _catalogue(settings)
    require_current_schema(settings.database_url)
    entry = _entry(catalogue, database_id)

    async def run() -> DatabaseDetail:
        async with standalone_session(settings.database_url) as session:
            routes = connection_routes(settings.connectors)
            stale = stale_bounds(settings)
            return await database_detail(session, entry, None, history=history, routes=routes, stale=stale)

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
    import asyncio

    from gateway.audit import administration
    from gateway.axis.maintenance import set_maintenance
    from gateway.cli.recorded import NotRecorded, not_recorded_message, run_recorded
    from gateway.core.settings import get_settings

    settings = get_settings()
    catalogue = _catalogue(settings)
    require_current_schema(settings.database_url)
    entry = _entry(catalogue, database_id)

    async def change(session: AsyncSession) -> tuple[None, AdminDescriptor]:
        await set_maintenance(session, entry.id, on)
        return None, administration.maintenance_set(entry.id, on)

    try:
        asyncio.run(run_recorded(settings.database_url, change))
    except NotRecorded as exc:
        typer.echo(not_recorded_message(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{entry.id}: maintenance {'started' if on else 'ended'}")


def report_text(report: AxisMonthReport) -> str:
    """The monthly report as text: the headline, each database's shares of the month, its incidents."""
    from gateway.axis.html import duration_text, percent, state_label

    zone = report.report_zone()
    period = f"{report.start.astimezone(zone):%Y-%m-%d %H:%M} to {report.end.astimezone(zone):%Y-%m-%d %H:%M}"
    lines = [
        f"Báo cáo kết nối trục tích hợp / Integration axis connection report: {report.month} ({report.timezone})",
        f"{report.connected_at_end}/{report.total} cơ sở dữ liệu đã kết nối vào cuối tháng (mục tiêu {report.target})",
        f"{report.connected_at_end} of {report.total} national databases connected at month end "
        f"(target {report.target})",
        f"period: {period}"
        + ("" if report.complete else f", up to {report.reported_until.astimezone(zone):%Y-%m-%d %H:%M}"),
        f"incidents: {report.incidents}; checks: {report.checks} ({report.checks_failed} failed); "
        f"requests: {report.requests}, error ratio {percent(report.error_ratio)}",
        "",
    ]
    header = (
        "DATABASE",
        *(state.upper() for state in report.states),
        "AT END",
        "INCIDENTS",
        "CHECKS",
        "REQUESTS",
        "ERRORS",
    )
    rows = [
        (
            db.id,
            *(percent(db.shares.get(state, 0.0)) for state in report.states),
            db.state_at_end,
            str(len(db.incidents)),
            str(db.checks),
            str(db.requests),
            percent(db.error_ratio),
        )
        for db in report.databases
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    incidents = [(db, incident) for db in report.databases for incident in db.incidents]
    lines += ["", "Sự cố / Incidents:" if incidents else "Không có sự cố / No incident."]
    for db, incident in incidents:
        start = incident.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        end = incident.end.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        marks = (" (began before)" if incident.began_before else "") + (" (not over)" if incident.ongoing else "")
        vi, en = state_label(incident.state)
        lines.append(
            f"  {db.id}: {vi} / {en} {start} to {end}, {duration_text(incident.duration_seconds)}{marks}: "
            f"{incident.cause or '-'}"
        )
    if report.quality is not None:
        from gateway.quality.trend import month_quality_text

        lines += month_quality_text(report.quality)
    return "\n".join(lines)


@app.command("report")
def report(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM, in the province's time zone.")],
    output_format: Annotated[
        str, typer.Option("--format", help="text, json or html (the bilingual page for the monthly report).")
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", metavar="FILE", help="Write to this file instead of printing.", callback=checked_output
        ),
    ] = None,
) -> None:
    """The monthly connection report: each database's share of the month connected, degraded and down, its
    incidents, checks and requests, and "n of 16 connected at month end"."""
    import asyncio

    from gateway.axis.html import render_report_html
    from gateway.axis.overview import connected_target, stale_bound
    from gateway.axis.report import InvalidMonth, build_month_report
    from gateway.axis.routes import connection_routes
    from gateway.core.db import standalone_session, utcnow
    from gateway.core.settings import get_settings

    if output_format not in ("text", "json", "html"):
        typer.echo(f"error: --format must be text, json or html, not {output_format!r}", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    catalogue = _catalogue(settings)
    require_current_schema(settings.database_url)

    async def run() -> AxisMonthReport:
        async with standalone_session(settings.database_url) as session:
            return await build_month_report(
                session,
                catalogue,
                month=month,
                zone=settings.report_zone,
                target=connected_target(catalogue, settings.axis_connected_target),
                retention_days=settings.axis_history_retention_days,
                now=utcnow(),
                routes=connection_routes(settings.connectors),
                stale_after=functools.partial(stale_bound, settings),
            )

    try:
        result = asyncio.run(run())
    except InvalidMonth as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if output_format == "json":
        text = result.model_dump_json(indent=2) + "\n"
    elif output_format == "html":
        text = render_report_html(result)
    else:
        text = report_text(result) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_output(output, text)
        typer.echo(f"wrote {output}", err=True)
