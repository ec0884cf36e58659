"""Dates known only in part, such as a year of birth without day and month.

Vietnamese civil registers often record only the year (``00/00/1960``) or the month and year
(``00/03/1960``) of a birth. :class:`PartialDate` keeps exactly what is known and serialises it as an
ISO 8601 reduced-precision date: ``"1960"``, ``"1960-03"`` or ``"1960-03-12"``.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal, NoReturn

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

__all__ = [
    "INPUT_PATTERN",
    "ISO_PATTERN",
    "MAX_YEAR",
    "MIN_YEAR",
    "VIETNAM_TIME",
    "PartialDate",
    "Precision",
    "vietnam_today",
]

VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")
"""Viet Nam's time (UTC+7 all year: no daylight saving time)."""


def vietnam_today() -> date:
    """Today's date in Viet Nam, whatever the time zone of the machine: the day against which the contracts judge
    dates (a date in the future, an age), as the national databases do."""
    return datetime.now(VIETNAM_TIME).date()


Precision = Literal["year", "month", "day"]
"""How much of a :class:`PartialDate` is known."""

MIN_YEAR = 1850
"""The earliest year accepted: no living person's record, nor a death record on file, is older."""
MAX_YEAR = 9999
"""The latest year accepted (the limit of :class:`datetime.date`)."""

ISO_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"
"""JSON Schema pattern of the serialised forms ``YYYY``, ``YYYY-MM`` and ``YYYY-MM-DD``."""
_VIETNAMESE_PATTERN = r"^(([0-2]?[0-9]|3[01])/)?(0?[0-9]|1[0-2])/[0-9]{4}$"
INPUT_PATTERN = f"{ISO_PATTERN}|{_VIETNAMESE_PATTERN}"
"""JSON Schema pattern of everything accepted as input: the ISO forms plus ``DD/MM/YYYY`` and ``MM/YYYY``."""

_ISO = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)  # ASCII: "١٩٨٥" is no year
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
_MY = re.compile(r"(\d{1,2})/(\d{4})", re.ASCII)


class PartialDate:
    """A calendar date of which only the year, or the year and month, may be known.

    ``PartialDate(1960)``, ``PartialDate(1960, 3)`` and ``PartialDate(1960, 3, 12)`` are a year, a month
    and a full date. Instances are immutable and hashable. They are ordered by (year, month, day) with an
    unknown part sorting before any known one (``1960 < 1960-01 < 1960-01-01 < 1960-02``); equality
    means the same known parts, so ``PartialDate(1960) != PartialDate(1960, 1, 1)``.

    As a pydantic field type it accepts a :class:`PartialDate`, a :class:`datetime.date` (not a
    datetime) or a string in one of the forms :meth:`parse` reads, and serialises to the ISO string in
    both python and JSON mode. Whether a date may lie in the future is for the contract to decide.
    """

    __slots__ = ("day", "month", "year")

    year: int
    month: int | None
    day: int | None

    def __init__(self, year: int, month: int | None = None, day: int | None = None) -> None:
        for part, value in (("year", year), ("month", month), ("day", day)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise TypeError(f"{part} must be an int, got {type(value).__name__}")
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"the year is out of range: years from {MIN_YEAR} to {MAX_YEAR} are accepted")
        if month is not None and not 1 <= month <= 12:
            raise ValueError(f"month {month} is out of range 1-12")
        if day is not None:
            if month is None:
                raise ValueError("a day without a month is not a date: give the month or leave the day out")
            last = calendar.monthrange(year, month)[1]
            if not 1 <= day <= last:
                raise ValueError(f"day {day} does not exist in that month (it has {last} days)")
        object.__setattr__(self, "year", year)
        object.__setattr__(self, "month", month)
        object.__setattr__(self, "day", day)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"PartialDate is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"PartialDate is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[PartialDate], tuple[int, int | None, int | None]]:
        return (PartialDate, (self.year, self.month, self.day))

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_date(cls, value: date) -> PartialDate:
        """Return the complete partial date of a :class:`datetime.date` (a datetime is refused)."""
        if isinstance(value, datetime):
            raise TypeError("expected a date, got a datetime; pass value.date() if the time does not matter")
        return cls(value.year, value.month, value.day)

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """Read a partial date from text.

        Accepted forms (surrounding whitespace ignored):

        * ISO 8601: ``"1960"``, ``"1960-03"``, ``"1960-03-12"``;
        * Vietnamese day-first: ``"12/03/1960"`` (one-digit day and month allowed), with ``00`` for an
          unknown part: ``"00/03/1960"`` is March 1960, ``"00/00/1960"`` the year 1960;
        * month and year: ``"03/1960"``, ``"00/1960"`` (year only).

        Raises ``ValueError`` for anything else, impossible dates (``30/02/1960``), a day without a month
        (``12/00/1960``) and years before 1850.
        """
        text = text.strip()
        if match := _ISO.fullmatch(text):
            year, month, day = match.groups()
            return cls(int(year), _opt(month), _opt(day))
        if match := _DMY.fullmatch(text):
            day, month, year = (int(group) for group in match.groups())
        elif match := _MY.fullmatch(text):
            day, (month, year) = 0, (int(group) for group in match.groups())
        else:
            raise ValueError(
                "not a date: use YYYY, YYYY-MM, YYYY-MM-DD, DD/MM/YYYY or MM/YYYY (00 for an unknown day or month)"
            )
        if day and not month:
            raise ValueError("the date has a day but no month: give the month, or 00 for the day too")
        return cls(year, month or None, day or None)

    @classmethod
    def coerce(cls, value: object) -> PartialDate:
        """Return ``value`` as a :class:`PartialDate`: accepts a PartialDate, a date or a string."""
        if isinstance(value, PartialDate):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, date):
            return cls.from_date(value)
        raise TypeError(f"expected a partial date string, a date or a PartialDate, got {type(value).__name__}")

    # -- queries ------------------------------------------------------------------------------------

    @property
    def precision(self) -> Precision:
        """``"year"``, ``"month"`` or ``"day"``: the most precise part that is known."""
        if self.day is not None:
            return "day"
        return "year" if self.month is None else "month"

    @property
    def is_complete(self) -> bool:
        """Whether day, month and year are all known."""
        return self.day is not None

    def earliest(self) -> date:
        """Return the first day the partial date may denote (1 January for a bare year)."""
        return date(self.year, self.month or 1, self.day or 1)

    def latest(self) -> date:
        """Return the last day the partial date may denote (31 December for a bare year)."""
        month = self.month or 12
        return date(self.year, month, self.day or calendar.monthrange(self.year, month)[1])

    def to_date(self) -> date:
        """Return the :class:`datetime.date` of a complete partial date; raise ``ValueError`` otherwise."""
        if self.day is None:
            raise ValueError(f"{self} is not a complete date")
        return self.earliest()

    def includes(self, other: PartialDate | date) -> bool:
        """Whether every day ``other`` may denote lies within this partial date.

        ``PartialDate(1960).includes(PartialDate(1960, 3))`` is true; a full date includes only itself,
        so ``PartialDate(1960, 3, 12).includes(PartialDate(1960))`` is false.
        """
        other = other if isinstance(other, PartialDate) else PartialDate.from_date(other)
        return self.earliest() <= other.earliest() and other.latest() <= self.latest()

    # -- dunder -------------------------------------------------------------------------------------

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text

    def __repr__(self) -> str:
        parts = [self.year, self.month, self.day]
        return f"PartialDate({', '.join(str(part) for part in parts if part is not None)})"

    def _key(self) -> tuple[int, int, int]:
        return (self.year, self.month or 0, self.day or 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: PartialDate) -> bool:
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: PartialDate) -> bool:
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: PartialDate) -> bool:
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: PartialDate) -> bool:
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() >= other._key()

    # -- pydantic -----------------------------------------------------------------------------------

    @classmethod
    def _validate(cls, value: Any) -> PartialDate:
        try:
            return cls.coerce(value)
        except TypeError as exc:
            raise PydanticCustomError("partial_date_type", str(exc)) from None
        except ValueError as exc:
            raise PydanticCustomError("partial_date", str(exc)) from None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        """Validate from a PartialDate, a date or a string; serialise to the ISO string in every mode."""
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str, return_schema=core_schema.str_schema()),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """A string with the ISO partial forms (plus the Vietnamese forms when describing input)."""
        description = (
            "A date of which only the year, or the year and month, may be known, in ISO 8601 reduced "
            "precision: YYYY, YYYY-MM or YYYY-MM-DD."
        )
        pattern = ISO_PATTERN
        if handler.mode == "validation":
            pattern = INPUT_PATTERN
            description += (
                " Input may also use the Vietnamese forms DD/MM/YYYY and MM/YYYY with 00 for an unknown "
                "day or month (00/00/1960 = 1960, 00/03/1960 = 1960-03)."
            )
        return {
            "type": "string",
            "pattern": pattern,
            "description": description,
            "examples": ["1960", "1985-03", "1985-03-12"],
        }


def _opt(group: str | None) -> int | None:
    return None if group is None else int(group)
