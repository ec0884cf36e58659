"""Contract ``health_insurance.card`` v1: both card code forms, validity and status, children's free cards."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import get_contract
from contracts.dates import vietnam_today
from contracts.health_insurance import HealthCardCode, HealthInsuranceCard, HealthInsuranceCardQuery

EXAMPLE: dict[str, Any] = HealthInsuranceCard.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
TODAY = vietnam_today()


def _record(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(EXAMPLE)
    record.update(changes)
    return record


def _errors(data: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as info:
        HealthInsuranceCard.model_validate(data)
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_the_example_is_valid_and_registered() -> None:
    assert HealthInsuranceCard.model_validate(EXAMPLE).record_id() == "6823001457"
    assert get_contract("health_insurance.card") is HealthInsuranceCard


@pytest.mark.parametrize("code", ["6823001457", "DN4686823001457", "TE1016823001457"])
def test_card_code_forms(code: str) -> None:
    assert TypeAdapter(HealthCardCode).validate_python(code) == code


@pytest.mark.parametrize(
    "code", ["682300145", "DN6686823001457", "dn4686823001457", "D14686823001457", "DN468682300145"]
)
def test_wrong_card_codes(code: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(HealthCardCode).validate_python(code)


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "status"),
    [
        (TODAY - timedelta(days=10), TODAY, "valid"),
        (TODAY, TODAY + timedelta(days=300), "valid"),
        (TODAY - timedelta(days=400), TODAY - timedelta(days=1), "expired"),
        (TODAY + timedelta(days=1), TODAY + timedelta(days=365), "not_yet_valid"),
    ],
)
def test_the_status_is_the_validity_today(valid_from: date, valid_to: date, status: str) -> None:
    dates = {"valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat()}
    assert HealthInsuranceCard.model_validate(_record(status=status, **dates)).status == status
    for other in {"valid", "expired", "not_yet_valid"} - {status}:
        assert _errors(_record(status=other, **dates))[("status",)] == "status_disagrees_with_validity"


def test_validity_cannot_end_before_it_starts() -> None:
    errors = _errors(_record(valid_from="2025-02-01", valid_to="2025-01-31"))
    assert errors[("valid_to",)] == "validity_ends_before_start"


def test_the_code_agrees_with_the_insurance_code_group_and_level() -> None:
    old = {"valid_from": "2019-01-01", "valid_to": "2019-12-31"}
    assert HealthInsuranceCard.model_validate(_record(card_code="DN4686823001457", **old)).benefit_level == 4
    assert _errors(_record(card_code="6823001458"))[("card_code",)] == "card_code_mismatch"
    assert _errors(_record(card_code="DN4686823001458", **old))[("card_code",)] == "card_code_mismatch"
    assert _errors(_record(card_code="HT3686823001457", **old))[("card_code",)] == "card_code_mismatch"


def test_a_childs_free_card_ends_by_the_sixth_birthday_or_30_september() -> None:
    child = {
        "personal_id": "068222000123",
        "full_name": "Nguyễn Minh An",
        "date_of_birth": "2022-05-10",
        "gender": "male",
    }
    fine = _record(
        holder=child, beneficiary_group="TE", benefit_level=1, valid_from="2022-05-10", valid_to="2028-05-09"
    )
    fine["status"] = "valid" if date(2028, 5, 9) >= TODAY else "expired"
    assert HealthInsuranceCard.model_validate(fine).beneficiary_group == "TE"
    # Born in May: 72 months old on 10 May 2028, before the school year, so the card may run to 30 September.
    last = {**fine, "valid_to": "2028-09-30", "status": "valid" if date(2028, 9, 30) >= TODAY else "expired"}
    assert HealthInsuranceCard.model_validate(last).valid_to == date(2028, 9, 30)
    too_long = {**fine, "valid_to": "2028-10-01", "status": "valid" if date(2028, 10, 1) >= TODAY else "expired"}
    assert _errors(too_long)[("valid_to",)] == "child_card_after_six"


def test_the_facility_code_starts_with_a_province() -> None:
    assert ("primary_care_facility", "code") in _errors(_record(primary_care_facility={"code": "99001"}))
    assert ("primary_care_facility", "code") in _errors(_record(primary_care_facility={"code": "6800"}))


def test_query_combinations_and_matching() -> None:
    record = HealthInsuranceCard.model_validate(EXAMPLE)
    assert HealthInsuranceCardQuery(social_insurance_code="6823001457").matches(record)
    assert HealthInsuranceCardQuery(personal_id="068185000123", full_name="NGUYỄN THỊ MAI").matches(record)
    assert HealthInsuranceCardQuery(full_name="Nguyễn Thị Mai", date_of_birth="1985-03").matches(record)
    assert not HealthInsuranceCardQuery(full_name="Nguyễn Thị Mai", date_of_birth="1986").matches(record)
    for bad in ({}, {"full_name": "Nguyễn Thị Mai"}, {"card_code": "6823001457"}):
        with pytest.raises(ValidationError):
            HealthInsuranceCardQuery.model_validate(bad)
