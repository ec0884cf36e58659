"""The contract ``civil_servants.official`` v1: a cadre, civil servant or public employee of the province.

The provincial Department of Home Affairs keeps them in its database of cadres, civil servants and public employees
(Cơ sở dữ liệu cán bộ, công chức, viên chức). Each official is a citizen of the population database, named by
personal identification number, with the agency they serve, their rank (ngạch) and salary grade.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Self

from contracts import Contract, ContractQuery, register_contract
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from pydantic import Field, model_validator

AGENCY_CODE = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$"


class Category(StrEnum):
    """Law on Cadres and Civil Servants, Law on Public Employees."""

    CADRE = "cadre"
    CIVIL_SERVANT = "civil_servant"
    PUBLIC_EMPLOYEE = "public_employee"


class OfficialQuery(ContractQuery):
    """Search by agency (its electronic agency code) and/or by the official's personal identification number."""

    agency_code: str | None = Field(default=None, pattern=AGENCY_CODE, description="Electronic agency code.")
    personal_id: PersonalId | None = Field(default=None, description="The official's personal identification number.")

    @model_validator(mode="after")
    def _something_to_search(self) -> Self:
        if self.agency_code is None and self.personal_id is None:
            raise ValueError("search by agency_code, personal_id, or both")
        return self


@register_contract
class Official(Contract):
    """One cadre, civil servant or public employee of the province."""

    contract_name: ClassVar[str] = "civil_servants.official"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "staff_code"
    query_model: ClassVar[type[ContractQuery] | None] = OfficialQuery

    staff_code: str = Field(pattern=r"^CB-[0-9]{3}-[0-9]{4}$", description="Staff code.", examples=["CB-068-0001"])
    person: IdentifiedPerson = Field(description="The official, as registered in the population database.")
    category: Category
    agency_code: str = Field(pattern=AGENCY_CODE, description="Electronic agency code.", examples=["000.00.05.H41"])
    agency_name: str = Field(min_length=1, max_length=300, examples=["Sở Nội vụ tỉnh Lâm Đồng"])
    position: str = Field(min_length=1, max_length=200, description="Position (chức vụ).", examples=["Chuyên viên"])
    rank_code: str = Field(
        pattern=r"^[0-9]{2}\.[0-9]{3}[a-z]?$", description="Civil-service rank (mã ngạch).", examples=["01.003"]
    )
    salary_grade: int = Field(ge=1, le=12, description="Salary step within the rank (bậc lương).")
    salary_coefficient: float = Field(ge=1.0, le=10.0, description="Salary coefficient (hệ số lương).")
    recruited_on: date = Field(description="Date of recruitment (ngày tuyển dụng).")
    updated: date = Field(description="When the record last changed.")

    @model_validator(mode="after")
    def _dates_agree(self) -> Self:
        today = date.today()
        adult_from = self.person.date_of_birth.year + 18
        if self.recruited_on.year < adult_from:
            raise ValueError(f"recruited_on {self.recruited_on} is before the official turned 18 ({adult_from})")
        if self.recruited_on > today or self.updated > today:
            raise ValueError("recruited_on and updated cannot be in the future")
        if self.updated < self.recruited_on:
            raise ValueError("updated is before recruited_on")
        return self
