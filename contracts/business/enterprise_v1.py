"""Contract ``business.enterprise`` version 1: an enterprise as registered in the national business registry.

An enterprise's code is its tax code (Law on Enterprises 2020, Article 29), ten digits with a check digit; its
dependent units (branches) have the parent's code, a hyphen and a three-digit number. Household businesses (hộ
kinh doanh) are not enterprises and are not in this registry. The head office is given in the administrative
units in force since 1 July 2025.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.admin_units import Address
from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, raise_field_problems
from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.names import normalize_name
from contracts.registry import register_contract
from contracts.tax_code import BranchTaxCode, TaxCode, parent_tax_code

__all__ = ["Branch", "Enterprise", "EnterpriseQuery", "EnterpriseStatus", "EnterpriseType"]


class EnterpriseType(StrEnum):
    """The legal form of an enterprise (Law on Enterprises 2020)."""

    SINGLE_MEMBER_LLC = "single_member_llc"
    """Công ty TNHH một thành viên (TNHH 1TV)."""
    MULTI_MEMBER_LLC = "multi_member_llc"
    """Công ty TNHH hai thành viên trở lên (TNHH 2TV+)."""
    JOINT_STOCK = "joint_stock"
    """Công ty cổ phần (CP)."""
    PRIVATE_ENTERPRISE = "private_enterprise"
    """Doanh nghiệp tư nhân (DNTN), owned by one person without separate legal personality."""
    PARTNERSHIP = "partnership"
    """Công ty hợp danh."""


class EnterpriseStatus(StrEnum):
    """The enterprise's legal status in the registry."""

    OPERATING = "operating"
    SUSPENDED = "suspended"
    """Business suspended (tạm ngừng kinh doanh) for a declared period."""
    DISSOLVED = "dissolved"
    BANKRUPT = "bankrupt"


_CLOSED = frozenset({EnterpriseStatus.DISSOLVED, EnterpriseStatus.BANKRUPT})


class Branch(BaseModel):
    """A dependent unit (chi nhánh) of the enterprise, with its own 13-character tax code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    branch_code: BranchTaxCode = Field(
        description="The branch's code: the enterprise's code, a hyphen, three digits.", examples=["5800123458-001"]
    )
    name: str = Field(min_length=1, max_length=300, description="The branch's registered name.")
    address: Address = Field(description="Where the branch is.")
    registration_date: date = Field(description="When the branch was registered.", examples=["2019-06-01"])


_EXAMPLE: dict[str, Any] = {
    "enterprise_code": "5800123458",
    "name": "Công ty TNHH Du lịch Lâm Viên",
    "name_en": "Lam Vien Tourism Company Limited",
    "short_name": "LAM VIEN CO., LTD",
    "enterprise_type": "single_member_llc",
    "registration_date": "2012-05-14",
    "head_office": {"province_code": "68", "ward_code": "24781", "line": "Số 12 Trần Phú"},
    "charter_capital": 5_000_000_000,
    "status": "operating",
    "closed_on": None,
    "legal_representative": {
        "personal_id": "068185000123",
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": "1985-03-12",
        "gender": "female",
    },
    "branches": [
        {
            "branch_code": "5800123458-001",
            "name": "Chi nhánh Bảo Lộc - Công ty TNHH Du lịch Lâm Viên",
            "address": {"province_code": "68", "ward_code": "24820", "line": "Số 45 Lê Hồng Phong"},
            "registration_date": "2018-09-03",
        }
    ],
    "last_updated": "2025-10-01T08:30:00+07:00",
}


def _adult_from(born: date) -> date:
    try:
        return born.replace(year=born.year + 18)
    except ValueError:
        return date(born.year + 18, 3, 1)


@register_contract
class Enterprise(Contract):
    """An enterprise in the national business registry (contract ``business.enterprise`` v1).

    Besides each field's own checks: the registration date is not in the future; the legal representative (the
    current one, who may have been appointed long after the first registration) is an adult today; ``closed_on``
    is given exactly for dissolved and bankrupt enterprises, not before registration nor in the future; each
    branch's code extends the enterprise's code, without repetition, and the branch was registered after the
    enterprise.
    """

    contract_name: ClassVar[str] = "business.enterprise"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "enterprise_code"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    enterprise_code: TaxCode = Field(
        description="Enterprise code (mã số doanh nghiệp), which is its tax code; the record key.",
        examples=["5800123458"],
    )
    name: str = Field(min_length=1, max_length=300, description="Vietnamese name.", examples=[_EXAMPLE["name"]])
    name_en: str | None = Field(
        default=None, max_length=300, description="Name in a foreign language (English), if registered."
    )
    short_name: str | None = Field(default=None, max_length=100, description="Abbreviated name, if registered.")
    enterprise_type: EnterpriseType = Field(description="Legal form.", examples=["single_member_llc"])
    registration_date: date = Field(description="Date of first registration.", examples=["2012-05-14"])
    head_office: Address = Field(description="Head office (trụ sở chính), in current administrative units.")
    charter_capital: int = Field(
        gt=0,
        le=10**16,
        description="Charter capital (vốn điều lệ; investment capital of a private enterprise), in VND.",
        examples=[5_000_000_000],
    )
    status: EnterpriseStatus = Field(description="Legal status.", examples=["operating"])
    closed_on: date | None = Field(
        default=None, description="Date of dissolution or bankruptcy; only for those statuses.", examples=[None]
    )
    legal_representative: IdentifiedPerson = Field(description="The legal representative (người đại diện).")
    branches: list[Branch] = Field(default_factory=list, max_length=500, description="Dependent units.")
    last_updated: AwareDatetime = Field(
        description="When the registry last changed the record (with time zone offset).",
        examples=["2025-10-01T08:30:00+07:00"],
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        registered = self.registration_date
        if registered > today:
            problems.append(
                FieldProblem(
                    ("registration_date",),
                    "date_in_future",
                    f"registration_date {registered} is in the future (today is {today})",
                    registered.isoformat(),
                )
            )
        # The representative is today's, not necessarily the one of the first registration: only their age today
        # can be checked (of a year of birth alone, the earliest day, so that no adult is refused).
        born = self.legal_representative.date_of_birth.earliest()
        if _adult_from(born) > today:
            problems.append(
                FieldProblem(
                    ("legal_representative", "date_of_birth"),
                    "representative_minor",
                    f"the legal representative is not 18 today ({today}) by legal_representative.date_of_birth",
                    str(self.legal_representative.date_of_birth),
                )
            )
        closed = self.status in _CLOSED
        if closed != (self.closed_on is not None):
            problems.append(
                FieldProblem(
                    ("closed_on",),
                    "closed_on_disagrees_with_status",
                    f"status is {self.status} but closed_on is {self.closed_on}; closed_on is given exactly for "
                    "dissolved and bankrupt enterprises",
                    None if self.closed_on is None else self.closed_on.isoformat(),
                )
            )
        if self.closed_on is not None and not registered <= self.closed_on <= today:
            problems.append(
                FieldProblem(
                    ("closed_on",),
                    "closed_on_out_of_range",
                    f"closed_on {self.closed_on} is not between registration_date {registered} and today ({today})",
                    self.closed_on.isoformat(),
                )
            )
        seen: set[str] = set()
        for index, branch in enumerate(self.branches):
            if parent_tax_code(branch.branch_code) != self.enterprise_code:
                problems.append(
                    FieldProblem(
                        ("branches", index, "branch_code"),
                        "branch_of_another_enterprise",
                        f"branch_code {branch.branch_code} is not a unit of enterprise_code {self.enterprise_code}",
                        branch.branch_code,
                    )
                )
            if branch.branch_code in seen:
                problems.append(
                    FieldProblem(
                        ("branches", index, "branch_code"),
                        "repeated_branch",
                        f"branch_code {branch.branch_code} is listed twice",
                        branch.branch_code,
                    )
                )
            seen.add(branch.branch_code)
            if branch.registration_date < registered:
                problems.append(
                    FieldProblem(
                        ("branches", index, "registration_date"),
                        "branch_before_enterprise",
                        f"the branch was registered on {branch.registration_date}, before the enterprise "
                        f"({registered})",
                        branch.registration_date.isoformat(),
                    )
                )
        return problems


class EnterpriseQuery(ContractQuery):
    """Search criteria for :class:`Enterprise` records: ``name``, ``representative_personal_id``, or both.

    ``name`` matches every enterprise whose Vietnamese or English name contains it, ignoring case, Unicode
    composition and spacing (not diacritics); ``representative_personal_id`` matches the legal representative.
    """

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "name": (
            "name",
            "name_en",
        ),
        "representative_personal_id": ("legal_representative.personal_id",),
    }

    name: str | None = Field(
        default=None,
        min_length=2,
        max_length=200,
        description="Part of the enterprise's name; at least two characters.",
        examples=["Lâm Viên"],
    )
    representative_personal_id: PersonalId | None = Field(
        default=None, description="Personal id of the legal representative.", examples=["068185000123"]
    )

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.name is None and self.representative_personal_id is None:
            raise ValueError("an enterprise query needs name or representative_personal_id")
        return self

    def matches(self, record: Enterprise) -> bool:
        """Whether ``record`` satisfies every criterion of the query."""
        if (
            self.representative_personal_id is not None
            and self.representative_personal_id != record.legal_representative.personal_id
        ):
            return False
        if self.name is None:
            return True
        wanted = normalize_name(self.name)
        return any(wanted in normalize_name(name) for name in (record.name, record.name_en) if name)


Enterprise.query_model = EnterpriseQuery
