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
from connectors.errors import UpstreamError
from connectors.fields import ConversionFailed, FieldMapper

__all__ = [
    "ExpressionFailed",
    "Getter",
    "RecordMapping",
    "answer_expression",
    "check_jmespath",
    "compile_expression",
]

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
    if _DOTTED.fullmatch(expression):
        return _dotted(tuple(expression.split(".")))
    tree = jmespath.compile(expression).parsed
    visit = _INTERPRETER.visit

    def search(value: Any) -> Any:
        return visit(tree, value)

    return search


def answer_expression(expression: str) -> Getter:
    """:func:`compile_expression` for reading a sector system's answer: where JMESPath raises (a function given a
    value of another type than it takes), :class:`ExpressionFailed`, a connector error, rather than JMESPath's."""
    get = compile_expression(expression)

    def search(value: Any) -> Any:
        try:
            return get(value)
        except JMESPathError as exc:
            raise ExpressionFailed(type(exc).__name__) from None

    return search


class ExpressionFailed(UpstreamError):
    """A configured JMESPath expression cannot be evaluated on the sector system's answer: a function of it was
    given a value of another type (``join(' ', ten)`` where ``ten`` is a text, ``length`` of a number). The message
    names the JMESPath error, never the value."""

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"the sector system's answer does not fit a JMESPath expression of the configuration ({kind})",
            reason="protocol",
        )


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
        self._getters = {expression: answer_expression(expression) for expression in set(fields.values())}
        self._paths: dict[str, list[str]] = {}
        for path, expression in fields.items():
            self._paths.setdefault(expression, []).append(path)
        self._fields = FieldMapper(
            fields,
            value_maps,
            timestamp_fields=timestamp_fields,
            naive_timezone=naive_timezone,
            conversions=conversions,
        )

    def to_data(self, record: Any) -> dict[str, Any]:
        """The contract data of ``record`` (missing and null values left out); :class:`ConversionFailed` when a
        field's conversion cannot read its value, or its expression cannot be evaluated on the record."""
        values: dict[str, Any] = {}
        unreadable: list[str] = []
        for expression, get in self._getters.items():
            try:
                values[expression] = get(record)
            except ExpressionFailed:
                values[expression] = None
                unreadable += [
                    f"{path}: its expression cannot be evaluated on this record" for path in self._paths[expression]
                ]
        if not unreadable:
            return self._fields.to_data(values)
        try:
            data = self._fields.to_data(values)
        except ConversionFailed as exc:
            raise ConversionFailed(unreadable + exc.errors, exc.data) from None
        raise ConversionFailed(unreadable, data)

    def to_stored(self, path: str, value: Any) -> Any:
        """The API's form of a contract value (the inverse of the field's value map or conversion, if any)."""
        return self._fields.to_stored(path, value)
