"""Turning rows into contract data and query values into column values, as the configuration says.

The SQL connector's row mapper is the shared :class:`connectors.fields.FieldMapper` with columns as sources.
"""

from __future__ import annotations

from connectors.fields import FieldMapper

RowMapper = FieldMapper
"""Maps sector rows (column -> value) to nested contract data, and query values back to stored values."""

__all__ = ["RowMapper"]
