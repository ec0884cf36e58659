"""Contract ``tax.taxpayer`` v1: organisations under 10-digit tax codes, individuals under their personal ids."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import get_contract
from contracts.dates import vietnam_today
from contracts.tax import Taxpayer, TaxpayerCode, TaxpayerQuery

EXAMPLE: dict[str, Any] = Taxpayer.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
PERSON = {
    "personal_id": "068185000123",
    "full_name": "Nguyễn Thị Mai",
    "date_of_birth": "1985-03-12",
    "gender": "female",
}
INDIVIDUAL = {
    **EXAMPLE,
    "tax_code": "068185000123",
    "taxpayer_type": "individual",
    "name": "Nguyễn Thị Mai",
    "individual": PERSON,
}


def _errors(data: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as info:
        Taxpayer.model_validate(data)
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_an_organisation_and_an_individual() -> None:
    assert Taxpayer.model_validate(EXAMPLE).record_id() == "5800123458"
    assert Taxpayer.model_validate(INDIVIDUAL).individual is not None
    assert get_contract("tax.taxpayer") is Taxpayer


@pytest.mark.parametrize("code", ["5800123457", "58001234589", "099185000123", "06818500012a", "0100233488-001"])
def test_wrong_codes(code: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(TaxpayerCode).validate_python(code)


def test_type_agrees_with_code_and_individual() -> None:
    assert _errors({**INDIVIDUAL, "taxpayer_type": "organisation"})[("taxpayer_type",)] == "type_disagrees_with_code"
    assert _errors({**INDIVIDUAL, "individual": None})[("individual",)] == "individual_missing"
    assert _errors({**EXAMPLE, "individual": PERSON, "name": PERSON["full_name"]})[("individual",)] == (
        "individual_of_organisation"
    )
    other = {**PERSON, "personal_id": "068185000124"}
    assert _errors({**INDIVIDUAL, "individual": other})[("individual", "personal_id")] == "personal_id_not_tax_code"
    assert _errors({**INDIVIDUAL, "name": "Nguyễn Thị Lan"})[("name",)] == "name_disagrees_with_individual"
    assert Taxpayer.model_validate({**INDIVIDUAL, "name": "NGUYỄN THỊ  MAI"}).name == "NGUYỄN THỊ  MAI"


def test_registration_and_office() -> None:
    later = (vietnam_today() + timedelta(days=1)).isoformat()
    assert _errors({**EXAMPLE, "registration_date": later})[("registration_date",)] == "date_in_future"
    office = copy.deepcopy(EXAMPLE["managing_tax_office"])
    office["code"] = "681"
    assert ("managing_tax_office", "code") in _errors({**EXAMPLE, "managing_tax_office": office})
    assert ("status",) in _errors({**EXAMPLE, "status": "00"})


def test_query() -> None:
    organisation, individual = Taxpayer.model_validate(EXAMPLE), Taxpayer.model_validate(INDIVIDUAL)
    assert TaxpayerQuery(name="du lịch").matches(organisation)
    assert not TaxpayerQuery(name="du lịch", taxpayer_type="individual").matches(organisation)
    assert TaxpayerQuery(name="thị mai", taxpayer_type="individual").matches(individual)
    for bad in ({}, {"name": "x"}, {"name": "ab", "taxpayer_type": "company"}):
        with pytest.raises(ValidationError):
            TaxpayerQuery.model_validate(bad)
