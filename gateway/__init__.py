"""axis-gateway: the provincial data-sharing integration gateway."""

__version__ = "0.1.0"
