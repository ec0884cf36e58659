"""``python -m gateway``: the same as the ``gateway`` command."""

from gateway.cli import app

app(prog_name="gateway")
