"""The ``gateway`` command; each group of subcommands lives in its own module."""

from gateway.cli import audit, axis, clients, config, connector, exchange, grants, keys, quality
from gateway.cli.main import app

app.add_typer(clients.app, name="clients")
app.add_typer(grants.app, name="grants")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(axis.app, name="axis")
app.add_typer(connector.app, name="connector")
app.add_typer(exchange.app, name="exchange")
app.add_typer(quality.app, name="quality")
app.add_typer(config.app, name="config")

__all__ = ["app"]
