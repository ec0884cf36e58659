"""Sector connectors as presets of the generic adapters: configuration defaults that describe one sector system.

A sector connector (land, tax, judicial records...) is usually a generic adapter (``sql``, ``rest``, ``soap``)
configured for one sector system: its table or endpoints, its field names and code lists. Its configuration class
says so in one line, and the operator gives only what the preset cannot know (a URL, credentials)::

    class LandConnectorConfig(PresetConfig, SqlConnectorConfig):
        preset = {"table": "thua_dat", "fields": {...}, "value_maps": {...}, "search_filters": {...}}

Any preset setting can be overridden whole (``fields`` given replaces the preset's ``fields``). The JSON Schema of
the configuration shows the preset values as the defaults, and those settings as optional.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ConfigDict, model_validator

from .base import ConnectorConfig

__all__ = ["PresetConfig"]


def _preset_schema(schema: dict[str, Any], model: type[Any]) -> None:
    preset: Mapping[str, Any] = getattr(model, "preset", {})
    if not preset:
        return
    properties = schema.get("properties", {})
    for name, value in preset.items():
        if name in properties:
            properties[name]["default"] = copy.deepcopy(value)
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in preset]
        if not schema["required"]:
            del schema["required"]


class PresetConfig(ConnectorConfig):
    """A connector configuration whose settings default to ``preset`` (put it first among the bases, before the
    generic adapter's configuration class)."""

    model_config = ConfigDict(json_schema_extra=_preset_schema)

    #: Setting name -> value, as an operator would write it in the gateway's settings.
    preset: ClassVar[Mapping[str, Any]] = {}

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and cls.preset:
            return {**copy.deepcopy(dict(cls.preset)), **data}
        return data
