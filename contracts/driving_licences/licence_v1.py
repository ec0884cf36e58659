"""Contract ``driving_licences.licence`` version 1: a driving licence of the national driving licence database.

The Law on Road Traffic Order and Safety 2024 (Law 36/2024/QH15, in force since 1 January 2025) sets the licence
classes and their terms (Article 57) and the minimum ages (Article 59):

=========================================  ==============  ============
classes                                    validity        minimum age
=========================================  ==============  ============
A1, A (motorcycles), B1 (motor tricycles)  no expiry       18
B (cars), C1 (light trucks)                10 years        18
C (trucks), BE                             5 years         21
D1, D2 (buses), C1E, CE                    5 years         24
D (buses), D1E, D2E, DE                    5 years         27
=========================================  ==============  ============

One licence (giấy phép lái xe, a 12-digit number) lists every class its holder may drive, each with the date it
was issued and, for classes with a term, the date it expires. Licences issued under the 2008 law are given with
the classes they were converted to (Article 89: B1 and B2 became B, A2 became A, A3 became B1...), and keep the
term they were issued with: an automatic-car licence (old B1) runs until its holder is 55 (women) or 60 (men) years
old, so a class B issued before 1 January 2025 may expire then instead of ten years after its issue date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.admin_units import ProvinceCode
from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import PartialDate, vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.registry import register_contract

__all__ = [
    "CLASS_TERMS",
    "LAW_2024_IN_FORCE",
    "MINIMUM_AGES",
    "DrivingLicence",
    "DrivingLicenceQuery",
    "LicenceClass",
    "LicenceClassEntry",
    "LicenceNumber",
    "LicenceStatus",
    "expiry_for",
]


class LicenceClass(StrEnum):
    """A driving licence class of the 2024 Law on Road Traffic Order and Safety (Article 57)."""

    A1 = "A1"
    A = "A"
    B1 = "B1"
    B = "B"
    C1 = "C1"
    C = "C"
    D1 = "D1"
    D2 = "D2"
    D = "D"
    BE = "BE"
    C1E = "C1E"
    CE = "CE"
    D1E = "D1E"
    D2E = "D2E"
    DE = "DE"


class LicenceStatus(StrEnum):
    """The state of a licence: ``valid``; ``expired`` (no class may be driven any more); ``suspended`` (the right
    to drive withdrawn for a time); ``revoked`` (withdrawn for good, e.g. on the holder's death)."""

    VALID = "valid"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


_PERMANENT = (LicenceClass.A1, LicenceClass.A, LicenceClass.B1)
_TEN_YEARS = (LicenceClass.B, LicenceClass.C1)

#: Years a class is valid from its issue date (``None``: no expiry), per Article 57(5).
CLASS_TERMS: Final[dict[LicenceClass, int | None]] = {
    c: None if c in _PERMANENT else 10 if c in _TEN_YEARS else 5 for c in LicenceClass
}

#: Minimum age of a holder of each class, per Article 59(1).
MINIMUM_AGES: Final[dict[LicenceClass, int]] = {
    **dict.fromkeys((LicenceClass.A1, LicenceClass.A, LicenceClass.B1, LicenceClass.B, LicenceClass.C1), 18),
    **dict.fromkeys((LicenceClass.C, LicenceClass.BE), 21),
    **dict.fromkeys((LicenceClass.D1, LicenceClass.D2, LicenceClass.C1E, LicenceClass.CE), 24),
    **dict.fromkeys((LicenceClass.D, LicenceClass.D1E, LicenceClass.D2E, LicenceClass.DE), 27),
}


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return date(day.year + years, 3, 1)


def expiry_for(licence_class: LicenceClass, issued: date) -> date | None:
    """The expiry date of ``licence_class`` issued on ``issued`` (``None`` for classes without a term)."""
    years = CLASS_TERMS[licence_class]
    return None if years is None else _plus_years(issued, years)


#: The day the 2024 law and its terms came into force; classes issued before keep the terms of the 2008 law.
LAW_2024_IN_FORCE: Final = date(2025, 1, 1)


def _old_automatic_car_term(licence_class: LicenceClass, issued: date, expiry: date | None, born: PartialDate) -> bool:
    """Whether ``expiry`` is the age-bound term of an automatic-car licence (class B1 of the 2008 law, now B) issued
    before 2025: the holder's 55th (women) or 60th (men) birthday, counted loosely (55 to 62 years after the year of
    birth, as the retirement ages moved) since the date of birth may be known only in part."""
    return (
        licence_class is LicenceClass.B
        and issued < LAW_2024_IN_FORCE
        and expiry is not None
        and expiry > issued
        and 55 <= expiry.year - born.year <= 62
    )


LicenceNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{12}$"),
    JsonSchemaExtra(description="The 12-digit driving licence number.", examples=["680123456789"]),
]
"""A driving licence number: 12 digits."""


class LicenceClassEntry(BaseModel):
    """One class of a licence, with the date it was issued and the date it expires (none for A1, A and B1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    licence_class: LicenceClass = Field(description="The class.", examples=["B"])
    issue_date: date = Field(description="When the class was issued (or last renewed).", examples=["2020-06-15"])
    expiry_date: date | None = Field(
        default=None,
        description=(
            "When the class expires: issue date + its term; none for A1, A, B1. A class B issued before 2025 to an "
            "automatic-car licence (old B1) may instead expire at the holder's 55th or 60th birthday."
        ),
        examples=[None],
    )


_HOLDER_EXAMPLE: dict[str, Any] = {
    "personal_id": "068080000456",
    "full_name": "Trần Văn Hùng",
    "date_of_birth": "1980-05-01",
    "gender": "male",
}

_EXAMPLE: dict[str, Any] = {
    "licence_number": "680123456789",
    "holder": _HOLDER_EXAMPLE,
    "issuing_province_code": "68",
    "classes": [
        {"licence_class": "A1", "issue_date": "1999-03-20", "expiry_date": None},
        {"licence_class": "B", "issue_date": "2020-06-15", "expiry_date": "2030-06-15"},
    ],
    "status": "valid",
    "status_date": None,
}


@register_contract
class DrivingLicence(Contract):
    """A driving licence of the national driving licence database (``driving_licences.licence`` v1).

    Rules besides each field's type: at least one class, each at most once; a class's expiry date is its issue
    date plus the term of the class (none for A1, A, B1), or for a class B issued before 2025 the age-bound term of
    the old automatic-car licence; no issue date in the future; the holder had the minimum
    age of the class on its issue date; a suspended or revoked licence gives the date of that decision
    (``status_date``), on or after the last issue date and not in the future, and a valid or expired one none.
    """

    contract_name: ClassVar[str] = "driving_licences.licence"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "licence_number"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    licence_number: LicenceNumber = Field(description="The licence number; the record key.", examples=["680123456789"])
    holder: IdentifiedPerson = Field(description="The holder of the licence.", examples=[_HOLDER_EXAMPLE])
    issuing_province_code: ProvinceCode = Field(
        description="Current province whose authority issued the licence.", examples=["68"]
    )
    classes: list[LicenceClassEntry] = Field(min_length=1, max_length=15, description="The classes of the licence.")
    status: LicenceStatus = Field(description="Valid, expired, suspended or revoked.", examples=["valid"])
    status_date: date | None = Field(
        default=None, description="Date of the suspension or revocation; none otherwise.", examples=[None]
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        seen: set[LicenceClass] = set()
        born = self.holder.date_of_birth.earliest()
        for index, entry in enumerate(self.classes):
            where: tuple[str | int, ...] = ("classes", index)
            if entry.licence_class in seen:
                problems.append(
                    FieldProblem(
                        (*where, "licence_class"),
                        "duplicate_class",
                        f"class {entry.licence_class} appears more than once in classes",
                        entry.licence_class.value,
                    )
                )
            seen.add(entry.licence_class)
            expected = expiry_for(entry.licence_class, entry.issue_date)
            old_term = _old_automatic_car_term(
                entry.licence_class, entry.issue_date, entry.expiry_date, self.holder.date_of_birth
            )
            if entry.expiry_date != expected and not old_term:
                term = CLASS_TERMS[entry.licence_class]
                rule = "has no expiry" if term is None else f"expires {term} years after its issue_date"
                problems.append(
                    FieldProblem(
                        (*where, "expiry_date"),
                        "expiry_mismatch",
                        f"classes[{index}].expiry_date is {entry.expiry_date} but class {entry.licence_class} {rule} "
                        f"({entry.issue_date}): expected {expected}",
                        None if entry.expiry_date is None else entry.expiry_date.isoformat(),
                    )
                )
            if entry.issue_date > today:
                problems.append(
                    FieldProblem(
                        (*where, "issue_date"),
                        "date_in_future",
                        f"classes[{index}].issue_date {entry.issue_date} is in the future (today is {today})",
                        entry.issue_date.isoformat(),
                    )
                )
            minimum = MINIMUM_AGES[entry.licence_class]
            if entry.issue_date < _plus_years(born, minimum):
                problems.append(
                    FieldProblem(
                        (*where, "issue_date"),
                        "holder_under_age",
                        f"classes[{index}].issue_date {entry.issue_date}: holder.date_of_birth makes the holder "
                        f"younger than {minimum}, the minimum age of class {entry.licence_class}",
                        entry.issue_date.isoformat(),
                    )
                )
        problems += self._status_problems(today)
        return problems

    def _status_problems(self, today: date) -> list[FieldProblem]:
        decided = self.status in (LicenceStatus.SUSPENDED, LicenceStatus.REVOKED)
        when = self.status_date
        if decided != (when is not None):
            return [
                FieldProblem(
                    ("status_date",),
                    "status_date_mismatch",
                    f"status is {self.status} and status_date is {when}; a suspended or revoked licence gives the "
                    f"date of the decision, a valid or expired one none",
                    None if when is None else when.isoformat(),
                )
            ]
        last_issue = max(entry.issue_date for entry in self.classes)
        if when is not None and not last_issue <= when <= today:
            return [
                FieldProblem(
                    ("status_date",),
                    "status_date_out_of_range",
                    f"status_date {when} is not between the last issue_date of classes ({last_issue}) and today "
                    f"({today})",
                    when.isoformat(),
                )
            ]
        return []


class DrivingLicenceQuery(ContractQuery):
    """Search criteria for :class:`DrivingLicence` records: the holder's personal identification number."""

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "holder_personal_id": ("holder.personal_id",),
    }

    holder_personal_id: PersonalId = Field(
        description="Personal identification number of the holder.", examples=["068080000456"]
    )

    def matches(self, record: DrivingLicence) -> bool:
        """Whether ``record`` belongs to the holder."""
        return record.holder.personal_id == self.holder_personal_id


DrivingLicence.query_model = DrivingLicenceQuery
