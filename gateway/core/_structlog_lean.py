"""structlog, imported without its rich console extras.

structlog imports rich (and, through rich's tracebacks, pygments) when they are installed, for pretty tracebacks
on a console; the gateway's CLI brings them. The gateway renders exceptions as plain text in its JSON lines and
console logs alike, so its processes import structlog with rich hidden: about 3 MB less in every worker. rich
itself stays importable afterwards (the CLI's help uses it)."""

from __future__ import annotations

import sys

__all__ = ["structlog"]

_hidden = "rich" not in sys.modules
if _hidden:
    sys.modules["rich"] = None  # type: ignore[assignment]
try:
    import structlog
finally:
    if _hidden:
        del sys.modules["rich"]
