"""Contract ``legal_documents.document`` version 1: a legal normative document of a province or of a commune.

Under the Law on the Promulgation of Legal Normative Documents, the People's Council (Hội đồng nhân dân) of a
province or commune issues resolutions (nghị quyết, ``NQ-HĐND``) and its People's Committee (Ủy ban nhân dân)
issues decisions (quyết định, ``QĐ-UBND``). Each carries a number and symbol (số, ký hiệu) such as
``12/2025/QĐ-UBND``: the serial of the year, the year of signing, the kind of document and the issuing body. The
database keeps them with their dates and whether they are in force; it holds no personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from contracts.admin_units import AdminArea, ProvinceCode
from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import vietnam_today
from contracts.registry import register_contract

__all__ = [
    "DocumentId",
    "DocumentNumber",
    "DocumentStatus",
    "DocumentType",
    "IssuingBody",
    "LegalDocument",
    "LegalDocumentQuery",
]

_NUMBER = re.compile(r"^((?!0+/)[0-9]{1,4})/([0-9]{4})/(NQ-HĐND|QĐ-UBND)$")
_DOCUMENT_ID = re.compile(r"^[1-9][0-9]{0,9}$")


class DocumentType(StrEnum):
    """The kinds of legal normative document a province or commune issues."""

    RESOLUTION = "resolution"
    """Nghị quyết, issued by the People's Council (``NQ-HĐND``)."""
    DECISION = "decision"
    """Quyết định, issued by the People's Committee (``QĐ-UBND``)."""


class IssuingBody(StrEnum):
    """The body that issued the document."""

    PEOPLES_COUNCIL = "peoples_council"
    PEOPLES_COMMITTEE = "peoples_committee"


class DocumentStatus(StrEnum):
    """Whether the document is in force (tình trạng hiệu lực)."""

    NOT_YET_IN_FORCE = "not_yet_in_force"
    IN_FORCE = "in_force"
    PARTLY_EXPIRED = "partly_expired"
    EXPIRED = "expired"


_SYMBOLS = {
    DocumentType.RESOLUTION: ("NQ-HĐND", IssuingBody.PEOPLES_COUNCIL),
    DocumentType.DECISION: ("QĐ-UBND", IssuingBody.PEOPLES_COMMITTEE),
}


def _check_number(value: str) -> str:
    if not _NUMBER.match(value):
        raise ValueError("a document number is <serial>/<year>/NQ-HĐND or <serial>/<year>/QĐ-UBND")
    return value


DocumentNumber = Annotated[
    str,
    AfterValidator(_check_number),
    JsonSchemaExtra(
        pattern=_NUMBER.pattern,
        description="Number and symbol (số, ký hiệu): <serial>/<year signed>/NQ-HĐND or QĐ-UBND.",
        examples=["12/2025/QĐ-UBND", "05/2024/NQ-HĐND"],
    ),
]
"""A document's number and symbol, ``12/2025/QĐ-UBND``."""


def _check_document_id(value: str) -> str:
    if not _DOCUMENT_ID.match(value):
        raise ValueError("a document id is 1 to 10 digits, not starting with 0")
    return value


DocumentId = Annotated[
    str,
    AfterValidator(_check_document_id),
    JsonSchemaExtra(
        pattern=_DOCUMENT_ID.pattern,
        description="The database's identifier of the document (1 to 10 digits).",
        examples=["168234"],
    ),
]
"""The database's identifier of a document: its number holds slashes, so it cannot be the key in a URL path."""

_EXAMPLE: dict[str, Any] = {
    "document_id": "168234",
    "number": "12/2025/QĐ-UBND",
    "document_type": "decision",
    "issuing_body": "peoples_committee",
    "jurisdiction": {"province_code": "68"},
    "title": "Quy định bảng giá đất trên địa bàn tỉnh Lâm Đồng",
    "signed_on": "2025-03-14",
    "effective_on": "2025-03-25",
    "status": "in_force",
    "expired_on": None,
}


@register_contract
class LegalDocument(Contract):
    """A legal normative document (contract ``legal_documents.document`` v1).

    Besides each field's own checks: the number's symbol agrees with the document type and the issuing body
    (``NQ-HĐND``: a resolution of the People's Council; ``QĐ-UBND``: a decision of the People's Committee) and its
    year with the year of signing; a document takes effect on or after the day it was signed, expires after it
    took effect, carries ``expired_on`` exactly when it has expired, and is not said to be (or have been) in
    force, nor signed or expired, after today.
    """

    contract_name: ClassVar[str] = "legal_documents.document"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "document_id"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    document_id: DocumentId = Field(description="The database's identifier of the document; the record key.")
    number: DocumentNumber = Field(description="Number and symbol (số, ký hiệu).", examples=["12/2025/QĐ-UBND"])
    document_type: DocumentType = Field(description="resolution or decision.", examples=["decision"])
    issuing_body: IssuingBody = Field(
        description="peoples_council or peoples_committee, of the jurisdiction.", examples=["peoples_committee"]
    )
    jurisdiction: AdminArea = Field(
        description="Where the issuing body sits: the province, and the commune (ward) for commune-level documents.",
        examples=[{"province_code": "68"}],
    )
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Title (trích yếu).", examples=["Quy định bảng giá đất trên địa bàn tỉnh Lâm Đồng"]
    )
    signed_on: date = Field(description="Date of signing (ngày ban hành).", examples=["2025-03-14"])
    effective_on: date = Field(description="Date it takes effect (ngày có hiệu lực).", examples=["2025-03-25"])
    status: DocumentStatus = Field(description="Whether it is in force.", examples=["in_force"])
    expired_on: date | None = Field(
        default=None,
        description="Date it ceased to be in force; only (and always) when the status is expired.",
        examples=[None, "2024-12-31"],
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self.problems(vietnam_today()))
        return self

    def problems(self, today: date) -> list[FieldProblem]:
        """The cross-field rules the document breaks as of ``today``."""
        problems: list[FieldProblem] = []
        number = _NUMBER.match(self.number)
        assert number is not None  # checked by the field's type
        symbol, body = _SYMBOLS[self.document_type]
        if number.group(3) != symbol:
            problems.append(
                FieldProblem(
                    ("number",),
                    "symbol_mismatch",
                    f"number {self.number} is not the symbol of a {self.document_type} ({symbol})",
                    self.number,
                )
            )
        if self.issuing_body != body:
            problems.append(
                FieldProblem(
                    ("issuing_body",),
                    "issuer_mismatch",
                    f"a {self.document_type} is issued by the {body}, not the {self.issuing_body}",
                    self.issuing_body.value,
                )
            )
        if int(number.group(2)) != self.signed_on.year:
            problems.append(
                FieldProblem(
                    ("number",),
                    "year_mismatch",
                    f"number {self.number} names year {number.group(2)}, but signed_on is {self.signed_on}",
                    self.number,
                )
            )
        problems.extend(self._date_problems(today))
        return problems

    def _date_problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []

        def add(field: str, kind: str, message: str, value: date | None) -> None:
            problems.append(FieldProblem((field,), kind, message, value.isoformat() if value else None))

        if self.signed_on > today:
            add("signed_on", "date_in_future", f"signed_on {self.signed_on} is after today ({today})", self.signed_on)
        if self.effective_on < self.signed_on:
            add(
                "effective_on",
                "effective_before_signed",
                f"effective_on {self.effective_on} is before signed_on {self.signed_on}",
                self.effective_on,
            )
        if self.status is not DocumentStatus.NOT_YET_IN_FORCE and self.effective_on > today:
            add(
                "effective_on",
                "date_in_future",
                f"status is {self.status} but effective_on {self.effective_on} is after today ({today})",
                self.effective_on,
            )
        expired = self.status is DocumentStatus.EXPIRED
        if expired and self.expired_on is None:
            add("expired_on", "missing_when_expired", "expired_on is required when status is expired", None)
        elif not expired and self.expired_on is not None:
            add(
                "expired_on",
                "given_when_not_expired",
                f"expired_on is only given when status is expired (status is {self.status})",
                self.expired_on,
            )
        if self.expired_on is not None:
            if self.expired_on <= self.effective_on:
                add(
                    "expired_on",
                    "expired_before_effective",
                    f"expired_on {self.expired_on} is not after effective_on {self.effective_on}",
                    self.expired_on,
                )
            if self.expired_on > today:
                add("expired_on", "date_in_future", f"expired_on {self.expired_on} is after today", self.expired_on)
        return problems


class LegalDocumentQuery(ContractQuery):
    """Search criteria for :class:`LegalDocument` records: the exact ``number``, or the jurisdiction's
    ``province_code``, each optionally narrowed by ``document_type`` and ``status``. Commune-level documents share
    their province's code. A document matches when it satisfies every criterion given."""

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "province_code": ("jurisdiction.province_code",),
    }

    number: DocumentNumber | None = Field(default=None, description="Number and symbol.", examples=["12/2025/QĐ-UBND"])
    province_code: ProvinceCode | None = Field(
        default=None, description="Province of the jurisdiction.", examples=["68"]
    )
    document_type: DocumentType | None = Field(default=None, description="Only this kind.", examples=["decision"])
    status: DocumentStatus | None = Field(default=None, description="Only documents in this status.")

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.number is None and self.province_code is None:
            raise ValueError("a legal document query needs number or province_code")
        return self

    def matches(self, document: LegalDocument) -> bool:
        """Whether ``document`` satisfies every criterion of the query."""
        return (
            (self.number is None or document.number == self.number)
            and (self.province_code is None or document.jurisdiction.province_code == self.province_code)
            and (self.document_type is None or document.document_type is self.document_type)
            and (self.status is None or document.status is self.status)
        )


LegalDocument.query_model = LegalDocumentQuery
