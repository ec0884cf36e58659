"""``gateway grants ...``."""

from __future__ import annotations

import typer

app = typer.Typer(help="grants", no_args_is_help=True)
