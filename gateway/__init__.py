"""axis-gateway: the provincial data-sharing integration gateway."""

import sys

__version__ = "0.1.0"

# httpx imports its own command line (click, rich and pygments: about 6 MB of every worker) whenever those are
# installed, and the gateway's CLI brings them. No gateway process runs httpx's command line: with its module marked
# absent, httpx skips it (``httpx.main`` then says the command line is not installed).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
