"""Contract legal_documents.document v1: number and symbol, type and issuer, dates and status, query."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.legal_documents import DocumentStatus, DocumentType, IssuingBody, LegalDocument, LegalDocumentQuery

DECISION: dict[str, Any] = {
    "document_id": "168234",
    "number": "12/2025/QĐ-UBND",
    "document_type": "decision",
    "issuing_body": "peoples_committee",
    "jurisdiction": {"province_code": "68"},
    "title": "Quy định bảng giá đất trên địa bàn tỉnh Lâm Đồng",
    "signed_on": "2025-03-14",
    "effective_on": "2025-03-25",
    "status": "in_force",
}
RESOLUTION = {**DECISION, "number": "05/2025/NQ-HĐND", "document_type": "resolution", "issuing_body": "peoples_council"}


def _errors(**changes: Any) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as info:
        LegalDocument.model_validate({**DECISION, **changes})
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_valid_documents() -> None:
    decision = LegalDocument.model_validate(DECISION)
    assert decision.record_id() == "168234"
    assert decision.jurisdiction.province_name == "Lâm Đồng"
    resolution = LegalDocument.model_validate(RESOLUTION)
    assert (resolution.document_type, resolution.issuing_body) == (DocumentType.RESOLUTION, IssuingBody.PEOPLES_COUNCIL)
    expired = LegalDocument.model_validate({**DECISION, "status": "expired", "expired_on": "2025-12-31"})
    assert expired.expired_on == date(2025, 12, 31)
    assert LegalDocument.model_validate_json(expired.model_dump_json()) == expired
    assert get_contract("legal_documents.document") is LegalDocument


@pytest.mark.parametrize("number", ["12/2025/QD-UBND", "0/2025/QĐ-UBND", "12/25/QĐ-UBND", "12/2025/CT-UBND", "12"])
def test_number_and_symbol_format(number: str) -> None:
    assert ("number",) in _errors(number=number)


@pytest.mark.parametrize("document_id", ["0123", "abc", "", "12345678901"])
def test_document_id_format(document_id: str) -> None:
    assert ("document_id",) in _errors(document_id=document_id)


def test_symbol_issuer_and_year_agree() -> None:
    assert _errors(number="05/2025/NQ-HĐND") == {("number",): "symbol_mismatch"}
    assert _errors(issuing_body="peoples_council") == {("issuing_body",): "issuer_mismatch"}
    assert _errors(number="12/2024/QĐ-UBND") == {("number",): "year_mismatch"}


def test_commune_jurisdiction_must_lie_in_its_province() -> None:
    commune = LegalDocument.model_validate({**DECISION, "jurisdiction": {"province_code": "68", "ward_code": "24886"}})
    assert commune.jurisdiction.ward_code == "24886"
    with pytest.raises(ValidationError):
        LegalDocument.model_validate({**DECISION, "jurisdiction": {"province_code": "01", "ward_code": "24886"}})


def test_dates_and_status() -> None:
    assert _errors(effective_on="2025-03-01") == {("effective_on",): "effective_before_signed"}
    assert _errors(status="expired") == {("expired_on",): "missing_when_expired"}
    assert _errors(expired_on="2025-12-31") == {("expired_on",): "given_when_not_expired"}
    assert _errors(status="expired", expired_on="2025-03-25") == {("expired_on",): "expired_before_effective"}
    document = LegalDocument.model_validate(DECISION)
    assert [p.error_type for p in document.problems(date(2025, 3, 20))] == ["date_in_future"]
    assert [p.error_type for p in document.problems(date(2025, 3, 1))] == ["date_in_future", "date_in_future"]
    pending = LegalDocument.model_validate({**DECISION, "status": "not_yet_in_force"})
    assert pending.problems(date(2025, 3, 20)) == []


def test_query() -> None:
    document = LegalDocument.model_validate(DECISION)
    assert LegalDocumentQuery(number="12/2025/QĐ-UBND").matches(document)
    assert LegalDocumentQuery(province_code="68", document_type=DocumentType.DECISION).matches(document)
    assert not LegalDocumentQuery(province_code="68", status=DocumentStatus.EXPIRED).matches(document)
    assert not LegalDocumentQuery(province_code="75").matches(document)
    with pytest.raises(ValidationError, match="number or province_code"):
        LegalDocumentQuery(document_type=DocumentType.DECISION)
    with pytest.raises(ValidationError):
        LegalDocumentQuery(province_code="99")


def test_schema_examples_validate() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = LegalDocument.contract_schema()
    for example in schema["examples"]:
        jsonschema.validate(example, schema)
        LegalDocument.model_validate(example)
