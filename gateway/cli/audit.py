"""``gateway audit ...``."""

from __future__ import annotations

import typer

app = typer.Typer(help="audit", no_args_is_help=True)
