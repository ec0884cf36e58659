"""``python -m gateway``: the same as the ``gateway`` command."""

from .cli import app

app(prog_name="gateway")
