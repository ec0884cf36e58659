"""Contract judicial_records.certificate_request v1: fields, cross-field rules, query, schema, registration."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.judicial_records import CertificateRequest, CertificateRequestQuery, CertificateType, RequestStatus

ISSUED: dict[str, Any] = {
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
PENDING = {**ISSUED, "status": "processing", "issued_on": None, "states_criminal_record": None}


def _errors(**changes: Any) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as info:
        CertificateRequest.model_validate({**ISSUED, **changes})
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_valid_requests() -> None:
    issued = CertificateRequest.model_validate(ISSUED)
    assert issued.record_id() == "LLTP-68-2025-000123"
    assert issued.certificate_type is CertificateType.TYPE_1
    assert issued.status is RequestStatus.ISSUED
    pending = CertificateRequest.model_validate(PENDING)
    assert pending.issued_on is None and pending.states_criminal_record is None
    assert CertificateRequest.model_validate_json(issued.model_dump_json()) == issued


def test_registered_with_its_query() -> None:
    assert get_contract("judicial_records.certificate_request") is CertificateRequest
    assert CertificateRequest.contract_id() == "judicial_records.certificate_request@1"
    assert CertificateRequest.query_model is CertificateRequestQuery


@pytest.mark.parametrize("number", ["LLTP-68-2025-12345", "lltp-68-2025-000123", "LLTP-6-2025-000123", "68/2025/LLTP"])
def test_request_number_format(number: str) -> None:
    assert ("request_number",) in _errors(request_number=number)


def test_certificate_type_is_1_or_2() -> None:
    assert CertificateRequest.model_validate({**ISSUED, "certificate_type": 2}).certificate_type == 2
    assert ("certificate_type",) in _errors(certificate_type=3)


def test_number_agrees_with_the_authority_and_the_year() -> None:
    assert _errors(issuing_authority="75") == {("request_number",): "authority_mismatch"}
    assert _errors(requested_on="2024-12-30", issued_on="2025-01-06") == {("request_number",): "year_mismatch"}
    assert ("issuing_authority",) in _errors(issuing_authority="99", request_number="LLTP-99-2025-000123")


def test_issued_fields_only_and_always_when_issued() -> None:
    assert _errors(issued_on=None) == {("issued_on",): "missing_when_issued"}
    assert _errors(states_criminal_record=None) == {("states_criminal_record",): "missing_when_issued"}
    assert _errors(status="refused") == {
        ("issued_on",): "given_when_not_issued",
        ("states_criminal_record",): "given_when_not_issued",
    }


def test_dates_are_ordered_and_not_in_the_future() -> None:
    assert _errors(issued_on="2025-03-01") == {("issued_on",): "issued_before_requested"}
    request = CertificateRequest.model_validate(ISSUED)
    assert [p.error_type for p in request.problems(date(2025, 3, 5))] == ["date_in_future"]
    assert [p.error_type for p in request.problems(date(2025, 3, 1))] == ["date_in_future", "date_in_future"]
    young = {**ISSUED["applicant"], "personal_id": "068325000123", "date_of_birth": "2025-06-01"}
    errors = _errors(applicant=young, request_number="LLTP-68-2025-000123")
    assert errors == {("requested_on",): "requested_before_birth"}


def test_the_applicant_is_checked_as_an_identified_person() -> None:
    assert _errors(applicant={**ISSUED["applicant"], "gender": "male"}) == {("applicant", "gender"): "gender_mismatch"}
    assert ("purpose",) in _errors(purpose="   ")


def test_query_matches() -> None:
    request = CertificateRequest.model_validate(ISSUED)
    assert CertificateRequestQuery(applicant_personal_id="068185000123").matches(request)
    assert CertificateRequestQuery(applicant_personal_id="068185000123", status=RequestStatus.ISSUED).matches(request)
    assert not CertificateRequestQuery(applicant_personal_id="068185000123", status="refused").matches(request)
    assert not CertificateRequestQuery(applicant_personal_id="068185000124").matches(request)
    with pytest.raises(ValidationError):
        CertificateRequestQuery.model_validate({})
    with pytest.raises(ValidationError):
        CertificateRequestQuery.model_validate({"applicant_personal_id": "123"})


def test_schema_examples_validate() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = CertificateRequest.contract_schema()
    for example in schema["examples"]:
        jsonschema.validate(example, schema)
        CertificateRequest.model_validate(example)
    assert schema["x-record-key"] == "request_number"
    assert "LLTP" in schema["properties"]["request_number"]["pattern"]
