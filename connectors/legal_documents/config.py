"""Configuration of the legal documents connector: the SQL connector's, with the documents table as default."""

from __future__ import annotations

from connectors.presets import PresetConfig
from connectors.sql import SqlConnectorConfig

from . import mapping


class LegalDocumentsConnectorConfig(PresetConfig, SqlConnectorConfig):
    """Only ``url`` is required; the table, column mapping, code lists and search filters default to the
    legal normative documents database's documents table and can be overridden for a differently shaped copy."""

    preset = mapping.PRESET
