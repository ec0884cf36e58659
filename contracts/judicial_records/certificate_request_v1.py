"""Contract ``judicial_records.certificate_request`` version 1: a request for a judicial record certificate.

Under the Law on Judicial Records (Luật Lý lịch tư pháp 2009), a person asks the Department of Justice (Sở Tư
pháp) of their province for a certificate (phiếu lý lịch tư pháp): type 1 for their own use or an employer's,
type 2 (which lists every conviction, spent ones included) for themselves or the prosecuting authorities. The
request is received, processed, and the certificate issued (or the request refused) within the legal time limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import IntEnum, StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from contracts.admin_units import ProvinceCode
from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.registry import register_contract

__all__ = ["CertificateRequest", "CertificateRequestQuery", "CertificateType", "RequestNumber", "RequestStatus"]

_REQUEST_NUMBER = re.compile(r"^LLTP-([0-9]{2})-([0-9]{4})-([0-9]{6})$")


class CertificateType(IntEnum):
    """The two kinds of judicial record certificate (Điều 41 Luật Lý lịch tư pháp)."""

    TYPE_1 = 1
    """Phiếu số 1: convictions not yet spent, and bans from office; for the person, an agency or an employer."""
    TYPE_2 = 2
    """Phiếu số 2: every conviction, spent ones included; only for the person or the prosecuting authorities."""


class RequestStatus(StrEnum):
    """Where a certificate request stands."""

    RECEIVED = "received"
    PROCESSING = "processing"
    ISSUED = "issued"
    REFUSED = "refused"


def _check_request_number(value: str) -> str:
    if not _REQUEST_NUMBER.match(value):
        raise ValueError("a request number is LLTP-<province code, 2 digits>-<year, 4 digits>-<serial, 6 digits>")
    return value


RequestNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=False),
    AfterValidator(_check_request_number),
    JsonSchemaExtra(
        pattern=_REQUEST_NUMBER.pattern,
        description="Request number: LLTP-<province of the Department of Justice>-<year received>-<serial>.",
        examples=["LLTP-68-2025-000123"],
    ),
]
"""The number a Department of Justice gives a certificate request, ``LLTP-68-2025-000123``."""

_EXAMPLE: dict[str, Any] = {
    "request_number": "LLTP-68-2025-000123",
    "applicant": {
        "personal_id": "068185000123",
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": "1985-03-12",
        "gender": "female",
    },
    "certificate_type": 1,
    "purpose": "Bổ sung hồ sơ xin việc",
    "requested_on": "2025-03-03",
    "issued_on": "2025-03-10",
    "status": "issued",
    "issuing_authority": "68",
    "states_criminal_record": False,
}


@register_contract
class CertificateRequest(Contract):
    """A request for a judicial record certificate (contract ``judicial_records.certificate_request`` v1).

    Besides each field's own checks: the request number's province is the issuing authority's and its year the
    year the request was received; ``issued_on`` and ``states_criminal_record`` are given exactly when the status
    is ``issued``; nothing is issued before it was requested, nor requested before the applicant's birth, nor
    dated in the future.
    """

    contract_name: ClassVar[str] = "judicial_records.certificate_request"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "request_number"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    request_number: RequestNumber = Field(
        description="Request number (số hồ sơ); the record key.", examples=["LLTP-68-2025-000123"]
    )
    applicant: IdentifiedPerson = Field(description="The person the certificate is about, who asked for it.")
    certificate_type: CertificateType = Field(
        description="1 (phiếu số 1) or 2 (phiếu số 2), per Article 41 of the Law on Judicial Records.", examples=[1]
    )
    purpose: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="What the certificate is for, as the applicant stated it.", examples=["Bổ sung hồ sơ xin việc"]
    )
    requested_on: date = Field(description="Date the request was received; not in the future.", examples=["2025-03-03"])
    issued_on: date | None = Field(
        default=None,
        description="Date the certificate was issued; only (and always) when the status is issued.",
        examples=["2025-03-10", None],
    )
    status: RequestStatus = Field(description="received, processing, issued or refused.", examples=["issued"])
    issuing_authority: ProvinceCode = Field(
        description="The Department of Justice handling the request, by the code of its (current) province.",
        examples=["68"],
    )
    states_criminal_record: bool | None = Field(
        default=None,
        description="Whether the issued certificate states a criminal record; only (and always) when issued.",
        examples=[False, None],
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self.problems(vietnam_today()))
        return self

    def problems(self, today: date) -> list[FieldProblem]:
        """The cross-field rules the request breaks as of ``today``."""
        problems: list[FieldProblem] = []
        number = _REQUEST_NUMBER.match(self.request_number)
        assert number is not None  # checked by the field's type
        if number.group(1) != self.issuing_authority:
            problems.append(
                FieldProblem(
                    ("request_number",),
                    "authority_mismatch",
                    f"request_number {self.request_number} names province {number.group(1)}, but issuing_authority "
                    f"is {self.issuing_authority}",
                    self.request_number,
                )
            )
        if int(number.group(2)) != self.requested_on.year:
            problems.append(
                FieldProblem(
                    ("request_number",),
                    "year_mismatch",
                    f"request_number {self.request_number} names year {number.group(2)}, but requested_on is "
                    f"{self.requested_on}",
                    self.request_number,
                )
            )
        if self.requested_on > today:
            problems.append(
                FieldProblem(
                    ("requested_on",),
                    "date_in_future",
                    f"requested_on {self.requested_on} is in the future (today is {today})",
                    self.requested_on.isoformat(),
                )
            )
        if self.requested_on < self.applicant.date_of_birth.earliest():
            problems.append(
                FieldProblem(
                    ("requested_on",),
                    "requested_before_birth",
                    f"requested_on {self.requested_on} is before applicant.date_of_birth",
                    self.requested_on.isoformat(),
                )
            )
        issued = self.status is RequestStatus.ISSUED
        for name in ("issued_on", "states_criminal_record"):
            value = getattr(self, name)
            if issued and value is None:
                problems.append(
                    FieldProblem((name,), "missing_when_issued", f"{name} is required when status is issued", None)
                )
            elif not issued and value is not None:
                problems.append(
                    FieldProblem(
                        (name,),
                        "given_when_not_issued",
                        f"{name} is only given when status is issued (status is {self.status})",
                        str(value),
                    )
                )
        if self.issued_on is not None:
            if self.issued_on < self.requested_on:
                problems.append(
                    FieldProblem(
                        ("issued_on",),
                        "issued_before_requested",
                        f"issued_on {self.issued_on} is before requested_on {self.requested_on}",
                        self.issued_on.isoformat(),
                    )
                )
            if self.issued_on > today:
                problems.append(
                    FieldProblem(
                        ("issued_on",),
                        "date_in_future",
                        f"issued_on {self.issued_on} is in the future (today is {today})",
                        self.issued_on.isoformat(),
                    )
                )
        return problems


class CertificateRequestQuery(ContractQuery):
    """Search criteria for :class:`CertificateRequest` records: the applicant's personal id, and optionally the
    status. A request matches when its applicant has that personal id and, if ``status`` is given, that status."""

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "applicant_personal_id": ("applicant.personal_id",),
    }

    applicant_personal_id: PersonalId = Field(
        description="Personal identification number of the applicant.", examples=["068185000123"]
    )
    status: RequestStatus | None = Field(default=None, description="Only requests in this status.", examples=["issued"])

    def matches(self, request: CertificateRequest) -> bool:
        """Whether ``request`` satisfies every criterion of the query."""
        if request.applicant.personal_id != self.applicant_personal_id:
            return False
        return self.status is None or request.status is self.status


CertificateRequest.query_model = CertificateRequestQuery
