"""Contract ``social_insurance.participant`` version 1: a participant in social insurance and their contributions.

Vietnam Social Security (Bảo hiểm xã hội Việt Nam) keeps, under the participant's lifelong social insurance code
(the number of their social insurance book), every period in which they contributed: the months, the employer
(by its tax code) or none for voluntary insurance, the salary on which contributions were paid, and the schemes
contributed to. The record says whether the person contributes now and records their death, after which nothing
is contributed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import PartialDate, vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.names import FullName, normalize_name
from contracts.registry import register_contract
from contracts.social_insurance_code import SocialInsuranceCode
from contracts.tax_code import TaxCode

__all__ = [
    "ContributionPeriod",
    "Month",
    "Participant",
    "ParticipantQuery",
    "ParticipantStatus",
    "ParticipationType",
]

_ISO_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_VN_MONTH = re.compile(r"^(0?[1-9]|1[0-2])/([0-9]{4})$")


def _month(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if match := _VN_MONTH.match(text):
        return f"{match.group(2)}-{int(match.group(1)):02d}"
    if not _ISO_MONTH.match(text):
        raise ValueError("not a month: use YYYY-MM or MM/YYYY")
    return text


Month = Annotated[
    str,
    BeforeValidator(_month),
    JsonSchemaExtra(
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="A calendar month, YYYY-MM (MM/YYYY is accepted on input).",
        examples=["2015-03"],
    ),
]
"""A calendar month ``YYYY-MM``; the Vietnamese ``MM/YYYY`` is accepted on input and rewritten."""


def _month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class ParticipationType(StrEnum):
    """Vietnam Social Security's codes of the insurance schemes a contribution period covers."""

    COMPULSORY_SOCIAL = "BHXH_BB"
    """Compulsory social insurance (bảo hiểm xã hội bắt buộc), paid with an employer."""
    VOLUNTARY_SOCIAL = "BHXH_TN"
    """Voluntary social insurance (bảo hiểm xã hội tự nguyện), paid by the person alone."""
    HEALTH = "BHYT"
    """Health insurance (bảo hiểm y tế)."""
    UNEMPLOYMENT = "BHTN"
    """Unemployment insurance (bảo hiểm thất nghiệp), since 2009."""
    OCCUPATIONAL = "BHTNLD_BNN"
    """Occupational accident and disease insurance (bảo hiểm tai nạn lao động, bệnh nghề nghiệp)."""


class ParticipantStatus(StrEnum):
    """Where the participant stands today."""

    CONTRIBUTING = "contributing"
    """A contribution period is open."""
    PAUSED = "paused"
    """No period is open; the periods contributed are kept (bảo lưu) for a later return."""
    RETIRED = "retired"
    """Receiving a retirement pension; no period is open."""
    DECEASED = "deceased"
    """Dead; no period is open or ends after the month of death."""


class ContributionPeriod(BaseModel):
    """Consecutive months contributed on one salary base, with one employer or none (voluntary insurance).

    ``to_month`` is null while the period is open. Compulsory social insurance needs the employer's tax code;
    voluntary social insurance has no employer and no other scheme beside it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_month: Month = Field(description="First month contributed (YYYY-MM).", examples=["2015-03"])
    to_month: Month | None = Field(
        default=None, description="Last month contributed; null while the period is open.", examples=["2019-12"]
    )
    employer_tax_code: TaxCode | None = Field(
        default=None,
        description="Tax code (enterprise code) of the employer; null for voluntary insurance.",
        examples=["5800123458"],
    )
    employer_name: str | None = Field(
        default=None, max_length=300, description="The employer's name as registered.", examples=["Công ty TNHH A"]
    )
    salary_base: int = Field(
        gt=0,
        le=10_000_000_000,
        description="Monthly salary (or declared income) on which contributions were paid, in VND.",
        examples=[6_500_000],
    )
    participation_types: list[ParticipationType] = Field(
        min_length=1,
        max_length=5,
        description="The schemes contributed to, without repetition.",
        examples=[["BHXH_BB"]],
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems: list[FieldProblem] = []
        if self.to_month is not None and self.to_month < self.from_month:
            problems.append(
                FieldProblem(
                    ("to_month",),
                    "period_ends_before_start",
                    f"to_month {self.to_month} is before from_month {self.from_month}",
                    self.to_month,
                )
            )
        types = self.participation_types
        if len(set(types)) != len(types):
            problems.append(
                FieldProblem(("participation_types",), "repeated_type", "a scheme is listed twice", list(types))
            )
        voluntary = ParticipationType.VOLUNTARY_SOCIAL in types
        if voluntary and (len(types) > 1 or self.employer_tax_code is not None):
            problems.append(
                FieldProblem(
                    ("participation_types",),
                    "voluntary_with_employer",
                    "voluntary social insurance (BHXH_TN) is paid alone: no employer_tax_code and no other scheme",
                    list(types),
                )
            )
        if not voluntary and self.employer_tax_code is None:
            problems.append(
                FieldProblem(
                    ("employer_tax_code",),
                    "employer_missing",
                    f"a period of {', '.join(types)} is paid through an employer, but employer_tax_code is missing",
                    None,
                )
            )
        raise_field_problems(type(self).__name__, problems)
        return self


_EXAMPLE: dict[str, Any] = {
    "social_insurance_code": "6823001457",
    "participant": {
        "personal_id": "068185000123",
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": "1985-03-12",
        "gender": "female",
    },
    "status": "contributing",
    "contribution_periods": [
        {
            "from_month": "2008-07",
            "to_month": "2014-12",
            "employer_tax_code": "5800123458",
            "employer_name": "Công ty TNHH Du lịch Lâm Viên",
            "salary_base": 3_200_000,
            "participation_types": ["BHXH_BB", "BHYT", "BHTN"],
        },
        {
            "from_month": "2015-03",
            "to_month": None,
            "employer_tax_code": "0100233488",
            "employer_name": "Công ty Cổ phần Cà phê Langbiang",
            "salary_base": 9_800_000,
            "participation_types": ["BHXH_BB", "BHYT", "BHTN", "BHTNLD_BNN"],
        },
    ],
    "date_of_death": None,
    "last_updated": "2025-10-01T08:30:00+07:00",
}


@register_contract
class Participant(Contract):
    """A participant's record in Vietnam Social Security's database (contract ``social_insurance.participant`` v1).

    Besides each field's own checks: the periods are in order and do not overlap, only the last may be open, and
    none starts in the future or before the participant's fifteenth birthday year; ``status`` is ``contributing``
    exactly when a period is open and ``deceased`` exactly when ``date_of_death`` is set, and no period ends after
    the month of death. The participant is an :class:`~contracts.identified_person.IdentifiedPerson`.
    """

    contract_name: ClassVar[str] = "social_insurance.participant"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "social_insurance_code"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    social_insurance_code: SocialInsuranceCode = Field(
        description="10-digit social insurance code (mã số BHXH), the social insurance book number; the key.",
        examples=["6823001457"],
    )
    participant: IdentifiedPerson = Field(description="The insured person.")
    status: ParticipantStatus = Field(description="Where the participant stands today.", examples=["contributing"])
    contribution_periods: list[ContributionPeriod] = Field(
        default_factory=list, max_length=200, description="Every period contributed, oldest first."
    )
    date_of_death: date | None = Field(
        default=None, description="Date of death, as reported to Vietnam Social Security.", examples=[None]
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
        periods = self.contribution_periods
        earliest = f"{self.participant.date_of_birth.year + 15:04d}-01"
        for index, period in enumerate(periods):
            where = ("contribution_periods", index)
            if period.from_month > _month_of(today):
                problems.append(
                    FieldProblem(
                        (*where, "from_month"),
                        "date_in_future",
                        f"from_month {period.from_month} is in the future (today is {today})",
                        period.from_month,
                    )
                )
            if period.from_month < earliest:
                problems.append(
                    FieldProblem(
                        (*where, "from_month"),
                        "period_before_working_age",
                        f"from_month {period.from_month} is before the year of the participant's fifteenth "
                        f"birthday (by participant.date_of_birth)",
                        period.from_month,
                    )
                )
            if index + 1 < len(periods):
                following = periods[index + 1]
                if period.to_month is None:
                    problems.append(
                        FieldProblem(
                            (*where, "to_month"),
                            "open_period_not_last",
                            f"period {index} is open (no to_month) but period {index + 1} follows it",
                            None,
                        )
                    )
                elif following.from_month <= period.to_month:
                    problems.append(
                        FieldProblem(
                            ("contribution_periods", index + 1, "from_month"),
                            "periods_overlap",
                            f"period {index + 1} starts in {following.from_month}, not after period {index} ends "
                            f"in {period.to_month}",
                            following.from_month,
                        )
                    )
        open_period = bool(periods) and periods[-1].to_month is None
        if open_period != (self.status == ParticipantStatus.CONTRIBUTING):
            problems.append(
                FieldProblem(
                    ("status",),
                    "status_disagrees_with_periods",
                    f"status is {self.status} but "
                    + ("the last period is open" if open_period else "no contribution period is open"),
                    self.status.value,
                )
            )
        if (self.date_of_death is not None) != (self.status == ParticipantStatus.DECEASED):
            problems.append(
                FieldProblem(
                    ("status",),
                    "status_disagrees_with_death",
                    f"status is {self.status} but date_of_death is {self.date_of_death}",
                    self.status.value,
                )
            )
        if self.date_of_death is not None:
            death_month = _month_of(self.date_of_death)
            if self.date_of_death > today:
                problems.append(
                    FieldProblem(
                        ("date_of_death",),
                        "date_in_future",
                        f"date_of_death {self.date_of_death} is in the future (today is {today})",
                        self.date_of_death.isoformat(),
                    )
                )
            for index, period in enumerate(periods):
                if (period.to_month or _month_of(today)) > death_month:
                    problems.append(
                        FieldProblem(
                            ("contribution_periods", index, "to_month"),
                            "contribution_after_death",
                            f"period {index} runs to {period.to_month or 'now'}, after the death on "
                            f"{self.date_of_death}",
                            period.to_month,
                        )
                    )
        return problems


class ParticipantQuery(ContractQuery):
    """Search criteria for :class:`Participant` records.

    Either ``personal_id`` (the participant's personal identification number), or ``full_name`` together with
    ``date_of_birth``, or all three. ``full_name`` matches ignoring case and spacing (not diacritics);
    ``date_of_birth`` given as a year or month matches every date of birth within it.
    """

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "personal_id": ("participant.personal_id",),
        "full_name": ("participant.full_name",),
        "date_of_birth": ("participant.date_of_birth",),
    }

    personal_id: PersonalId | None = Field(
        default=None,
        description="The participant's 12-digit personal identification number.",
        examples=["068185000123"],
    )
    full_name: FullName | None = Field(
        default=None, description="Full name; matched ignoring case and spacing.", examples=["Nguyễn Thị Mai"]
    )
    date_of_birth: PartialDate | None = Field(
        default=None,
        description="Date of birth; a year or month-year matches every date of birth within it.",
        examples=["1985-03-12", "1985"],
    )

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.personal_id is None and (self.full_name is None or self.date_of_birth is None):
            raise ValueError("a participant query needs personal_id, or full_name together with date_of_birth")
        return self

    def matches(self, record: Participant) -> bool:
        """Whether ``record`` satisfies every criterion of the query."""
        person = record.participant
        if self.personal_id is not None and self.personal_id != person.personal_id:
            return False
        if self.full_name is not None and normalize_name(self.full_name) != normalize_name(person.full_name):
            return False
        return self.date_of_birth is None or self.date_of_birth.includes(person.date_of_birth)


Participant.query_model = ParticipantQuery
