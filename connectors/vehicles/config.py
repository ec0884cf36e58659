"""Configuration of the vehicles connector: the SQL connector's, with the registrations table as default."""

from __future__ import annotations

from connectors.presets import PresetConfig
from connectors.sql import SqlConnectorConfig

from . import mapping


class VehiclesConnectorConfig(PresetConfig, SqlConnectorConfig):
    """Only ``url`` is required; the table, column mapping, code lists and search filters default to the
    national vehicle registration database's table and can be overridden for a differently shaped copy."""

    preset = mapping.PRESET
