"""Contract field paths: turning a sector system's values into nested contract data, and back.

Connectors that are configured rather than coded (SQL, REST) map each contract field path
(``permanent_address.ward_code``) to a *source* in the sector system's data (a column, a JMESPath expression)
and translate code lists with value maps. :class:`FieldMapper` does that once per record, without parsing its
configuration again; :func:`has_field_path` and :func:`timestamp_fields` check a configuration against a contract.
"""

from __future__ import annotations

import types
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated, Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from .conversions import ConversionError, Converter

__all__ = ["ConversionFailed", "FieldMapper", "has_field_path", "nested_model", "timestamp_fields"]


class ConversionFailed(ValueError):
    """Values of a record that their fields' conversions cannot read: ``errors`` lists them as
    ``"field.path: what was expected"`` (never the values), ``data`` holds the record's other fields."""

    def __init__(self, errors: list[str], data: dict[str, Any]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.data = data


@dataclass(frozen=True, slots=True)
class _FieldRule:
    source: str
    path: tuple[str, ...]
    values: Mapping[str, Any] | None
    timestamp: bool
    convert: Converter | None


class FieldMapper:
    """Maps a sector record's values (by source name) to nested contract data, and query values back.

    ``fields`` maps contract field paths to source names; ``value_maps`` maps a field path to
    ``{stored value (as text): contract value}``; ``conversions`` maps a field path to the
    :class:`~connectors.conversions.Converter` of its values (dates, numbers, yes/no as text). Built once per
    connector; :meth:`to_data` is on the hot path.
    """

    def __init__(
        self,
        fields: Mapping[str, str],
        value_maps: Mapping[str, Mapping[str, Any]],
        *,
        timestamp_fields: Collection[str] = (),
        naive_timezone: str = "UTC",
        conversions: Mapping[str, Converter] | None = None,
        zoneless_timestamps: bool = False,
    ) -> None:
        """``zoneless_timestamps``: the system stores timestamps without a zone (SQL ``timestamp`` and
        ``DATETIME`` columns, SQLite's text), so :meth:`to_stored` gives an instant as its wall time in
        ``naive_timezone`` (``2025-10-01 08:30:00``), the form :meth:`to_data` reads back as the same instant."""
        converters = conversions or {}
        self._rules = tuple(
            _FieldRule(
                source, tuple(path.split(".")), value_maps.get(path), path in timestamp_fields, converters.get(path)
            )
            for path, source in fields.items()
        )
        self._converters = dict(converters)
        self._reverse = {
            path: {contract_value: stored for stored, contract_value in mapping.items()}
            for path, mapping in value_maps.items()
        }
        self._tz: tzinfo = ZoneInfo(naive_timezone)
        self._zoneless = frozenset(
            path for path in fields if zoneless_timestamps and path in timestamp_fields and path not in converters
        )
        self.columns = tuple(dict.fromkeys(rule.source for rule in self._rules))
        """The distinct source names, in mapping order."""

    def to_data(self, row: Mapping[Any, Any]) -> dict[str, Any]:
        """Return the contract data of ``row``, which holds a value for every source (see :attr:`columns`).

        Null values are left out, so nested objects whose sources are all null do not appear and the
        contract's defaults apply. Values their conversion cannot read raise :class:`ConversionFailed`, which
        lists every such field and holds the rest of the data."""
        data: dict[str, Any] = {}
        failed: list[str] = []
        for rule in self._rules:
            value = row[rule.source]
            if value is None:
                continue
            if rule.values is not None:
                value = rule.values.get(str(value), value)
            elif rule.convert is not None:
                try:
                    value = rule.convert.to_contract(value)
                except ConversionError as exc:
                    failed.append(str(exc))
                    continue
                if rule.timestamp:
                    value = self._timestamp(value)
            elif rule.timestamp:
                value = self._timestamp(value)
            target = data
            for part in rule.path[:-1]:
                target = target.setdefault(part, {})
            target[rule.path[-1]] = value
        if failed:
            raise ConversionFailed(failed, data)
        return data

    def _timestamp(self, value: Any) -> Any:
        # Sources without type information (SQLite, JSON) give text; zone-less values get the configured zone.
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=self._tz)
        return value

    def to_columns(self, data: Mapping[str, Any], fields: Collection[str] | None = None) -> dict[str, Any]:
        """The inverse of :meth:`to_data`: source name -> stored value for contract ``data`` (JSON form).

        ``fields`` limits it to the mapped paths under those top-level fields (an update); a mapped path
        missing from ``data`` gives ``None``, so that a field left out is cleared."""
        stored: dict[str, Any] = {}
        for rule in self._rules:
            if fields is not None and rule.path[0] not in fields:
                continue
            value: Any = data
            for part in rule.path:
                value = value.get(part) if isinstance(value, Mapping) else None
            if value is not None:
                value = self.to_stored(".".join(rule.path), value)
            stored[rule.source] = value
        return stored

    def to_stored(self, path: str, value: Any) -> Any:
        """Return the stored form of a contract value (the inverse of the field's value map or conversion, if any)."""
        reverse = self._reverse.get(path)
        if reverse is None:
            converter = self._converters.get(path)
            if converter is not None:
                return converter.to_stored(value)
            return self._wall_time(value) if path in self._zoneless else value
        return reverse.get(value, value)

    def _wall_time(self, value: Any) -> Any:
        moment = value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value  # not a time: left for the system to refuse
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            return value
        return moment.astimezone(self._tz).replace(tzinfo=None).isoformat(sep=" ")


def timestamp_fields(model: type[BaseModel]) -> set[str]:
    """Dotted paths of the fields of ``model``, nested models included, whose JSON Schema is a date-time."""
    return format_fields(model, "date-time")


def format_fields(model: type[BaseModel], string_format: str) -> set[str]:
    """Dotted paths of the fields of ``model``, nested models included, whose JSON Schema has the string
    ``format`` given (``date-time``, ``date``...)."""
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})
    found: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, prop in node.get("properties", {}).items():
            for option in (prop, *prop.get("anyOf", ()), *prop.get("allOf", ())):
                if "$ref" in option:
                    walk(definitions[option["$ref"].rsplit("/", 1)[-1]], f"{prefix}{name}.")
                elif option.get("format") == string_format:
                    found.add(prefix + name)

    walk(schema, "")
    return found


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``annotation`` (``Address``, ``Address | None``, ``Annotated[...]``), if any:
    a field with one is an object whose fields have dotted paths (``permanent_address.ward_code``). Lists of
    models are not objects in this sense (no path leads into a list)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType, Annotated):
        for argument in get_args(annotation):
            if (found := nested_model(argument)) is not None:
                return found
    return None


_nested_model = nested_model


def has_field_path(model: type[BaseModel], path: str) -> bool:
    """Whether the dotted ``path`` names a field of ``model``, through nested models."""
    *parents, leaf = path.split(".")
    current = model
    for part in parents:
        info = current.model_fields.get(part)
        nested = _nested_model(info.annotation) if info is not None else None
        if nested is None:
            return False
        current = nested
    return leaf in current.model_fields
