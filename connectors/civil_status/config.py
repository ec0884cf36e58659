"""Configuration of the civil status connector: the SQL connector's, with the registrations table as default."""

from __future__ import annotations

from connectors.presets import PresetConfig
from connectors.sql import SqlConnectorConfig

from . import mapping


class CivilStatusConnectorConfig(PresetConfig, SqlConnectorConfig):
    """Only ``url`` is required; the table, column mapping, code lists and search filters default to the
    electronic civil status database's registrations table and can be overridden for a differently shaped copy."""

    preset = mapping.PRESET
