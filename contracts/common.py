"""Small building blocks shared by the contracts: enums, the country code and schema/error helpers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, ValidationError

__all__ = [
    "CountryCode",
    "FieldProblem",
    "Gender",
    "JsonSchemaExtra",
    "raise_field_problems",
    "require_ascii_digits",
]


class Gender(StrEnum):
    """A person's gender as recorded in the national population database."""

    MALE = "male"
    FEMALE = "female"


class JsonSchemaExtra:
    """``Annotated`` metadata that adds keys to the JSON Schema generated for the annotated type.

    Unlike ``Field(json_schema_extra=...)`` it also works inside unions and containers
    (``Annotated[str, JsonSchemaExtra(pattern=...)] | None``). It has no effect on validation.
    """

    __slots__ = ("_extra",)

    def __init__(self, **extra: Any) -> None:
        self._extra: dict[str, Any] = extra

    def __repr__(self) -> str:
        return f"JsonSchemaExtra({self._extra!r})"

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Return the schema pydantic generates for the type, updated with the extra keys."""
        schema = handler(core_schema)
        schema.update(self._extra)
        return schema


def require_ascii_digits(value: str, length: int, what: str) -> str:
    """Return ``value`` if it is exactly ``length`` ASCII digits; else raise ``ValueError`` saying what is wrong.

    The message names ``what`` and the rule, never the value itself: these values identify people and the
    messages end up in logs, problem documents and dead letters.
    """
    if len(value) != length:
        raise ValueError(f"{what} must be exactly {length} digits (0-9); got {len(value)} characters")
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"{what} must be exactly {length} digits (0-9); got a character other than 0-9")
    return value


CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    JsonSchemaExtra(
        description="ISO 3166-1 alpha-2 country code in upper case (VN for Viet Nam).",
        examples=["VN", "LA", "KH"],
    ),
]
"""An ISO 3166-1 alpha-2 country code such as ``"VN"``; only the shape is checked, not the ISO list."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One violated cross-field rule: where to report it, a machine-readable type and a readable message.

    ``loc`` is the field (or path of fields) the error is reported at, ``error_type`` a stable snake_case
    identifier consumers can match on, ``message`` an English sentence naming the fields involved and
    ``value`` the offending input.
    """

    loc: tuple[str | int, ...]
    error_type: str
    message: str
    value: Any


def raise_field_problems(title: str, problems: Iterable[FieldProblem]) -> None:
    """Raise one ``ValidationError`` carrying every problem at its own location; do nothing if there is none.

    Raised from a model validator, pydantic merges these errors into the model's own errors (prefixing the
    location of the model when it is nested), so consumers see e.g. ``loc=("gender",)``.
    """
    details = [
        InitErrorDetails(
            type=PydanticCustomError(problem.error_type, problem.message),
            loc=problem.loc,
            input=problem.value,
        )
        for problem in problems
    ]
    if details:
        raise ValidationError.from_exception_data(title, details)
