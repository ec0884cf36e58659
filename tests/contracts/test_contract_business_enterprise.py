"""Contract ``business.enterprise`` v1: the example is valid, and each consistency rule is enforced at the field
concerned."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.business import Enterprise, EnterpriseQuery
from contracts.dates import vietnam_today
from contracts.identity import make_personal_id

EXAMPLE: dict[str, Any] = Enterprise.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


def _record(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(EXAMPLE)
    record.update(changes)
    return record


def _errors(data: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as info:
        Enterprise.model_validate(data)
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_the_example_is_valid_and_registered() -> None:
    record = Enterprise.model_validate(EXAMPLE)
    assert record.record_id() == "5800123458"
    assert record.head_office.ward_name is not None
    assert get_contract("business.enterprise") is Enterprise


def test_the_code_is_a_tax_code() -> None:
    assert ("enterprise_code",) in _errors(_record(enterprise_code="5800123457"))


def test_the_registration_is_not_in_the_future_and_the_representative_is_an_adult() -> None:
    later = (vietnam_today() + timedelta(days=3)).isoformat()
    assert _errors(_record(registration_date=later))[("registration_date",)] == "date_in_future"
    # The representative is the current one: an enterprise registered before they were of age (or born) is fine.
    assert (
        Enterprise.model_validate(_record(registration_date="1995-03-12", branches=[])).registration_date.year == 1995
    )
    minor = _record()
    minor["legal_representative"] = {
        "personal_id": make_personal_id(
            province_code="068", gender="female", birth_year=vietnam_today().year - 10, serial=1
        ),
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": str(vietnam_today().year - 10),
        "gender": "female",
    }
    assert _errors(minor)[("legal_representative", "date_of_birth")] == "representative_minor"


def test_closing_dates_only_for_closed_enterprises() -> None:
    assert _errors(_record(closed_on="2020-01-01"))[("closed_on",)] == "closed_on_disagrees_with_status"
    assert _errors(_record(status="dissolved"))[("closed_on",)] == "closed_on_disagrees_with_status"
    assert _errors(_record(status="bankrupt", closed_on="2011-01-01"))[("closed_on",)] == "closed_on_out_of_range"
    assert Enterprise.model_validate(_record(status="dissolved", closed_on="2020-01-01")).closed_on == date(2020, 1, 1)


@pytest.mark.parametrize(
    ("change", "where", "kind"),
    [
        ({"branch_code": "0100233488-001"}, ("branches", 0, "branch_code"), "branch_of_another_enterprise"),
        ({"branch_code": "5800123458-000"}, ("branches", 0, "branch_code"), "value_error"),
        ({"registration_date": "2011-01-01"}, ("branches", 0, "registration_date"), "branch_before_enterprise"),
        (
            {"address": {"province_code": "79", "ward_code": "24820", "line": "x"}},
            ("branches", 0, "address", "ward_code"),
            None,
        ),
    ],
)
def test_branch_rules(change: dict[str, Any], where: tuple[Any, ...], kind: str | None) -> None:
    branches = copy.deepcopy(EXAMPLE["branches"])
    branches[0].update(change)
    errors = _errors(_record(branches=branches))
    assert where in errors
    if kind is not None:
        assert errors[where] == kind


def test_a_branch_listed_twice() -> None:
    branches = copy.deepcopy(EXAMPLE["branches"]) * 2
    assert _errors(_record(branches=branches))[("branches", 1, "branch_code")] == "repeated_branch"


def test_query_combinations_and_matching() -> None:
    record = Enterprise.model_validate(EXAMPLE)
    assert EnterpriseQuery(name="lâm viên").matches(record)
    assert EnterpriseQuery(name="TOURISM company").matches(record)
    assert not EnterpriseQuery(name="Lam Vien Du").matches(record)
    assert EnterpriseQuery(representative_personal_id="068185000123", name="du lịch").matches(record)
    assert not EnterpriseQuery(representative_personal_id="068185000124").matches(record)
    for bad in ({}, {"name": "x"}, {"representative_personal_id": "123"}):
        with pytest.raises(ValidationError):
            EnterpriseQuery.model_validate(bad)
