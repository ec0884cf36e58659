"""``gateway connector ...``: the installed connectors, and a new connector package to start from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Connectors: the installed ones, and new ones.", no_args_is_help=True, rich_markup_mode=None)


@app.command("new")
def new(
    name: Annotated[
        str,
        typer.Argument(
            help="The database id the connector serves (land_registry): not the name of an installed connector.",
            show_default=False,
        ),
    ],
    title: Annotated[str | None, typer.Option(help="Its name for people (at most 80 columns).")] = None,
    directory: Annotated[
        Path,
        typer.Option(
            help="The directory to create the package in, not the package itself: the package is the new "
            "directory DIRECTORY/axis-connector-NAME (NAME with hyphens). It must exist. Default: the current "
            "directory."
        ),
    ] = Path(),
) -> None:
    """Create a connector package: connector, configuration model, mapping, contract, sandbox, README, the
    conformance kit's test and the entry-point line, in a new directory inside --directory (which must exist). It
    passes its own tests and its own lint as created. A NAME an installed connector already has is refused."""
    from gateway.scaffold import ScaffoldError, connector_names, create_connector_package

    try:
        names = connector_names(name, title)
        target = create_connector_package(names, directory)
    except ScaffoldError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {target}")
    typer.echo("next:")
    typer.echo(f"  pip install -e '{target}[test]'")
    typer.echo(f"  pytest {target}")
    typer.echo(f"then adapt {names.package}/contract.py, mapping.py and connector.py to your sector system.")


@app.command("list")
def list_connectors() -> None:
    """The connectors installed (entry points of the group gateway.connectors): name, class, contract and the
    capabilities the class declares (read, search, submit, sample; its configuration may turn some off); and
    those that fail to load."""
    from connectors.base import Capability
    from connectors.discovery import ENTRY_POINT_GROUP, discover_connectors

    found = discover_connectors()
    rows = []
    for name, connector in sorted(found.connectors.items()):
        contract = getattr(connector, "contract", None)
        contract_id = contract.contract_id() if contract is not None else "-"
        target = f"{connector.__module__}.{connector.__qualname__}"
        capabilities = ",".join(c.value for c in Capability if c in connector.capabilities)
        rows.append((name, target, contract_id, capabilities))
    # Columns as wide as their longest value: a long class or contract name never runs into the next column.
    widths = [max((len(row[column]) for row in rows), default=0) for column in range(3)]
    for name, target, contract_id, capabilities in rows:
        typer.echo(f"{name:<{widths[0]}}  {target:<{widths[1]}}  {contract_id:<{widths[2]}}  {capabilities}")
    for failure in found.failures:
        typer.echo(f"{failure.name:<20} BROKEN ({failure.target}): {failure.error}")
    if not found.connectors and not found.failures:
        typer.echo(f"no connector is installed in the entry-point group {ENTRY_POINT_GROUP}")
