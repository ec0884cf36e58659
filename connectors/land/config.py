"""Configuration of the land connector: the SQL connector's, with the parcels table as default."""

from __future__ import annotations

from pydantic import Field

from connectors.presets import PresetConfig
from connectors.sql import SqlConnectorConfig

from . import mapping


class LandConnectorConfig(PresetConfig, SqlConnectorConfig):
    """Only ``url`` is required; the table, column mapping, code lists and search filters default to the
    national land database's parcels table and can be overridden for a differently shaped copy."""

    preset = mapping.PRESET

    co_owner_column: str | None = Field(
        default=mapping.CO_OWNER_COLUMN,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        title="Second holder column",
        description=(
            "Column of the second holder's personal id: a search by owner_personal_id also finds the parcels held "
            "as second holder. None: search the first holder only."
        ),
    )
