"""Contract ``tax.taxpayer`` version 1: a taxpayer's registration status at the tax authority.

Enterprises and organisations are taxpayers under their 10-digit tax code (for an enterprise, its enterprise code,
as in the business registry). Since 1 July 2025 an individual's tax code is their 12-digit personal identification
number (Law on Tax Administration as amended; Circular 86/2024/TT-BTC); individuals registered before keep their
10-digit code in the tax authority's records until it is replaced, and those without a personal identification
number (foreigners) keep it for good. Each taxpayer is managed by one tax office and has a status in the tax
authority's code list.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import parse_personal_id
from contracts.names import normalize_name
from contracts.registry import register_contract
from contracts.tax_code import is_tax_code

__all__ = ["TaxOffice", "Taxpayer", "TaxpayerCode", "TaxpayerQuery", "TaxpayerStatus", "TaxpayerType"]


def _check_taxpayer_code(value: str) -> str:
    if len(value) == 12 and value.isascii() and value.isdigit():
        parse_personal_id(value)
        return value
    if not is_tax_code(value):
        raise ValueError(
            "a taxpayer's code is a 10-digit tax code with a valid check digit, or an individual's 12-digit "
            "personal identification number"
        )
    return value


TaxpayerCode = Annotated[
    str,
    AfterValidator(_check_taxpayer_code),
    JsonSchemaExtra(
        pattern=r"^([0-9]{10}|[0-9]{12})$",
        description=(
            "Tax code: 10 digits with a check digit for an enterprise or organisation, or the 12-digit personal "
            "identification number of an individual."
        ),
        examples=["5800123458", "068185000123"],
    ),
]
"""A taxpayer's code: a 10-digit tax code, or an individual's 12-digit personal identification number."""


class TaxpayerType(StrEnum):
    """Whether the taxpayer is an organisation (an enterprise...) or an individual."""

    ORGANISATION = "organisation"
    INDIVIDUAL = "individual"


class TaxpayerStatus(StrEnum):
    """The taxpayer's status at the tax authority."""

    ACTIVE = "active"
    """Operating, its tax code in use."""
    SUSPENDED = "suspended"
    """Business temporarily suspended."""
    CLOSED = "closed"
    """Stopped operating; the tax code is (being) terminated."""
    NOT_AT_REGISTERED_ADDRESS = "not_at_registered_address"
    """The tax authority found it does not operate at its registered address."""


class TaxOffice(BaseModel):
    """The tax office that manages the taxpayer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")] = Field(
        description="The tax authority's five-digit code of the office.", examples=["68101"]
    )
    name: str = Field(min_length=1, max_length=200, description="Its name.", examples=["Thuế cơ sở 1 tỉnh Lâm Đồng"])


_EXAMPLE: dict[str, Any] = {
    "tax_code": "5800123458",
    "taxpayer_type": "organisation",
    "name": "Công ty TNHH Du lịch Lâm Viên",
    "status": "active",
    "managing_tax_office": {"code": "68101", "name": "Thuế cơ sở 1 tỉnh Lâm Đồng"},
    "registration_date": "2012-05-14",
    "individual": None,
    "last_updated": "2025-10-01T08:30:00+07:00",
}


@register_contract
class Taxpayer(Contract):
    """A taxpayer registered with the tax authority (contract ``tax.taxpayer`` v1).

    Besides each field's own checks: an organisation has a 10-digit code and no ``individual``; a 12-digit code is
    an individual's, the personal id of ``individual``; an individual may also have a 10-digit code (given before
    1 July 2025, or to a foreigner), with or without ``individual``; the name of ``individual``, when given, is
    ``name``; the registration date is not in the future.
    """

    contract_name: ClassVar[str] = "tax.taxpayer"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "tax_code"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    tax_code: TaxpayerCode = Field(description="The tax code; the record key.", examples=["5800123458"])
    taxpayer_type: TaxpayerType = Field(description="Organisation or individual.", examples=["organisation"])
    name: str = Field(min_length=1, max_length=300, description="Registered name.", examples=[_EXAMPLE["name"]])
    status: TaxpayerStatus = Field(description="Status at the tax authority.", examples=["active"])
    managing_tax_office: TaxOffice = Field(description="The managing tax office.")
    registration_date: date = Field(description="When the taxpayer was registered.", examples=["2012-05-14"])
    individual: IdentifiedPerson | None = Field(
        default=None, description="For an individual taxpayer: the person; null for an organisation."
    )
    last_updated: AwareDatetime = Field(
        description="When the record last changed (with time zone offset).", examples=["2025-10-01T08:30:00+07:00"]
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        personal_code = len(self.tax_code) == 12
        is_individual = self.taxpayer_type is TaxpayerType.INDIVIDUAL
        if personal_code and not is_individual:
            problems.append(
                FieldProblem(
                    ("taxpayer_type",),
                    "type_disagrees_with_code",
                    f"taxpayer_type is {self.taxpayer_type} but a 12-digit tax_code is an individual's",
                    self.taxpayer_type.value,
                )
            )
        person = self.individual
        if personal_code and person is None:
            problems.append(
                FieldProblem(("individual",), "individual_missing", "an individual taxpayer needs the individual", None)
            )
        if person is not None:
            if not is_individual:
                problems.append(
                    FieldProblem(
                        ("individual",),
                        "individual_of_organisation",
                        "taxpayer_type is organisation, which has no individual",
                        person.personal_id,
                    )
                )
            elif personal_code and person.personal_id != self.tax_code:
                problems.append(
                    FieldProblem(
                        ("individual", "personal_id"),
                        "personal_id_not_tax_code",
                        "a 12-digit tax_code is the individual's personal id, but individual.personal_id differs",
                        person.personal_id,
                    )
                )
            if normalize_name(person.full_name) != normalize_name(self.name):
                problems.append(
                    FieldProblem(
                        ("name",),
                        "name_disagrees_with_individual",
                        "name is not the individual's full_name (compared ignoring case and spacing)",
                        self.name,
                    )
                )
        if self.registration_date > today:
            problems.append(
                FieldProblem(
                    ("registration_date",),
                    "date_in_future",
                    f"registration_date {self.registration_date} is in the future (today is {today})",
                    self.registration_date.isoformat(),
                )
            )
        return problems


class TaxpayerQuery(ContractQuery):
    """Search criteria for :class:`Taxpayer` records: part of the ``name`` (two characters at least, ignoring case
    and spacing, not diacritics), optionally only organisations or only individuals (``taxpayer_type``)."""

    name: str = Field(min_length=2, max_length=200, description="Part of the taxpayer's name.", examples=["Lâm Viên"])
    taxpayer_type: TaxpayerType | None = Field(
        default=None, description="Only organisations, or only individuals.", examples=["organisation"]
    )

    def matches(self, record: Taxpayer) -> bool:
        """Whether ``record`` satisfies every criterion of the query."""
        if self.taxpayer_type is not None and record.taxpayer_type != self.taxpayer_type:
            return False
        return normalize_name(self.name) in normalize_name(record.name)


Taxpayer.query_model = TaxpayerQuery
