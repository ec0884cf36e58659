"""Value conversions of the configured adapters (REST, SOAP): a sector system's text forms, to contract values and back.

Vietnamese sector systems send dates as ``12/03/1960`` or ``19600312``, numbers as ``"1.234.567,5"`` and yes/no as
``"Có"``/``"Không"`` or ``"1"``/``"0"``. An adapter's configuration names, per contract field path, the conversion
that reads such a value (``conversions``)::

    {
        "date_of_birth": {"type": "date", "format": "dd/mm/yyyy"},
        "registered_at": {"type": "datetime", "format": "dd/mm/yyyy HH:MM:SS"},
        "area_m2": {"type": "number"},
        "is_active": {"type": "boolean"}
    }

The same conversion writes a contract value in the system's form where the adapter sends one (a search parameter:
a search by date of birth sends ``12/03/1960``). Code lists stay in ``value_maps``. A value that cannot be read is a
contract violation of its record, naming the field and the expected form, never the value (it may be personal
data: the message shows its shape, digits as ``9`` and letters as ``a``). A bad conversion (an unknown part in a
format) is refused when the configuration is loaded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

__all__ = [
    "BooleanConversion",
    "Conversion",
    "ConversionError",
    "Converter",
    "DateConversion",
    "DateTimeConversion",
    "NumberConversion",
    "check_conversions",
    "compile_conversions",
    "value_shape",
]

_TOKEN = re.compile(r"yyyy|dd|mm|HH|MM|SS|T|[A-Za-z]+|[^A-Za-z]")
_DATE_TOKENS = ("yyyy", "mm", "dd")
_TIME_TOKENS = ("HH", "MM", "SS")
_LITERALS = frozenset(" /-.:T_,")
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)


class ConversionError(ValueError):
    """A value that the field's conversion cannot read; ``str()`` is ``"field.path: what was expected"``."""


def value_shape(value: Any) -> str:
    """The shape of ``value`` for messages, without the value: digits as ``9``, letters as ``a`` (``99/99/9999``),
    at most 24 characters; the type's name for anything but text."""
    if not isinstance(value, str):
        return type(value).__name__
    shape = "".join("9" if ch.isdigit() else "a" if ch.isalpha() else ch for ch in value[:24])
    return shape + ("..." if len(value) > 24 else "")


class _Conversion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _tokens(pattern: str) -> list[str]:
    """The tokens of a date format; ``ValueError`` naming what is wrong."""
    tokens = _TOKEN.findall(pattern)
    for part in tokens:
        if part.isalpha() and part not in (*_DATE_TOKENS, *_TIME_TOKENS) and part != "T":
            raise ValueError(
                f"{part!r} is not a token of a date format: use dd, mm, yyyy (and HH, MM, SS for a time), "
                f"separated by any of {''.join(sorted(_LITERALS))!r}"
            )
        if not part.isalpha() and part not in _LITERALS:
            raise ValueError(f"{part!r} cannot separate the parts of a date format")
    for part in (*_DATE_TOKENS, *_TIME_TOKENS):
        if tokens.count(part) > 1:
            raise ValueError(f"the format has {part!r} twice")
    return tokens


class DateConversion(_Conversion):
    """A date written with ``dd``, ``mm`` and ``yyyy`` in the order the system uses: ``dd/mm/yyyy``, ``dd-mm-yyyy``,
    ``yyyymmdd``, ``mm/yyyy``... ``00`` for the day or month means unknown (``00/00/1960`` is the year 1960: a
    partial date, which only fields that accept one take)."""

    type: Literal["date"] = Field(title="Kind", description="``date``.")
    format: str = Field(
        min_length=4,
        max_length=40,
        title="Format",
        description="The system's form, with the tokens dd, mm and yyyy (``dd/mm/yyyy``, ``yyyymmdd``).",
    )

    @field_validator("format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        tokens = _tokens(value)
        if any(part in tokens for part in _TIME_TOKENS):
            raise ValueError("a date format has no time: use the 'datetime' conversion for HH, MM and SS")
        if "yyyy" not in tokens:
            raise ValueError("a date format needs the year (yyyy)")
        if "dd" in tokens and "mm" not in tokens:
            raise ValueError("a date format with the day (dd) needs the month (mm)")
        return value


class DateTimeConversion(_Conversion):
    """A date and time: the date's tokens plus ``HH`` (hours, 00-23), ``MM`` (minutes) and optionally ``SS``
    (seconds): ``dd/mm/yyyy HH:MM:SS``, ``yyyymmddHHMMSS``. A time without a zone is in the adapter's
    ``naive_datetime_timezone``."""

    type: Literal["datetime"] = Field(title="Kind", description="``datetime``.")
    format: str = Field(
        min_length=8,
        max_length=40,
        title="Format",
        description="The system's form, with the tokens dd, mm, yyyy, HH, MM and SS (``dd/mm/yyyy HH:MM:SS``).",
    )

    @field_validator("format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        tokens = _tokens(value)
        missing = [part for part in ("yyyy", "mm", "dd", "HH", "MM") if part not in tokens]
        if missing:
            raise ValueError(f"a date-time format needs {', '.join(missing)}")
        return value


class NumberConversion(_Conversion):
    """A number sent as text, Vietnamese style by default: ``"1.234.567"`` (``.`` groups thousands) and
    ``"1.234,5"`` (``,`` before the decimals). Numbers sent as JSON numbers pass as they are."""

    type: Literal["number"] = Field(title="Kind", description="``number``.")
    thousands_separator: Literal[".", ",", " ", ""] = Field(
        default=".", title="Thousands separator", description="Groups thousands (``.``, ``,``, a space, or none)."
    )
    decimal_separator: Literal[",", "."] = Field(
        default=",", title="Decimal separator", description="Comes before the decimals (``,`` or ``.``)."
    )

    @model_validator(mode="after")
    def _check_separators(self) -> NumberConversion:
        if self.thousands_separator == self.decimal_separator:
            raise ValueError("the thousands and decimal separators must differ")
        return self


class BooleanConversion(_Conversion):
    """Yes or no written as text or digits: ``"1"``/``"0"``, ``"Có"``/``"Không"``, ``"true"``/``"false"`` by
    default (letter case and accents' encoding ignored). The first of each list is what the adapter sends."""

    type: Literal["boolean"] = Field(title="Kind", description="``boolean``.")
    true: list[str] = Field(
        default_factory=lambda: ["1", "Có", "true"],
        min_length=1,
        title="Yes",
        description="The system's words for yes (the first is sent).",
    )
    false: list[str] = Field(
        default_factory=lambda: ["0", "Không", "false"],
        min_length=1,
        title="No",
        description="The system's words for no (the first is sent).",
    )

    @model_validator(mode="after")
    def _check_words(self) -> BooleanConversion:
        both = {_fold(word) for word in self.true} & {_fold(word) for word in self.false}
        if both:
            raise ValueError(f"{', '.join(sorted(both))} cannot mean both yes and no")
        return self


AnyConversion = DateConversion | DateTimeConversion | NumberConversion | BooleanConversion
"""Any of the conversions."""
Conversion = Annotated[AnyConversion, Field(discriminator="type")]
"""One conversion, chosen by its ``type`` (the type of a configuration's setting)."""
_CONVERSION: TypeAdapter[AnyConversion] = TypeAdapter(Conversion)

CONVERSIONS_DESCRIPTION = (
    "Contract field path -> how to read the system's form of its values and write them back: "
    '``{"type": "date", "format": "dd/mm/yyyy"}``, ``{"type": "datetime", "format": "dd/mm/yyyy HH:MM:SS"}``, '
    '``{"type": "number"}`` (``"1.234.567,5"``), ``{"type": "boolean"}`` (``"1"``/``"0"``, ``"Có"``/``"Không"``). '
    "Code lists are value maps."
)


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word.strip()).casefold()


class Converter:
    """One field's compiled conversion: :meth:`to_contract` reads the system's value, :meth:`to_stored` writes a
    contract value (JSON form) the system's way."""

    def __init__(self, path: str, conversion: AnyConversion, timezone: tzinfo) -> None:
        self.path = path
        self.conversion = conversion
        self._tz = timezone
        if isinstance(conversion, DateConversion | DateTimeConversion):
            self._tokens = _tokens(conversion.format)
            numbers = (*_DATE_TOKENS, *_TIME_TOKENS)
            parts = []
            for n, part in enumerate(self._tokens):
                if part == "yyyy":
                    parts.append(r"(?P<yyyy>\d{4})")
                elif part in numbers:
                    # One digit will do ("1/3/1960") only between separators; packed parts take two ("19600301").
                    before = self._tokens[n - 1] if n else None
                    after = self._tokens[n + 1] if n + 1 < len(self._tokens) else None
                    alone = before not in numbers and after not in numbers
                    parts.append(rf"(?P<{part}>\d{{1,2}})" if alone else rf"(?P<{part}>\d{{2}})")
                else:
                    parts.append(re.escape(part))
            self._pattern = re.compile("".join(parts), re.ASCII)
        elif isinstance(conversion, NumberConversion):
            group, point = re.escape(conversion.thousands_separator), re.escape(conversion.decimal_separator)
            grouped = rf"\d{{1,3}}(?:{group}\d{{3}})+|" if conversion.thousands_separator else ""
            self._number = re.compile(rf"[+-]?(?:{grouped}\d+)(?:{point}\d+)?", re.ASCII)
        else:
            self._true = {_fold(word) for word in conversion.true}
            self._false = {_fold(word) for word in conversion.false}

    def _fail(self, value: Any, expected: str) -> ConversionError:
        return ConversionError(f"{self.path}: a value shaped {value_shape(value)!r} is not {expected}")

    # -- reading -----------------------------------------------------------------------------------------------

    def to_contract(self, value: Any) -> Any:
        """The contract value of the system's ``value``; :class:`ConversionError` when it cannot be read."""
        conversion = self.conversion
        if isinstance(conversion, DateConversion):
            return self._read_date(value)
        if isinstance(conversion, DateTimeConversion):
            return self._read_datetime(value)
        if isinstance(conversion, NumberConversion):
            return self._read_number(value)
        return self._read_boolean(value)

    def _match(self, value: Any) -> dict[str, str]:
        assert isinstance(self.conversion, DateConversion | DateTimeConversion)
        match = self._pattern.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            kind = "a date" if isinstance(self.conversion, DateConversion) else "a date and time"
            raise self._fail(value, f"{kind} in the form {self.conversion.format}")
        return match.groupdict()

    def _read_date(self, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        parts = self._match(value)
        year, month, day = parts["yyyy"], int(parts.get("mm") or 0), int(parts.get("dd") or 0)
        if day and not month:
            raise self._fail(value, "a date: a day without a month")
        text = year + (f"-{month:02d}" if month else "") + (f"-{day:02d}" if day else "")
        if month and day:
            try:
                date.fromisoformat(text)
            except ValueError:
                raise self._fail(value, "a date that exists") from None
        return text  # ISO text: the contract's own type (a date, a partial date) judges it

    def _read_datetime(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return value
        parts = self._match(value)
        try:
            return datetime(
                int(parts["yyyy"]),
                int(parts["mm"]),
                int(parts["dd"]),
                int(parts["HH"]),
                int(parts["MM"]),
                int(parts.get("SS") or 0),
            )
        except ValueError:
            raise self._fail(value, "a date and time that exists") from None

    def _read_number(self, value: Any) -> Any:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return value
        assert isinstance(self.conversion, NumberConversion)
        text = value.strip().replace("\u00a0", " ") if isinstance(value, str) else None
        if text is None or not self._number.fullmatch(text):
            raise self._fail(
                value, f"a number written 1{self.conversion.thousands_separator}234{self.conversion.decimal_separator}5"
            )
        plain = text.replace(self.conversion.thousands_separator, "") if self.conversion.thousands_separator else text
        plain = plain.replace(self.conversion.decimal_separator, ".")
        try:
            return int(plain) if "." not in plain else Decimal(plain)
        except (ValueError, InvalidOperation):  # pragma: no cover - the pattern admits only numbers
            raise self._fail(value, "a number") from None

    def _read_boolean(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        word = _fold(str(value)) if isinstance(value, str | int) else None
        if word in self._true:
            return True
        if word in self._false:
            return False
        raise self._fail(value, "one of the configured words for yes or no")

    # -- writing -----------------------------------------------------------------------------------------------

    def to_stored(self, value: Any) -> Any:
        """The system's form of a contract value (JSON form: dates as ISO text); values of another form pass as
        they are (the system then judges them)."""
        conversion = self.conversion
        if isinstance(conversion, DateConversion):
            return self._write_date(value)
        if isinstance(conversion, DateTimeConversion):
            return self._write_datetime(value)
        if isinstance(conversion, NumberConversion):
            return self._write_number(conversion, value)
        if isinstance(value, bool):
            return conversion.true[0] if value else conversion.false[0]
        return value

    def _write_date(self, value: Any) -> Any:
        match = _ISO_DATE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            return value
        year, month, day = match.groups()
        return self._format({"yyyy": year, "mm": month or "00", "dd": day or "00"})

    def _write_datetime(self, value: Any) -> Any:
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        except ValueError:
            return value
        if not isinstance(moment, datetime):
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(self._tz)
        return self._format(
            {
                "yyyy": f"{moment.year:04d}",
                "mm": f"{moment.month:02d}",
                "dd": f"{moment.day:02d}",
                "HH": f"{moment.hour:02d}",
                "MM": f"{moment.minute:02d}",
                "SS": f"{moment.second:02d}",
            }
        )

    @staticmethod
    def _write_number(conversion: NumberConversion, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return value
        whole, _, decimals = str(value).partition(".")
        sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
        if conversion.thousands_separator:
            digits = f"{int(digits):,}".replace(",", conversion.thousands_separator)
        return sign + digits + (conversion.decimal_separator + decimals if decimals else "")

    def _format(self, parts: Mapping[str, str]) -> str:
        return "".join(parts.get(part, part) for part in self._tokens)


def compile_conversions(
    conversions: Mapping[str, AnyConversion | Mapping[str, Any]], timezone: tzinfo | str = "UTC"
) -> dict[str, Converter]:
    """The converters of a configuration's ``conversions`` (field path -> conversion, as a model or as its
    settings), times without a zone read in ``timezone`` (an IANA name or a ``tzinfo``)."""
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    converters = {}
    for path, conversion in conversions.items():
        model = _CONVERSION.validate_python(conversion) if isinstance(conversion, Mapping) else conversion
        converters[path] = Converter(path, model, zone)
    return converters


def _leaf_schemas(schema: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """Dotted field path -> the schemas its value may take (``anyOf`` options), through nested models."""
    definitions = schema.get("$defs", {})
    found: dict[str, list[Mapping[str, Any]]] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for name, prop in node.get("properties", {}).items():
            for option in (prop, *prop.get("anyOf", ()), *prop.get("allOf", ())):
                if "$ref" in option:
                    walk(definitions[option["$ref"].rsplit("/", 1)[-1]], f"{prefix}{name}.")
                    continue
                if "enum" in option or "const" in option or "type" in option:
                    found.setdefault(prefix + name, []).append(option)

    walk(schema, "")
    return found


def _fits(conversion: Any, options: list[Mapping[str, Any]]) -> bool:
    types = {option.get("type") for option in options}
    formats = {option.get("format") for option in options}
    if isinstance(conversion, DateConversion):
        return "date" in formats or any("pattern" in option and option.get("type") == "string" for option in options)
    if isinstance(conversion, DateTimeConversion):
        return "date-time" in formats
    if isinstance(conversion, NumberConversion):
        return bool(types & {"number", "integer"})
    return "boolean" in types


def check_conversions(
    contract: type[BaseModel],
    conversions: Mapping[str, Any],
    fields: Mapping[str, str],
    value_maps: Mapping[str, Any],
) -> list[str]:
    """The problems of a configuration's ``conversions`` against the contract it serves (empty when none): a
    conversion of a field the mapping lacks, one beside a value map, or of a kind the field cannot take (a
    ``date`` conversion on a number)."""
    if not conversions:
        return []
    problems = []
    leaves = _leaf_schemas(contract.model_json_schema(mode="validation"))
    for path, conversion in conversions.items():
        if path not in fields:
            problems.append(f"conversions.{path}: the field mapping lacks {path!r}")
        elif path in value_maps:
            problems.append(f"conversions.{path}: the field has a value map too; give it one or the other")
        elif not _fits(conversion, leaves.get(path, [])):
            problems.append(f"conversions.{path}: a {conversion.type} conversion does not fit this contract field")
    return problems
