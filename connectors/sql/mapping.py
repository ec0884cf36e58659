"""Turning rows into contract data and query values into column values, as the configuration says."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class _FieldRule:
    column: str
    path: tuple[str, ...]
    values: Mapping[str, Any] | None
    timestamp: bool


class RowMapper:
    """Maps sector rows to nested contract data (and query values back to stored values).

    Built once per connector; :meth:`to_data` is on the hot path and does no parsing of its configuration.
    """

    def __init__(
        self,
        fields: Mapping[str, str],
        value_maps: Mapping[str, Mapping[str, Any]],
        *,
        timestamp_fields: Collection[str] = (),
        naive_timezone: str = "UTC",
    ) -> None:
        self._rules = tuple(
            _FieldRule(column, tuple(path.split(".")), value_maps.get(path), path in timestamp_fields)
            for path, column in fields.items()
        )
        self._reverse = {
            path: {contract_value: stored for stored, contract_value in mapping.items()}
            for path, mapping in value_maps.items()
        }
        self._tz: tzinfo = ZoneInfo(naive_timezone)
        self.columns = tuple(dict.fromkeys(rule.column for rule in self._rules))

    def to_data(self, row: Mapping[Any, Any]) -> dict[str, Any]:
        """Return the contract data of ``row``. NULL columns are left out, so nested objects whose
        columns are all NULL do not appear and the contract's defaults apply."""
        data: dict[str, Any] = {}
        for rule in self._rules:
            value = row[rule.column]
            if value is None:
                continue
            if rule.values is not None:
                value = rule.values.get(str(value), value)
            elif rule.timestamp:
                value = self._timestamp(value)
            target = data
            for part in rule.path[:-1]:
                target = target.setdefault(part, {})
            target[rule.path[-1]] = value
        return data

    def _timestamp(self, value: Any) -> Any:
        # Drivers without type information (SQLite) return text; zone-less values get the configured zone.
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=self._tz)
        return value

    def to_stored(self, path: str, value: Any) -> Any:
        """Return the stored form of a contract value (the inverse of the field's value map, if any)."""
        reverse = self._reverse.get(path)
        if reverse is None:
            return value
        return reverse.get(value, value)
