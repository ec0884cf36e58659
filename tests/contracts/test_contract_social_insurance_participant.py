"""Contract ``social_insurance.participant`` v1: the example is valid, and each consistency rule is enforced at the
field concerned."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.dates import vietnam_today
from contracts.social_insurance import Participant, ParticipantQuery

EXAMPLE: dict[str, Any] = Participant.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


def _record(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(EXAMPLE)
    record.update(changes)
    return record


def _errors(data: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as info:
        Participant.model_validate(data)
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_the_example_is_valid_and_registered() -> None:
    record = Participant.model_validate(EXAMPLE)
    assert record.record_id() == "6823001457"
    assert get_contract("social_insurance.participant") is Participant
    assert Participant.contract_schema()["x-record-key"] == "social_insurance_code"


def test_months_are_read_in_both_forms() -> None:
    periods = copy.deepcopy(EXAMPLE["contribution_periods"])
    periods[0]["from_month"], periods[0]["to_month"] = "7/2008", "12/2014"
    record = Participant.model_validate(_record(contribution_periods=periods))
    assert record.contribution_periods[0].from_month == "2008-07"
    assert record.model_dump(mode="json")["contribution_periods"][0]["to_month"] == "2014-12"
    periods[0]["from_month"] = "2008-13"
    assert ("contribution_periods", 0, "from_month") in _errors(_record(contribution_periods=periods))


@pytest.mark.parametrize(
    ("change", "where", "kind"),
    [
        ({"to_month": "2008-01"}, ("contribution_periods", 0, "to_month"), "period_ends_before_start"),
        ({"to_month": None}, ("contribution_periods", 0, "to_month"), "open_period_not_last"),
        ({"to_month": "2015-03"}, ("contribution_periods", 1, "from_month"), "periods_overlap"),
        ({"employer_tax_code": None}, ("contribution_periods", 0, "employer_tax_code"), "employer_missing"),
        ({"employer_tax_code": "5800123457"}, ("contribution_periods", 0, "employer_tax_code"), "value_error"),
        ({"participation_types": ["BHXH_TN", "BHYT"]}, ("contribution_periods", 0, "participation_types"), None),
        ({"participation_types": ["BHYT", "BHYT"]}, ("contribution_periods", 0, "participation_types"), None),
        ({"from_month": "1990-01"}, ("contribution_periods", 0, "from_month"), "period_before_working_age"),
    ],
)
def test_period_rules(change: dict[str, Any], where: tuple[Any, ...], kind: str | None) -> None:
    periods = copy.deepcopy(EXAMPLE["contribution_periods"])
    periods[0].update(change)
    errors = _errors(_record(contribution_periods=periods))
    assert where in errors
    if kind is not None:
        assert errors[where] == kind


def test_a_period_cannot_start_in_the_future() -> None:
    periods = copy.deepcopy(EXAMPLE["contribution_periods"])
    later = vietnam_today() + timedelta(days=62)
    periods[1]["from_month"] = f"{later.year}-{later.month:02d}"
    assert _errors(_record(contribution_periods=periods))[("contribution_periods", 1, "from_month")] == "date_in_future"


def test_status_agrees_with_the_open_period_and_the_death() -> None:
    assert _errors(_record(status="paused"))[("status",)] == "status_disagrees_with_periods"
    periods = copy.deepcopy(EXAMPLE["contribution_periods"])
    periods[1]["to_month"] = "2020-06"
    assert Participant.model_validate(_record(status="paused", contribution_periods=periods)).status == "paused"
    assert _errors(_record(status="deceased", contribution_periods=periods))[("status",)] == (
        "status_disagrees_with_death"
    )
    dead = Participant.model_validate(
        _record(status="deceased", date_of_death="2020-07-03", contribution_periods=periods)
    )
    assert dead.date_of_death == date(2020, 7, 3)
    errors = _errors(_record(status="deceased", date_of_death="2020-05-03", contribution_periods=periods))
    assert errors[("contribution_periods", 1, "to_month")] == "contribution_after_death"


def test_the_participant_is_checked_against_the_personal_id() -> None:
    errors = _errors(_record(participant={**EXAMPLE["participant"], "gender": "male"}))
    assert errors[("participant", "gender")] == "gender_mismatch"


def test_query_combinations_and_matching() -> None:
    record = Participant.model_validate(EXAMPLE)
    assert ParticipantQuery(personal_id="068185000123").matches(record)
    assert ParticipantQuery(full_name="nguyễn thị  MAI", date_of_birth="1985").matches(record)
    assert not ParticipantQuery(full_name="Nguyễn Thi Mai", date_of_birth="1985").matches(record)
    assert not ParticipantQuery(personal_id="068185000124").matches(record)
    with pytest.raises(ValidationError):
        ParticipantQuery(full_name="Nguyễn Thị Mai")
    with pytest.raises(ValidationError):
        ParticipantQuery(social_insurance_code="6823001457")  # type: ignore[call-arg]
