"""``gateway quality ...``: data quality (correct, complete, clean, live) of the national databases.

``scan`` reads a random sample of a database's raw records through its connector (with the population and civil
status databases, when configured, for the cross-database rules) and stores the scores in the gateway's database,
where the running gateway exports them as metrics; ``report`` prints what is stored, as JSON or as an HTML page.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.main import checked_output, require_current_schema, write_output

if TYPE_CHECKING:
    from gateway.core.settings import Settings
    from gateway.quality.evaluate import Evaluation
    from gateway.quality.report import QualityReport
    from gateway.records.registry import ConnectorRegistry

app = typer.Typer(
    help="Data quality of the national databases: correct, complete, clean, live.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DatabaseArgument = Annotated[str, typer.Argument(help="The database id (population, civil_status, ...).")]


class ReportFormat(StrEnum):
    """How ``gateway quality report`` prints."""

    JSON = "json"
    HTML = "html"


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:5.1f} %"


def scan_summary(database_id: str, evaluation: Evaluation, sample_size: int) -> str:
    """The outcome of a scan as text: scores per dimension, then counts per rule."""
    scanned = f"{database_id}: {evaluation.records} records scanned (sample of at most {sample_size})"
    lines = [f"{scanned}, scores stored", ""]
    for dimension, count in evaluation.dimensions.items():
        lines.append(
            f"  {dimension.value:<9} {_percent(count.ratio)}   {count.failed} of {count.checked} records failed"
        )
    lines += ["", "  RULE".ljust(52) + "CHECKED    FAILED"]
    for rule in evaluation.rules.values():
        lines.append(f"  {rule.rule_id:<50}{rule.checked:>7}   {rule.failed:>7}")
    lines += ["", f"The failed records: gateway quality report {database_id} --format html --output quality.html"]
    return "\n".join(lines)


def _registry(settings: Settings, database_id: str) -> ConnectorRegistry:
    from gateway.records.registry import ConnectorRegistry

    instance = settings.connectors.get(database_id)
    if instance is None or not instance.enabled:
        raise _fail(
            f"nothing was checked: no connector is configured for {database_id!r} in these settings "
            f"(GATEWAY_CONNECTORS__{database_id.upper()}__...); configured: "
            f"{', '.join(sorted(settings.connectors)) or 'none'}"
        )
    registry = ConnectorRegistry.from_settings(settings)
    if database_id in registry.failures:
        raise _fail(f"the connector of {database_id!r} could not be loaded: {registry.failures[database_id]}")
    return registry


@app.command("scan")
def scan(
    database_id: DatabaseArgument,
    sample: Annotated[
        int | None, typer.Option(help="Records to read (default GATEWAY_QUALITY_SAMPLE_SIZE).", min=1)
    ] = None,
) -> None:
    """Scan a random sample of a database's records and store its data-quality scores."""
    import asyncio

    from connectors.base import ConnectorError, OperationNotSupported
    from gateway.core.db import standalone_session
    from gateway.core.settings import get_settings
    from gateway.quality.lookups import registry_lookups
    from gateway.quality.service import IncompleteScan, NothingScanned, scan_database

    settings = get_settings()
    require_current_schema(settings.database_url)
    registry = _registry(settings, database_id)
    connector = registry.databases[database_id].connector
    size = sample or settings.quality_sample_size

    async def run() -> Evaluation:
        await registry.start()
        try:
            async with standalone_session(settings.database_url) as session:
                return await scan_database(
                    session,
                    database_id=database_id,
                    connector=connector,
                    settings=settings,
                    lookups=registry_lookups(registry),
                    sample_size=size,
                )
        finally:
            await registry.close()

    try:
        evaluation = asyncio.run(run())
    except OperationNotSupported:
        raise _fail(
            f"the connector of {database_id!r} ({connector.slug}) cannot be scanned: it offers no sample of its raw "
            "records (Connector.sample; the SQL connector and the connectors built on it do)"
        ) from None
    except IncompleteScan as exc:
        raise _fail(f"{database_id}: {exc.message}") from None
    except ConnectorError as exc:
        raise _fail(f"{database_id!r} could not be read: {exc.message}") from None
    except NothingScanned:
        raise _fail(
            f"nothing was checked: the sector system of {database_id!r} returned no record; no score stored (the "
            "previous ones are kept). Is its connector configured to the right system (gateway config check)?"
        ) from None
    typer.echo(scan_summary(database_id, evaluation, size))


def _names(settings: Settings, database_id: str) -> tuple[str | None, str | None]:
    from gateway.axis.catalogue import CatalogueError, load_catalogue

    try:
        entry = load_catalogue(settings.axis_catalogue_path).get(database_id)
    except CatalogueError:
        return None, None
    return (entry.name_en, entry.name_vi) if entry is not None else (None, None)


@app.command("report")
def report(
    database_id: DatabaseArgument,
    output_format: Annotated[ReportFormat, typer.Option("--format", help="json or html.")] = ReportFormat.JSON,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to this file instead of printing.", callback=checked_output
        ),
    ] = None,
) -> None:
    """Print a database's data-quality report (from its last scan and the records submitted to it)."""
    import asyncio

    from gateway.core.db import standalone_session
    from gateway.core.settings import get_settings
    from gateway.quality.html import render_html
    from gateway.quality.report import build_report

    settings = get_settings()
    require_current_schema(settings.database_url)
    name, name_vi = _names(settings, database_id)

    async def run() -> QualityReport | None:
        async with standalone_session(settings.database_url) as session:
            return await build_report(session, database_id, name=name, name_vi=name_vi, zone=settings.report_zone)

    found = asyncio.run(run())
    if found is None:
        raise _fail(f"no data-quality scores for {database_id!r} yet: run `gateway quality scan {database_id}`")
    text = render_html(found) if output_format is ReportFormat.HTML else found.model_dump_json(indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_output(output, text)
        typer.echo(f"{database_id}: report written to {output}")
