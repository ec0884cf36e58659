"""Contract ``civil_status.registration`` version 1: one entry of the electronic civil status database.

The electronic civil status database (Cơ sở dữ liệu hộ tịch điện tử) holds the registrations made by the
people's committees of wards and communes under the Law on Civil Status 2014: births (khai sinh), marriages (kết
hôn) and deaths (khai tử). Each registration is an entry of a register book (quyển số) of the registering ward, in
the year it was made, with a number within that book.

All three kinds share one contract so that a consuming agency reads a person's civil status events through one
database: ``kind`` says which it is, and exactly the matching section (``birth``, ``marriage`` or ``death``) is
present. Births and deaths name the registered ``person``; a marriage names its two spouses in its section.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.admin_units import AdminArea, WardCode
from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, Gender, JsonSchemaExtra, raise_field_problems
from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.registry import register_contract

__all__ = [
    "KIND_PREFIXES",
    "BirthDetails",
    "BookNumber",
    "CivilStatusRegistration",
    "CivilStatusRegistrationQuery",
    "DeathDetails",
    "MarriageDetails",
    "RegistrationId",
    "RegistrationKind",
    "RegistryOffice",
    "registration_id",
]


class RegistrationKind(StrEnum):
    """The kind of a civil status registration."""

    BIRTH = "birth"
    MARRIAGE = "marriage"
    DEATH = "death"


#: The two-letter abbreviation of each kind used in registration ids (khai sinh, kết hôn, khai tử).
KIND_PREFIXES: Final[dict[RegistrationKind, str]] = {
    RegistrationKind.BIRTH: "KS",
    RegistrationKind.MARRIAGE: "KH",
    RegistrationKind.DEATH: "KT",
}

_ID_PATTERN = r"^(KS|KH|KT)-[0-9]{5}-[0-9]{4}-[0-9]{6}$"
_ID = re.compile(_ID_PATTERN)

RegistrationId = Annotated[
    str,
    StringConstraints(pattern=_ID_PATTERN),
    JsonSchemaExtra(
        description=(
            "Identifier of a registration: kind (KS birth, KH marriage, KT death), the five-digit code of the "
            "registering ward, the year of registration and the six-digit number in that year's book."
        ),
        examples=["KS-24781-1985-000123"],
    ),
]
"""``<KS|KH|KT>-<ward code>-<year>-<number>``: a registration's kind, registering ward, year and number."""

BookNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{2}/[0-9]{4}$"),
    JsonSchemaExtra(description="Register book (quyển số) as NN/YYYY.", examples=["01/2024"]),
]
"""A register book number ``NN/YYYY``: the book's number within the year, and the year."""


def registration_id(kind: RegistrationKind, ward_code: str, year: int, number: int) -> str:
    """The registration id of entry ``number`` of ``kind`` registered by ward ``ward_code`` in ``year``."""
    return f"{KIND_PREFIXES[kind]}-{ward_code}-{year:04d}-{number:06d}"


class RegistryOffice(AdminArea):
    """The registering authority: the people's committee of a current ward or commune, in its province.

    Unlike :class:`contracts.admin_units.AdminArea` the ward is required. Registrations made before the 2025
    reorganisation are given with the current unit that succeeded the registering one.
    """

    ward_code: WardCode = Field(
        description="Five-digit code of the registering ward or commune; it must lie in the province.",
        examples=["24781"],
    )


class BirthDetails(BaseModel):
    """What a birth registration records besides the child: the date and place of birth and the parents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date_of_birth: date = Field(description="Date of birth (complete).", examples=["1985-03-12"])
    place_of_birth: AdminArea = Field(
        description="Where the child was born, as current administrative units.",
        examples=[{"province_code": "68", "ward_code": "24781"}],
    )
    father_personal_id: PersonalId | None = Field(
        default=None, description="Personal identification number of the father, when known.", examples=[None]
    )
    mother_personal_id: PersonalId | None = Field(
        default=None,
        description="Personal identification number of the mother, when known.",
        examples=["068160000777"],
    )


class MarriageDetails(BaseModel):
    """The two spouses of a marriage registration, as the marriage certificate names them (chồng, vợ)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    husband: IdentifiedPerson = Field(description="The husband (chồng); male.")
    wife: IdentifiedPerson = Field(description="The wife (vợ); female.")


class DeathDetails(BaseModel):
    """What a death registration records besides the deceased: the date and place of death."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date_of_death: date = Field(description="Date of death.", examples=["2024-11-02"])
    place_of_death: AdminArea = Field(
        description="Where the person died, as current administrative units.",
        examples=[{"province_code": "68", "ward_code": "24823"}],
    )


_PERSON_EXAMPLE: dict[str, Any] = {
    "personal_id": "068185000123",
    "full_name": "Nguyễn Thị Mai",
    "date_of_birth": "1985-03-12",
    "gender": "female",
}

_EXAMPLE: dict[str, Any] = {
    "registration_id": "KS-24781-1985-000123",
    "kind": "birth",
    "registration_number": 123,
    "book_number": "01/1985",
    "registry_office": {
        "province_code": "68",
        "ward_code": "24781",
        "province_name": "Lâm Đồng",
        "ward_name": "Phường Xuân Hương - Đà Lạt",
    },
    "registration_date": "1985-04-02",
    "person": _PERSON_EXAMPLE,
    "birth": {
        "date_of_birth": "1985-03-12",
        "place_of_birth": {
            "province_code": "68",
            "ward_code": "24781",
            "province_name": "Lâm Đồng",
            "ward_name": "Phường Xuân Hương - Đà Lạt",
        },
        "father_personal_id": "068155000456",
        "mother_personal_id": "068160000777",
    },
    "marriage": None,
    "death": None,
}

_SECTIONS: Final[dict[RegistrationKind, str]] = {
    RegistrationKind.BIRTH: "birth",
    RegistrationKind.MARRIAGE: "marriage",
    RegistrationKind.DEATH: "death",
}


@register_contract
class CivilStatusRegistration(Contract):
    """A birth, marriage or death registration (contract ``civil_status.registration`` v1).

    Rules besides each field's type: exactly the section named by ``kind`` is present; births and deaths have a
    ``person`` and marriages none; ``registration_id`` agrees with ``kind``, the registering ward, the year of
    ``registration_date`` and ``registration_number``, and the book is of that year; the registration date is not
    in the future; a birth is registered on or after the birth, whose date is the person's (complete) date of
    birth, and neither parent is the child; a death is registered on or after it, and it is not before the
    person's birth; a marriage unites a man (``husband``) and a woman (``wife``), both born before the
    registration. Violations are reported at the field concerned, with messages naming every field involved.
    """

    contract_name: ClassVar[str] = "civil_status.registration"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "registration_id"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    registration_id: RegistrationId = Field(
        description="The registration's identifier; the record key.", examples=["KS-24781-1985-000123"]
    )
    kind: RegistrationKind = Field(description="Birth, marriage or death.", examples=["birth"])
    registration_number: int = Field(
        ge=1, le=999_999, description="Number of the entry (số) in the register book.", examples=[123]
    )
    book_number: BookNumber = Field(description="Register book (quyển số), NN/YYYY.", examples=["01/1985"])
    registry_office: RegistryOffice = Field(
        description="The ward or commune whose people's committee made the registration.",
        examples=[{"province_code": "68", "ward_code": "24781"}],
    )
    registration_date: date = Field(description="Date of registration; not in the future.", examples=["1985-04-02"])
    person: IdentifiedPerson | None = Field(
        default=None,
        description="The child (birth) or the deceased (death); absent from a marriage.",
        examples=[_PERSON_EXAMPLE],
    )
    birth: BirthDetails | None = Field(default=None, description="Present exactly when kind is birth.")
    marriage: MarriageDetails | None = Field(default=None, description="Present exactly when kind is marriage.")
    death: DeathDetails | None = Field(default=None, description="Present exactly when kind is death.")

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems = self._shape_problems() + self._id_problems()
        if self.registration_date > today:
            problems.append(
                FieldProblem(
                    ("registration_date",),
                    "date_in_future",
                    f"registration_date {self.registration_date} is in the future (today is {today})",
                    self.registration_date.isoformat(),
                )
            )
        if self.birth is not None and self.person is not None:
            problems += self._birth_problems(self.birth, self.person)
        if self.death is not None and self.person is not None:
            problems += self._death_problems(self.death, self.person)
        if self.marriage is not None:
            problems += self._marriage_problems(self.marriage)
        return problems

    def _shape_problems(self) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        expected = _SECTIONS[self.kind]
        for kind, section in _SECTIONS.items():
            present = getattr(self, section) is not None
            if present != (kind == self.kind):
                problems.append(
                    FieldProblem(
                        (section,),
                        "section_mismatch" if present else "section_missing",
                        f"kind is {self.kind} so the {expected} section must be present and no other; "
                        f"{section} is {'present' if present else 'missing'}",
                        None,
                    )
                )
        wants_person = self.kind is not RegistrationKind.MARRIAGE
        if (self.person is not None) != wants_person:
            problems.append(
                FieldProblem(
                    ("person",),
                    "person_mismatch",
                    f"kind is {self.kind}: a birth or death registration names its person, a marriage registration "
                    f"names its spouses in the marriage section instead; person is "
                    f"{'present' if self.person else 'missing'}",
                    None,
                )
            )
        return problems

    def _id_problems(self) -> list[FieldProblem]:
        expected = registration_id(
            self.kind, self.registry_office.ward_code, self.registration_date.year, self.registration_number
        )
        problems: list[FieldProblem] = []
        if self.registration_id != expected:
            problems.append(
                FieldProblem(
                    ("registration_id",),
                    "registration_id_mismatch",
                    f"registration_id {self.registration_id} does not agree with kind {self.kind}, "
                    f"registry_office.ward_code {self.registry_office.ward_code}, the year of registration_date "
                    f"{self.registration_date} and registration_number {self.registration_number} "
                    f"(expected {expected})",
                    self.registration_id,
                )
            )
        if not self.book_number.endswith(f"/{self.registration_date.year:04d}"):
            problems.append(
                FieldProblem(
                    ("book_number",),
                    "book_year_mismatch",
                    f"book_number {self.book_number} is not a book of {self.registration_date.year}, the year of "
                    f"registration_date {self.registration_date}",
                    self.book_number,
                )
            )
        return problems

    def _birth_problems(self, birth: BirthDetails, person: IdentifiedPerson) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        if not person.date_of_birth.is_complete or person.date_of_birth.to_date() != birth.date_of_birth:
            problems.append(
                FieldProblem(
                    ("birth", "date_of_birth"),
                    "birth_date_mismatch",
                    "birth.date_of_birth is not person.date_of_birth",
                    birth.date_of_birth.isoformat(),
                )
            )
        if self.registration_date < birth.date_of_birth:
            problems.append(
                FieldProblem(
                    ("registration_date",),
                    "registered_before_birth",
                    f"registration_date {self.registration_date} is before birth.date_of_birth",
                    self.registration_date.isoformat(),
                )
            )
        for parent in ("father_personal_id", "mother_personal_id"):
            if getattr(birth, parent) == person.personal_id:
                problems.append(
                    FieldProblem(
                        ("birth", parent),
                        "parent_is_child",
                        f"birth.{parent} is the child's own person.personal_id",
                        person.personal_id,
                    )
                )
        return problems

    def _death_problems(self, death: DeathDetails, person: IdentifiedPerson) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        if self.registration_date < death.date_of_death:
            problems.append(
                FieldProblem(
                    ("registration_date",),
                    "registered_before_death",
                    f"registration_date {self.registration_date} is before death.date_of_death {death.date_of_death}",
                    self.registration_date.isoformat(),
                )
            )
        if death.date_of_death < person.date_of_birth.earliest():
            problems.append(
                FieldProblem(
                    ("death", "date_of_death"),
                    "death_before_birth",
                    f"death.date_of_death {death.date_of_death} is before person.date_of_birth",
                    death.date_of_death.isoformat(),
                )
            )
        return problems

    def _marriage_problems(self, marriage: MarriageDetails) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        for role, gender in (("husband", Gender.MALE), ("wife", Gender.FEMALE)):
            spouse: IdentifiedPerson = getattr(marriage, role)
            if spouse.gender is not gender:
                problems.append(
                    FieldProblem(
                        ("marriage", role, "gender"),
                        "spouse_gender",
                        f"marriage.{role}.gender is {spouse.gender}; the {role} of a marriage is {gender}",
                        spouse.gender.value,
                    )
                )
            if spouse.date_of_birth.earliest() > self.registration_date:
                problems.append(
                    FieldProblem(
                        ("marriage", role, "date_of_birth"),
                        "married_before_birth",
                        f"marriage.{role}.date_of_birth is after registration_date {self.registration_date}",
                        str(spouse.date_of_birth),
                    )
                )
        return problems


class CivilStatusRegistrationQuery(ContractQuery):
    """Search criteria for :class:`CivilStatusRegistration` records.

    A query names a person: ``personal_id`` (the child of a birth or the deceased of a death registration),
    ``husband_personal_id`` or ``wife_personal_id`` (a spouse of a marriage registration); ``kind`` narrows any
    of them. A record matches when it satisfies every criterion given (see :meth:`matches`).
    """

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "personal_id": ("person.personal_id",),
        "husband_personal_id": ("marriage.husband.personal_id",),
        "wife_personal_id": ("marriage.wife.personal_id",),
    }

    personal_id: PersonalId | None = Field(
        default=None, description="The registered person of a birth or death.", examples=["068185000123"]
    )
    husband_personal_id: PersonalId | None = Field(
        default=None, description="The husband of a marriage.", examples=["068155000456"]
    )
    wife_personal_id: PersonalId | None = Field(
        default=None, description="The wife of a marriage.", examples=["068160000777"]
    )
    kind: RegistrationKind | None = Field(default=None, description="Only registrations of this kind.")

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.personal_id is None and self.husband_personal_id is None and self.wife_personal_id is None:
            raise ValueError(
                "a civil status query names a person: personal_id, husband_personal_id or wife_personal_id"
            )
        return self

    def matches(self, record: CivilStatusRegistration) -> bool:
        """Whether ``record`` satisfies every criterion of the query."""
        if self.kind is not None and record.kind is not self.kind:
            return False
        if self.personal_id is not None and (record.person is None or record.person.personal_id != self.personal_id):
            return False
        marriage = record.marriage
        if self.husband_personal_id is not None and (
            marriage is None or marriage.husband.personal_id != self.husband_personal_id
        ):
            return False
        return self.wife_personal_id is None or (
            marriage is not None and marriage.wife.personal_id == self.wife_personal_id
        )


CivilStatusRegistration.query_model = CivilStatusRegistrationQuery
