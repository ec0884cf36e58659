"""Contract ``health_insurance.card`` version 1: a health insurance card (thẻ bảo hiểm y tế) and its validity.

Since 1 April 2021 (Decision 1666/QĐ-BHXH, 2020) a card's code is its holder's 10-digit social insurance code.
Older cards have a 15-character code: the two-letter beneficiary group (``DN`` employees of enterprises, ``HT``
pensioners, ``TE`` children under six, ``HS`` pupils, ``GD`` households...), the benefit level digit (1-5), two
province digits, and the 10-digit social insurance code. Children under six have free cards valid until the day
they are 72 months old or, when that day comes before the school year starts, until 30 September of that year (Law on
Health Insurance as amended by Law 46/2014/QH13). ``status`` is the card's validity on the day it is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.admin_units import UnknownAdminUnit, province_name
from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import PartialDate, vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.names import FullName, normalize_name
from contracts.provinces import BIRTH_REGISTRATION_PROVINCES
from contracts.registry import register_contract
from contracts.social_insurance_code import SocialInsuranceCode

__all__ = ["CardStatus", "CareFacility", "HealthCardCode", "HealthInsuranceCard", "HealthInsuranceCardQuery"]

_NEW_CODE = re.compile(r"^[0-9]{10}$")
_OLD_CODE = re.compile(r"^([A-Z]{2})([1-5])([0-9]{2})([0-9]{10})$")


def _check_card_code(value: str) -> str:
    if not (_NEW_CODE.match(value) or _OLD_CODE.match(value)):
        raise ValueError(
            "a health insurance card code is the 10-digit social insurance code, or the older 15 characters "
            "(group letters, benefit level 1-5, two province digits, 10 digits: DN4680123456789)"
        )
    return value


HealthCardCode = Annotated[
    str,
    AfterValidator(_check_card_code),
    JsonSchemaExtra(
        pattern=r"^([0-9]{10}|[A-Z]{2}[1-5][0-9]{12})$",
        description=(
            "Health insurance card code: the 10-digit social insurance code (cards since 1 April 2021), or the "
            "older 15 characters: beneficiary group, benefit level, province digits, social insurance code."
        ),
        examples=["6823001457", "DN4686823001457"],
    ),
]
"""A health insurance card's code: 10 digits, or the older ``[A-Z]{2}[1-5][0-9]{12}`` form."""


#: The two-digit codes of the 63 provinces before 1 July 2025 (``"68"`` for ``"068"``), which facility codes
#: issued before the merger start with and keep.
_PRE_2025_PROVINCES = frozenset(code[1:] for code in BIRTH_REGISTRATION_PROVINCES)


def _check_province_prefix(value: str) -> str:
    if value[:2] in _PRE_2025_PROVINCES:
        return value
    try:
        province_name(value[:2])
    except (UnknownAdminUnit, ValueError):
        raise ValueError(
            "a facility code starts with the two-digit code of a current province or of a province before 1 July 2025"
        ) from None
    return value


class CardStatus(StrEnum):
    """The card's validity on the day it is read."""

    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class CareFacility(BaseModel):
    """The registered primary care facility (nơi đăng ký khám chữa bệnh ban đầu)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$"), AfterValidator(_check_province_prefix)] = Field(
        description=(
            "Five-digit facility code: the code of the province (current, or before 1 July 2025 for facilities "
            "registered before the merger) and three digits."
        ),
        examples=["68001", "60015"],
    )
    name: str | None = Field(
        default=None, max_length=300, description="The facility's name.", examples=["Bệnh viện Đa khoa tỉnh Lâm Đồng"]
    )


_EXAMPLE: dict[str, Any] = {
    "card_code": "6823001457",
    "social_insurance_code": "6823001457",
    "holder": {
        "personal_id": "068185000123",
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": "1985-03-12",
        "gender": "female",
    },
    "beneficiary_group": "DN",
    "benefit_level": 4,
    "valid_from": "2025-01-01",
    "valid_to": "2025-12-31",
    "primary_care_facility": {"code": "68001", "name": "Bệnh viện Đa khoa tỉnh Lâm Đồng"},
    "status": "expired",
    "last_updated": "2025-01-02T08:30:00+07:00",
}


def child_card_last_day(born: PartialDate) -> date:
    """The last day a child's free card (group ``TE``) may be valid for a child born on ``born``.

    The card is valid until the child is 72 months old (the sixth birthday; 1 March for 29 February in a common
    year); when that day comes before the school year, it stays valid until 30 September of that year (Law on Health
    Insurance as amended by Law 46/2014/QH13). For a date of birth known only in part, the latest day
    it may denote is used, so that no real card is refused.
    """
    latest = born.latest()
    try:
        sixth = latest.replace(year=latest.year + 6)
    except ValueError:  # 29 February
        sixth = date(latest.year + 6, 3, 1)
    return max(sixth, date(sixth.year, 9, 30))


def status_on(valid_from: date, valid_to: date, today: date) -> CardStatus:
    """The status of a card valid from ``valid_from`` to ``valid_to`` (inclusive) on ``today``."""
    if today < valid_from:
        return CardStatus.NOT_YET_VALID
    return CardStatus.EXPIRED if today > valid_to else CardStatus.VALID


@register_contract
class HealthInsuranceCard(Contract):
    """A health insurance card (contract ``health_insurance.card`` v1).

    Besides each field's own checks: ``valid_to`` is not before ``valid_from``; ``status`` is the validity on the
    day the record is validated; a 10-digit card code is the social insurance code, and a 15-character one ends
    with it and starts with ``beneficiary_group`` and ``benefit_level``; a child's free card (group ``TE``) ends
    no later than the sixth birthday (72 months), or 30 September of that year when the birthday comes earlier.
    """

    contract_name: ClassVar[str] = "health_insurance.card"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "card_code"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    card_code: HealthCardCode = Field(description="The card's code; the record key.", examples=["6823001457"])
    social_insurance_code: SocialInsuranceCode = Field(
        description="The holder's 10-digit social insurance code.", examples=["6823001457"]
    )
    holder: IdentifiedPerson = Field(description="The insured person.")
    beneficiary_group: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="Vietnam Social Security's two-letter beneficiary group (DN, HC, HT, TE, HS, GD...).",
        examples=["DN"],
    )
    benefit_level: int = Field(
        ge=1, le=5, description="Benefit level (mức hưởng) 1-5: the share of costs covered.", examples=[4]
    )
    valid_from: date = Field(description="First day of validity.", examples=["2025-01-01"])
    valid_to: date = Field(description="Last day of validity.", examples=["2025-12-31"])
    primary_care_facility: CareFacility = Field(description="The registered primary care facility.")
    status: CardStatus = Field(description="Validity on the day the record is read.", examples=["valid"])
    last_updated: AwareDatetime = Field(
        description="When the record last changed (with time zone offset).", examples=["2025-01-02T08:30:00+07:00"]
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        if self.valid_to < self.valid_from:
            problems.append(
                FieldProblem(
                    ("valid_to",),
                    "validity_ends_before_start",
                    f"valid_to {self.valid_to} is before valid_from {self.valid_from}",
                    self.valid_to.isoformat(),
                )
            )
        elif (expected := status_on(self.valid_from, self.valid_to, today)) != self.status:
            problems.append(
                FieldProblem(
                    ("status",),
                    "status_disagrees_with_validity",
                    f"status is {self.status} but a card valid from {self.valid_from} to {self.valid_to} is "
                    f"{expected} today ({today})",
                    self.status.value,
                )
            )
        code, insurance = self.card_code, self.social_insurance_code
        if (old := _OLD_CODE.match(code)) is not None:
            group, level, _, number = old.groups()
            if number != insurance:
                problems.append(
                    FieldProblem(
                        ("card_code",),
                        "card_code_mismatch",
                        "card_code does not end with social_insurance_code",
                        code,
                    )
                )
            if group != self.beneficiary_group or int(level) != self.benefit_level:
                problems.append(
                    FieldProblem(
                        ("card_code",),
                        "card_code_mismatch",
                        f"card_code starts with group {group} and level {level}, but beneficiary_group is "
                        f"{self.beneficiary_group} and benefit_level {self.benefit_level}",
                        code,
                    )
                )
        elif code != insurance:
            problems.append(
                FieldProblem(
                    ("card_code",),
                    "card_code_mismatch",
                    "a 10-digit card_code is the social insurance code, but it differs from social_insurance_code",
                    code,
                )
            )
        if self.beneficiary_group == "TE" and self.valid_to > child_card_last_day(self.holder.date_of_birth):
            problems.append(
                FieldProblem(
                    ("valid_to",),
                    "child_card_after_six",
                    f"a child's free card (TE) is valid until the holder is 72 months old, or 30 September of "
                    f"that year when the sixth birthday comes earlier, but valid_to is {self.valid_to}, after "
                    f"that day for the holder's date_of_birth",
                    self.valid_to.isoformat(),
                )
            )
        return problems


class HealthInsuranceCardQuery(ContractQuery):
    """Search criteria for :class:`HealthInsuranceCard` records.

    ``social_insurance_code``, or ``personal_id``, or ``full_name`` together with ``date_of_birth`` (which may be a
    year or a month); criteria given together must all match. Names match ignoring case and spacing, not
    diacritics.
    """

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "personal_id": ("holder.personal_id",),
        "full_name": ("holder.full_name",),
        "date_of_birth": ("holder.date_of_birth",),
    }

    social_insurance_code: SocialInsuranceCode | None = Field(
        default=None, description="The holder's social insurance code.", examples=["6823001457"]
    )
    personal_id: PersonalId | None = Field(
        default=None, description="The holder's personal identification number.", examples=["068185000123"]
    )
    full_name: FullName | None = Field(default=None, description="The holder's full name.", examples=["Nguyễn Thị Mai"])
    date_of_birth: PartialDate | None = Field(
        default=None, description="The holder's date of birth, or its year or month.", examples=["1985"]
    )

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        by_name = self.full_name is not None and self.date_of_birth is not None
        if self.social_insurance_code is None and self.personal_id is None and not by_name:
            raise ValueError(
                "a card query needs social_insurance_code, personal_id, or full_name together with date_of_birth"
            )
        return self

    def matches(self, record: HealthInsuranceCard) -> bool:
        """Whether ``record`` satisfies every criterion of the query."""
        holder = record.holder
        if self.social_insurance_code is not None and self.social_insurance_code != record.social_insurance_code:
            return False
        if self.personal_id is not None and self.personal_id != holder.personal_id:
            return False
        if self.full_name is not None and normalize_name(self.full_name) != normalize_name(holder.full_name):
            return False
        return self.date_of_birth is None or self.date_of_birth.includes(holder.date_of_birth)


HealthInsuranceCard.query_model = HealthInsuranceCardQuery
