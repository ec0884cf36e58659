"""Configuration of the education connector: the SQL connector's, with the diplomas table as default."""

from __future__ import annotations

from connectors.presets import PresetConfig
from connectors.sql import SqlConnectorConfig

from . import mapping


class EducationConnectorConfig(PresetConfig, SqlConnectorConfig):
    """Only ``url`` is required; the table, column mapping, code lists and search filters default to the
    education database's diplomas table and can be overridden for a differently shaped copy."""

    preset = mapping.PRESET
