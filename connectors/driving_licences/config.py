"""Configuration of the driving licence connector: the REST connector's, with the national driving licence API as
default."""

from __future__ import annotations

from connectors.presets import PresetConfig
from connectors.rest import RestConnectorConfig

from . import mapping


class DrivingLicencesConnectorConfig(PresetConfig, RestConnectorConfig):
    """Only ``base_url`` and ``auth`` are needed; endpoints, field mapping and code lists default to those of
    the national driving licence database's API and can be overridden for another version of it."""

    preset = mapping.PRESET
