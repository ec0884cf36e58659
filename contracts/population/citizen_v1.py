"""Contract ``population.citizen`` version 1: a citizen as recorded in the national population database.

Administrative units are the current ones (34 provinces since 1 July 2025, wards below them); the first
three digits of the personal identification number keep the pre-2025 province code of the place where
the birth was registered, and the contract checks that it maps onto ``place_of_birth_registration``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, model_validator

from contracts.admin_units import Address, AdminArea
from contracts.base import Contract, ContractQuery
from contracts.common import CountryCode, FieldProblem, Gender, JsonSchemaExtra, raise_field_problems
from contracts.dates import PartialDate, vietnam_today
from contracts.ethnicity import EthnicGroupCode
from contracts.identity import IdCardNumber, PersonalId, parse_personal_id
from contracts.names import FullName, normalize_name
from contracts.provinces import BIRTH_REGISTRATION_PROVINCES
from contracts.registry import register_contract

__all__ = ["Citizen", "CitizenQuery", "HouseholdId", "MaritalStatus", "RelationToHead"]


class RelationToHead(StrEnum):
    """A person's relation to the head of the household (chủ hộ) they are registered in."""

    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    OTHER = "other"


class MaritalStatus(StrEnum):
    """Marital status as recorded in the population database."""

    SINGLE = "single"
    MARRIED = "married"
    DIVORCED = "divorced"
    WIDOWED = "widowed"


HouseholdId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9A-Za-z-]{1,20}$"),
    JsonSchemaExtra(
        description="Household (hộ gia đình) identifier in the residence database: 1-20 of A-Z a-z 0-9 -.",
        examples=["HK-068-000123"],
    ),
]
"""The identifier of a household in the residence database (1-20 ASCII letters, digits or hyphens)."""

_EXAMPLE: dict[str, Any] = {
    "personal_id": "068185000123",
    "old_id_number": "250123456",
    "full_name": "Nguyễn Thị Mai",
    "gender": "female",
    "date_of_birth": "1985-03-12",
    "ethnicity": "01",
    "nationality": "VN",
    "place_of_birth_registration": {
        "province_code": "68",
        "ward_code": "24823",
        "province_name": "Lâm Đồng",
        "ward_name": "Phường 1 Bảo Lộc",
    },
    "hometown": {
        "province_code": "40",
        "ward_code": "16681",
        "province_name": "Nghệ An",
        "ward_name": "Phường Thành Vinh",
    },
    "permanent_address": {
        "province_code": "68",
        "ward_code": "24781",
        "province_name": "Lâm Đồng",
        "ward_name": "Phường Xuân Hương - Đà Lạt",
        "line": "12 Trần Phú, tổ dân phố 3",
    },
    "current_address": {
        "province_code": "68",
        "ward_code": "24820",
        "province_name": "Lâm Đồng",
        "ward_name": "Phường 2 Bảo Lộc",
        "line": "45 Lê Hồng Phong",
    },
    "household_id": "HK-068-000123",
    "relation_to_head": "spouse",
    "marital_status": "married",
    "date_of_death": None,
    "last_updated": "2025-10-01T08:30:00+07:00",
}


@register_contract
class Citizen(Contract):
    """A citizen's record in the national population database (contract ``population.citizen`` v1).

    Besides the checks of each field's type, a record must be consistent with its personal
    identification number: the century/gender digit agrees with ``gender``, century and year digits with
    the year of ``date_of_birth``, and the province code (pre-2025) maps onto the current province of
    ``place_of_birth_registration``. Dates of birth and death may not lie in the future, death may not
    precede birth, and ``relation_to_head`` needs a ``household_id``. Violations are reported at the field
    concerned, with messages naming every field involved.
    """

    contract_name: ClassVar[str] = "population.citizen"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "personal_id"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    personal_id: PersonalId = Field(
        description="12-digit personal identification number (số định danh cá nhân); the record key.",
        examples=["068185000123"],
    )
    old_id_number: IdCardNumber | None = Field(
        default=None,
        description="Number of the old 9-digit identity card (CMND), if the person had one.",
        examples=["250123456"],
    )
    full_name: FullName = Field(description="Full name as registered.", examples=["Nguyễn Thị Mai"])
    gender: Gender = Field(description="Gender; must agree with digit 4 of personal_id.", examples=["female"])
    date_of_birth: PartialDate = Field(
        description="Date of birth, possibly only the year or year and month; not in the future.",
        examples=["1985-03-12", "1960"],
    )
    ethnicity: EthnicGroupCode = Field(description="Ethnic group code (01 = Kinh).", examples=["01"])
    nationality: CountryCode = Field(
        default="VN", description="Nationality as ISO 3166-1 alpha-2 code.", examples=["VN"]
    )
    place_of_birth_registration: AdminArea = Field(
        description=(
            "Current administrative unit of the place where the birth was registered (nơi đăng ký khai "
            "sinh); its province must be the current province of the first three digits of personal_id."
        ),
        examples=[{"province_code": "68", "ward_code": "24823"}],
    )
    hometown: AdminArea | None = Field(
        default=None,
        description="Place of origin (quê quán), as a current administrative unit.",
        examples=[{"province_code": "40", "ward_code": "16681"}],
    )
    permanent_address: Address = Field(
        description="Place of permanent residence (nơi thường trú).",
        examples=[{"province_code": "68", "ward_code": "24781", "line": "12 Trần Phú, tổ dân phố 3"}],
    )
    current_address: Address | None = Field(
        default=None,
        description="Current place of residence (nơi ở hiện tại) when it differs from the permanent one.",
        examples=[{"province_code": "68", "ward_code": "24820", "line": "45 Lê Hồng Phong"}],
    )
    household_id: HouseholdId | None = Field(
        default=None,
        description="Identifier of the household the person is registered in.",
        examples=["HK-068-000123"],
    )
    relation_to_head: RelationToHead | None = Field(
        default=None,
        description="Relation to the head of the household; only together with household_id.",
        examples=["spouse"],
    )
    marital_status: MaritalStatus | None = Field(
        default=None, description="Marital status, if recorded.", examples=["married"]
    )
    date_of_death: date | None = Field(
        default=None,
        description="Date of death, if the person has died; not in the future, not before date_of_birth.",
        examples=[None, "2024-11-02"],
    )
    last_updated: AwareDatetime = Field(
        description="When the source database last changed the record (with time zone offset).",
        examples=["2025-10-01T08:30:00+07:00"],
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        pid = self.personal_id
        parts = parse_personal_id(pid)
        if parts.gender != self.gender:
            problems.append(
                FieldProblem(
                    ("gender",),
                    "gender_mismatch",
                    f"gender is {self.gender} but the century/gender digit {pid[3]} of personal_id means "
                    f"{parts.gender}",
                    self.gender.value,
                )
            )
        if parts.birth_year != self.date_of_birth.year:
            problems.append(
                FieldProblem(
                    ("date_of_birth",),
                    "birth_year_mismatch",
                    f"the year of date_of_birth is not the year of birth personal_id means (century digit "
                    f"{pid[3]}, year digits {pid[4:6]}: {parts.birth_year})",
                    str(self.date_of_birth),
                )
            )
        origin = BIRTH_REGISTRATION_PROVINCES[parts.province_code]
        registered = self.place_of_birth_registration.province_code
        if origin.current_province_code != registered:
            problems.append(
                FieldProblem(
                    ("place_of_birth_registration", "province_code"),
                    "birth_registration_province_mismatch",
                    f"personal_id starts with {origin.code} ({origin.name}, now province "
                    f"{origin.current_province_code}), but place_of_birth_registration.province_code is "
                    f"{registered}",
                    registered,
                )
            )
        if self.date_of_birth.earliest() > today:
            problems.append(
                FieldProblem(
                    ("date_of_birth",),
                    "date_in_future",
                    f"date_of_birth is in the future (today is {today})",
                    str(self.date_of_birth),
                )
            )
        if self.date_of_death is not None:
            if self.date_of_death > today:
                problems.append(
                    FieldProblem(
                        ("date_of_death",),
                        "date_in_future",
                        f"date_of_death {self.date_of_death} is in the future (today is {today})",
                        self.date_of_death.isoformat(),
                    )
                )
            if self.date_of_death < self.date_of_birth.earliest():
                problems.append(
                    FieldProblem(
                        ("date_of_death",),
                        "death_before_birth",
                        "date_of_death is before date_of_birth",
                        self.date_of_death.isoformat(),
                    )
                )
        if self.relation_to_head is not None and self.household_id is None:
            problems.append(
                FieldProblem(
                    ("relation_to_head",),
                    "relation_without_household",
                    f"relation_to_head is {self.relation_to_head} but household_id is missing; a relation "
                    f"to the head of a household needs the household",
                    self.relation_to_head.value,
                )
            )
        return problems


class CitizenQuery(ContractQuery):
    """Search criteria for :class:`Citizen` records.

    A query gives ``full_name`` together with ``date_of_birth``, or ``old_id_number``, or all three; a
    lookup by personal identification number is a fetch by record key, not a query. A record matches
    when it satisfies every criterion given (see :meth:`matches`):

    * ``full_name``: equal after :func:`contracts.names.normalize_name`, i.e. ignoring letter case,
      Unicode composition, apostrophe style and spacing, but not diacritics (``Hoa`` is not ``Hòa``);
    * ``date_of_birth``: a full date matches exactly that date; a year-only (``"1960"``) or month-year
      (``"1960-03"``) value matches every record whose date of birth lies within that year or month,
      whatever the record's own precision. A record whose date of birth is less precise than the query
      does not match (a record born "1960" does not match a query for "1960-03-12");
    * ``old_id_number``: equal.
    """

    full_name: FullName | None = Field(
        default=None, description="Full name; matched ignoring case and spacing.", examples=["Nguyễn Thị Mai"]
    )
    date_of_birth: PartialDate | None = Field(
        default=None,
        description="Date of birth; a year or month-year matches every record born within it.",
        examples=["1985-03-12", "1985"],
    )
    old_id_number: IdCardNumber | None = Field(
        default=None, description="Number of the old 9-digit identity card (CMND).", examples=["250123456"]
    )

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        has_name_and_birth = self.full_name is not None and self.date_of_birth is not None
        if not has_name_and_birth and self.old_id_number is None:
            given = [name for name in ("full_name", "date_of_birth") if getattr(self, name) is not None]
            raise ValueError(
                "a citizen query needs full_name together with date_of_birth, or old_id_number; "
                f"got {' and '.join(given) or 'no criteria'}"
            )
        return self

    def matches(self, citizen: Citizen) -> bool:
        """Whether ``citizen`` satisfies every criterion of the query (the semantics above)."""
        if self.full_name is not None and normalize_name(self.full_name) != normalize_name(citizen.full_name):
            return False
        if self.date_of_birth is not None and not self.date_of_birth.includes(citizen.date_of_birth):
            return False
        return self.old_id_number is None or self.old_id_number == citizen.old_id_number


Citizen.query_model = CitizenQuery
