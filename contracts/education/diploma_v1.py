"""Contract ``education.diploma`` version 1: a diploma of the national education system held by a person.

Lower and upper secondary diplomas (bằng tốt nghiệp THCS, THPT) are issued under the authority of the province's
Department of Education and Training; college, bachelor's, master's and doctoral diplomas by the school that
trained the holder. The diploma number (số hiệu) used here names the level, the issuer (a two-digit province code
or a three-letter school code), the graduation year and a serial: ``THPT-68-2019-001234``, ``DH-TDL-2023-000456``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.registry import register_contract

__all__ = ["MINIMUM_AGE", "Classification", "Diploma", "DiplomaNumber", "DiplomaQuery", "EducationLevel"]

_NUMBER = re.compile(r"^(THCS|THPT|CD|DH|THS|TS)-([0-9]{2}|[A-Z]{3})-([0-9]{4})-([0-9]{6})$")


class EducationLevel(StrEnum):
    """The level a diploma certifies."""

    LOWER_SECONDARY = "lower_secondary"
    UPPER_SECONDARY = "upper_secondary"
    COLLEGE = "college"
    BACHELOR = "bachelor"
    MASTER = "master"
    DOCTORATE = "doctorate"


class Classification(StrEnum):
    """The graduation classification (xếp loại tốt nghiệp) of a college or bachelor's diploma."""

    EXCELLENT = "excellent"
    VERY_GOOD = "very_good"
    GOOD = "good"
    AVERAGE = "average"


_CODES: Final = {
    EducationLevel.LOWER_SECONDARY: "THCS",
    EducationLevel.UPPER_SECONDARY: "THPT",
    EducationLevel.COLLEGE: "CD",
    EducationLevel.BACHELOR: "DH",
    EducationLevel.MASTER: "THS",
    EducationLevel.DOCTORATE: "TS",
}
_SECONDARY: Final = frozenset({EducationLevel.LOWER_SECONDARY, EducationLevel.UPPER_SECONDARY})
_CLASSIFIED: Final = frozenset({EducationLevel.COLLEGE, EducationLevel.BACHELOR})

#: The youngest age, in years reached during the graduation year, at which a level can be completed (one year
#: below the usual age: 15 for lower and 18 for upper secondary school, 21 for college, 22 for a bachelor's...).
MINIMUM_AGE: Final[dict[EducationLevel, int]] = {
    EducationLevel.LOWER_SECONDARY: 14,
    EducationLevel.UPPER_SECONDARY: 17,
    EducationLevel.COLLEGE: 19,
    EducationLevel.BACHELOR: 20,
    EducationLevel.MASTER: 22,
    EducationLevel.DOCTORATE: 25,
}


def _check_number(value: str) -> str:
    if not _NUMBER.match(value):
        raise ValueError(
            "a diploma number is <THCS|THPT|CD|DH|THS|TS>-<province code or school code>-<year>-<6-digit serial>"
        )
    return value


DiplomaNumber = Annotated[
    str,
    AfterValidator(_check_number),
    JsonSchemaExtra(
        pattern=_NUMBER.pattern,
        description="Diploma number: level code, issuer (province or school code), graduation year, serial.",
        examples=["THPT-68-2019-001234", "DH-TDL-2023-000456"],
    ),
]
"""A diploma number, ``THPT-68-2019-001234``."""

_EXAMPLE: dict[str, Any] = {
    "diploma_number": "DH-TDL-2009-000456",
    "holder": {
        "personal_id": "068185000123",
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": "1985-03-12",
        "gender": "female",
    },
    "level": "bachelor",
    "school_name": "Trường Đại học Đà Lạt",
    "major": "Công nghệ thông tin",
    "graduation_year": 2009,
    "classification": "good",
    "issued_on": "2009-07-20",
}


@register_contract
class Diploma(Contract):
    """A diploma (contract ``education.diploma`` v1).

    Besides each field's own checks: the number's level code and year agree with ``level`` and
    ``graduation_year``, and its issuer is a province code for secondary diplomas and a school code for the
    others; ``major`` is given for college and higher diplomas only, ``classification`` for college and
    bachelor's ones only; the holder was old enough in the graduation year (:data:`MINIMUM_AGE`); the diploma
    was issued in the graduation year or the next, and nothing lies in the future.
    """

    contract_name: ClassVar[str] = "education.diploma"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "diploma_number"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    diploma_number: DiplomaNumber = Field(description="Diploma number (số hiệu); the record key.")
    holder: IdentifiedPerson = Field(description="The person the diploma was awarded to.")
    level: EducationLevel = Field(description="The level the diploma certifies.", examples=["bachelor"])
    school_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="The school the holder graduated from.", examples=["Trường Đại học Đà Lạt"]
    )
    major: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        default=None, description="Field of study (ngành); college and higher only.", examples=["Luật"]
    )
    graduation_year: int = Field(ge=1950, le=9999, description="Year of graduation.", examples=[2009])
    classification: Classification | None = Field(
        default=None, description="Graduation classification; college and bachelor's diplomas only."
    )
    issued_on: date = Field(description="Date of issue; in the graduation year or the next.", examples=["2009-07-20"])

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self.problems(vietnam_today()))
        return self

    def problems(self, today: date) -> list[FieldProblem]:
        """The cross-field rules the diploma breaks as of ``today``."""
        problems: list[FieldProblem] = []

        def add(field: str, kind: str, message: str, value: Any) -> None:
            problems.append(FieldProblem((field,), kind, message, value))

        number = _NUMBER.match(self.diploma_number)
        assert number is not None  # checked by the field's type
        code, issuer, year = number.group(1), number.group(2), int(number.group(3))
        if code != _CODES[self.level]:
            add("diploma_number", "level_mismatch", f"{self.diploma_number} is not a {self.level} number", code)
        elif issuer.isdigit() != (self.level in _SECONDARY):
            add("diploma_number", "issuer_mismatch", f"{self.level} diplomas are not issued by {issuer}", issuer)
        if year != self.graduation_year:
            add(
                "diploma_number",
                "year_mismatch",
                f"{self.diploma_number} names year {year}, but graduation_year is {self.graduation_year}",
                year,
            )
        if (self.major is not None) == (self.level in _SECONDARY):
            rule = "only for college and higher diplomas" if self.major is not None else "required for this level"
            add("major", "major_mismatch", f"major is {rule} (level is {self.level})", self.major)
        if self.classification is not None and self.level not in _CLASSIFIED:
            add("classification", "not_classified", f"{self.level} diplomas carry no classification", None)
        age = self.graduation_year - self.holder.date_of_birth.year
        if age < MINIMUM_AGE[self.level]:
            add(
                "graduation_year",
                "too_young",
                f"by holder.date_of_birth the holder was at most {age} in {self.graduation_year}; a "
                f"{self.level} diploma needs {MINIMUM_AGE[self.level]}",
                self.graduation_year,
            )
        if self.graduation_year > today.year:
            add("graduation_year", "date_in_future", f"graduation_year is after {today.year}", self.graduation_year)
        if self.issued_on.year not in {self.graduation_year, self.graduation_year + 1}:
            add(
                "issued_on",
                "issued_out_of_time",
                f"issued_on {self.issued_on} is not in graduation_year {self.graduation_year} or the next",
                self.issued_on.isoformat(),
            )
        if self.issued_on > today:
            add("issued_on", "date_in_future", f"issued_on {self.issued_on} is after today", self.issued_on.isoformat())
        return problems


class DiplomaQuery(ContractQuery):
    """Search criteria for :class:`Diploma` records: the holder's personal id, optionally a level. A diploma
    matches when its holder has that personal id and, if ``level`` is given, it is of that level."""

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "holder_personal_id": ("holder.personal_id",),
    }

    holder_personal_id: PersonalId = Field(description="Personal id of the holder.", examples=["068185000123"])
    level: EducationLevel | None = Field(default=None, description="Only diplomas of this level.")

    def matches(self, diploma: Diploma) -> bool:
        """Whether ``diploma`` satisfies every criterion of the query."""
        if diploma.holder.personal_id != self.holder_personal_id:
            return False
        return self.level is None or diploma.level is self.level


Diploma.query_model = DiplomaQuery
