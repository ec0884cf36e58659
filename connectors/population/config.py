"""Configuration of the population connector: the SQL connector's, with the national table as default."""

from __future__ import annotations

from connectors.presets import PresetConfig
from connectors.sql import SqlConnectorConfig

from . import mapping


class PopulationConnectorConfig(PresetConfig, SqlConnectorConfig):
    """Only ``url`` is required; the table, column mapping, code lists and search filters default to the
    national population database's citizen table and can be overridden for a differently shaped copy."""

    preset = mapping.PRESET
