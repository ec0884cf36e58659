"""Configuration of the health insurance connector: the REST connector's, with Vietnam Social Security's card API
as default."""

from __future__ import annotations

from connectors.presets import PresetConfig
from connectors.rest import RestConnectorConfig

from . import mapping


class HealthInsuranceConnectorConfig(PresetConfig, RestConnectorConfig):
    """Only ``base_url`` and ``auth`` are needed; endpoints, field mapping and code lists default to those of
    Vietnam Social Security's card API and can be overridden for another version of it."""

    preset = mapping.PRESET
