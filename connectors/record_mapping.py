"""From a sector API's JSON records to contract data, with JMESPath expressions (https://jmespath.org).

Each contract field path is given a JMESPath expression evaluated on one record of the answer: ``ho_ten``,
``dia_chi.ma_xa``, ``giay_to[?loai=='CMND'].so | [0]``. Plain dotted names, the common case, are read directly
without the JMESPath interpreter (same result, a fraction of the cost on the read path). The others are evaluated
by one interpreter shared by every expression: ``jmespath``'s own ``search`` makes an interpreter per call, an
object in a reference cycle that only the cyclic garbage collector frees (one per record read).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.visitor import TreeInterpreter

from connectors.conversions import Converter
from connectors.fields import FieldMapper

__all__ = ["Getter", "RecordMapping", "check_jmespath", "compile_expression"]

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

Getter = Callable[[Any], Any]
"""A compiled expression: a function of a JSON value."""


def check_jmespath(value: str) -> str:
    """``value`` if it is a JMESPath expression, else a ``ValueError`` (a configuration's validator)."""
    try:
        jmespath.compile(value)
    except JMESPathError:
        raise ValueError(f"{value!r} is not a JMESPath expression") from None
    return value


#: Evaluates every compiled expression (it holds no state of an evaluation).
_INTERPRETER = TreeInterpreter()


def _dotted(parts: tuple[str, ...]) -> Getter:
    def get(value: Any) -> Any:
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


def compile_expression(expression: str) -> Getter:
    """A function evaluating the JMESPath ``expression`` on a JSON value."""
    if expression == "@":
        return lambda value: value
    if _DOTTED.match(expression):
        return _dotted(tuple(expression.split(".")))
    tree = jmespath.compile(expression).parsed
    visit = _INTERPRETER.visit

    def search(value: Any) -> Any:
        return visit(tree, value)

    return search


class RecordMapping:
    """Maps one JSON record of the sector API to contract data (field expressions, then value maps or
    conversions: :mod:`connectors.conversions`)."""

    def __init__(
        self,
        fields: Mapping[str, str],
        value_maps: Mapping[str, Mapping[str, Any]],
        *,
        timestamp_fields: set[str],
        naive_timezone: str,
        conversions: Mapping[str, Converter] | None = None,
    ) -> None:
        self._getters = {expression: compile_expression(expression) for expression in set(fields.values())}
        self._fields = FieldMapper(
            fields,
            value_maps,
            timestamp_fields=timestamp_fields,
            naive_timezone=naive_timezone,
            conversions=conversions,
        )

    def to_data(self, record: Any) -> dict[str, Any]:
        """The contract data of ``record`` (missing and null values left out); :class:`ConversionFailed` when a
        field's conversion cannot read its value."""
        return self._fields.to_data({expression: get(record) for expression, get in self._getters.items()})

    def to_stored(self, path: str, value: Any) -> Any:
        """The API's form of a contract value (the inverse of the field's value map or conversion, if any)."""
        return self._fields.to_stored(path, value)
