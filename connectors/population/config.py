"""Configuration of the population connector: the SQL connector's, with the national table as default."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connectors.sql import SearchFilter, SqlConnectorConfig

from . import mapping


class PopulationConnectorConfig(SqlConnectorConfig):
    """Only ``url`` is required; the table, column mapping, code lists and search filters default to the
    national population database's citizen table and can be overridden for a differently shaped copy."""

    table: str = Field(default=mapping.TABLE, title="Table or view", description="The citizens table.")
    fields: dict[str, str] = Field(
        default_factory=lambda: dict(mapping.FIELDS),
        title="Field mapping",
        description="Contract field path -> column.",
    )
    value_maps: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in mapping.VALUE_MAPS.items()},
        title="Value maps",
        description="Contract field path -> {stored code: contract value}.",
    )
    search_filters: dict[str, SearchFilter] = Field(
        default_factory=lambda: {k: SearchFilter.model_validate(v) for k, v in mapping.SEARCH_FILTERS.items()},
        title="Search filters",
        description="Query field -> column and match.",
    )
