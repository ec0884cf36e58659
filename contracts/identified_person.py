"""A person named in a sector record by their personal identification number: a holder, an owner, an applicant.

Sector databases (insurance cards, diplomas, vehicles, land certificates...) do not copy the whole population
record; they name the person by personal identification number and repeat the name, date of birth and gender as
registered. :class:`IdentifiedPerson` carries those four, and checks what the number itself says: the gender and
the year of birth it encodes must agree with the other fields.
"""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.common import FieldProblem, Gender, raise_field_problems
from contracts.dates import PartialDate, vietnam_today
from contracts.identity import PersonalId, parse_personal_id
from contracts.names import FullName

__all__ = ["IdentifiedPerson", "identified_person_problems"]


class IdentifiedPerson(BaseModel):
    """A person identified by their 12-digit personal identification number, with name, birth date and gender.

    The century/gender digit of ``personal_id`` must agree with ``gender`` and its year digits with the year of
    ``date_of_birth``, which may not lie in the future. Violations are reported at the field concerned
    (``holder.gender`` when the person is a record's ``holder``), with messages naming every field involved.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    personal_id: PersonalId = Field(
        description="12-digit personal identification number (số định danh cá nhân).",
        examples=["068185000123"],
    )
    full_name: FullName = Field(description="Full name as registered.", examples=["Nguyễn Thị Mai"])
    date_of_birth: PartialDate = Field(
        description="Date of birth, possibly only the year or year and month; not in the future.",
        examples=["1985-03-12", "1960"],
    )
    gender: Gender = Field(description="Gender; must agree with digit 4 of personal_id.", examples=["female"])

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, identified_person_problems(self, vietnam_today()))
        return self


def identified_person_problems(person: IdentifiedPerson, today: date) -> list[FieldProblem]:
    """The rules ``person`` breaks as of ``today`` (locations relative to the person)."""
    problems: list[FieldProblem] = []
    pid = person.personal_id
    parts = parse_personal_id(pid)
    if parts.gender != person.gender:
        problems.append(
            FieldProblem(
                ("gender",),
                "gender_mismatch",
                f"gender is {person.gender} but the century/gender digit {pid[3]} of personal_id means {parts.gender}",
                person.gender.value,
            )
        )
    if parts.birth_year != person.date_of_birth.year:
        problems.append(
            FieldProblem(
                ("date_of_birth",),
                "birth_year_mismatch",
                f"the year of date_of_birth is not the year of birth personal_id means (century digit {pid[3]}, "
                f"year digits {pid[4:6]}: {parts.birth_year})",
                str(person.date_of_birth),
            )
        )
    if person.date_of_birth.earliest() > today:
        problems.append(
            FieldProblem(
                ("date_of_birth",),
                "date_in_future",
                f"date_of_birth is in the future (today is {today})",
                str(person.date_of_birth),
            )
        )
    return problems
