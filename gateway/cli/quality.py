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


DatabaseOption = Annotated[
    str | None,
    typer.Argument(help="The database id (population, civil_status, ...); none with --all.", show_default=False),
]


@app.command("scan")
def scan(
    database_id: DatabaseOption = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Scan every database whose connector is configured, enabled and can sample its records, one after "
            "the other; those that cannot sample are skipped, those that fail do not stop the others (exit 1).",
        ),
    ] = False,
    sample: Annotated[
        int | None, typer.Option(help="Records to read (default GATEWAY_QUALITY_SAMPLE_SIZE).", min=1)
    ] = None,
) -> None:
    """Scan a random sample of a database's records and store its data-quality scores."""
    import asyncio

    from connectors.base import Capability
    from gateway.core.settings import get_settings
    from gateway.records.registry import ConnectorRegistry

    if every == (database_id is not None):
        raise _fail("name one database to scan, or --all for every database that can be scanned", code=2)
    settings = get_settings()
    require_current_schema(settings.database_url)
    size = sample or settings.quality_sample_size
    if database_id is not None:
        registry = _registry(settings, database_id)
        outcome = asyncio.run(_scan_each(settings, registry, [database_id], size, headed=False))[database_id]
        if outcome is not None:
            raise _fail(outcome)
        return
    registry = ConnectorRegistry.from_settings(settings)
    failed = [
        f"{database}: the connector could not be loaded: {error}" for database, error in registry.failures.items()
    ]
    scannable = []
    for database, served in sorted(registry.databases.items()):
        if served.connector.offers(Capability.SAMPLE):
            scannable.append(database)
        else:
            typer.echo(f"== {database}\nskipped: {_cannot_sample(database, served.connector.slug)}")
    if not scannable and not failed:
        raise _fail("nothing was checked: no configured connector can sample its records", code=2)
    outcomes = asyncio.run(_scan_each(settings, registry, scannable, size, headed=True)) if scannable else {}
    failed += [error for error in outcomes.values() if error is not None]
    for error in failed:
        typer.echo(f"error: {error}", err=True)
    if failed:
        raise typer.Exit(1)


def _cannot_sample(database_id: str, slug: str) -> str:
    return (
        f"the connector of {database_id!r} ({slug}) cannot be scanned: it offers no sample of its raw records "
        "(Connector.sample; the SQL connector, the connectors built on it, and REST and SOAP connections that "
        "declare a listing to sample do)"
    )


async def _scan_each(
    settings: Settings, registry: ConnectorRegistry, databases: list[str], size: int, *, headed: bool
) -> dict[str, str | None]:
    """Scan ``databases`` one after the other, printing each one's summary (after a line ``== DB`` if
    ``headed``): each one's error message, ``None`` for those scanned."""
    from connectors.base import ConnectorError, OperationNotSupported
    from gateway.core.db import standalone_session
    from gateway.quality.lookups import registry_lookups
    from gateway.quality.service import IncompleteScan, NothingScanned, scan_database

    outcomes: dict[str, str | None] = {}
    await registry.start()
    try:
        for database_id in databases:
            connector = registry.databases[database_id].connector
            if headed:
                typer.echo(f"== {database_id}")
            try:
                async with standalone_session(settings.database_url) as session:
                    evaluation = await scan_database(
                        session,
                        database_id=database_id,
                        connector=connector,
                        settings=settings,
                        lookups=registry_lookups(registry),  # answers cached for this scan only
                        sample_size=size,
                    )
            except OperationNotSupported:
                outcomes[database_id] = _cannot_sample(database_id, connector.slug)
            except IncompleteScan as exc:
                outcomes[database_id] = f"{database_id}: {exc.message}"
            except ConnectorError as exc:
                outcomes[database_id] = f"{database_id!r} could not be read: {exc.message}"
            except NothingScanned:
                outcomes[database_id] = (
                    f"nothing was checked: the sector system of {database_id!r} returned no record; no score stored "
                    "(the previous ones are kept). Is its connector configured to the right system (gateway config "
                    "check)?"
                )
            else:
                outcomes[database_id] = None
                typer.echo(scan_summary(database_id, evaluation, size))
    finally:
        await registry.close()
    return outcomes


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
