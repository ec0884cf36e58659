"""CitizenQuery: which combinations of criteria are allowed and what they match."""

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.dates import PartialDate
from contracts.population import Citizen, CitizenQuery


def record(**changes: Any) -> Citizen:
    data = copy.deepcopy(Citizen.contract_schema()["examples"][0])  # Nguyễn Thị Mai, 1985-03-12, 250123456
    data.update(changes)
    return Citizen.model_validate(data)


@pytest.mark.parametrize(
    "criteria",
    [
        {"full_name": "Nguyễn Thị Mai", "date_of_birth": "1985-03-12"},
        {"full_name": "Nguyễn Thị Mai", "date_of_birth": "00/00/1985"},
        {"old_id_number": "250123456"},
        {"old_id_number": "250123456", "full_name": "Nguyễn Thị Mai"},
        {"old_id_number": "250123456", "date_of_birth": "1985"},
        {"old_id_number": "250123456", "full_name": "Nguyễn Thị Mai", "date_of_birth": "1985-03"},
    ],
)
def test_allowed_combinations(criteria: dict[str, Any]) -> None:
    query = CitizenQuery.model_validate(criteria)
    assert query.model_dump(exclude_none=True).keys() == criteria.keys()


@pytest.mark.parametrize(
    ("criteria", "given"),
    [
        ({}, "no criteria"),
        ({"full_name": "Nguyễn Thị Mai"}, "got full_name"),
        ({"date_of_birth": "1985"}, "got date_of_birth"),
    ],
)
def test_refused_combinations(criteria: dict[str, Any], given: str) -> None:
    with pytest.raises(ValidationError) as info:
        CitizenQuery.model_validate(criteria)
    message = info.value.errors()[0]["msg"]
    assert "full_name together with date_of_birth, or old_id_number" in message
    assert given in message


def test_criteria_are_validated() -> None:
    with pytest.raises(ValidationError):
        CitizenQuery(old_id_number="12345")
    with pytest.raises(ValidationError):
        CitizenQuery.model_validate({"full_name": "An 2", "date_of_birth": "1985"})
    with pytest.raises(ValidationError, match="extra"):
        CitizenQuery.model_validate({"old_id_number": "250123456", "personal_id": "068185000123"})


def test_query_is_frozen_and_normalises_name() -> None:
    query = CitizenQuery.model_validate({"full_name": "  nguyễn   thị mai ", "date_of_birth": "00/03/1985"})
    assert query.full_name == "nguyễn thị mai"
    assert query.date_of_birth == PartialDate(1985, 3)
    with pytest.raises(ValidationError):
        query.old_id_number = "250123456"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("query_dob", "record_dob", "expected"),
    [
        ("1985-03-12", "1985-03-12", True),
        ("1985-03-12", "1985-03-13", False),
        ("1985", "1985-03-12", True),
        ("1985", "1985-03", True),
        ("1985", "1985", True),
        ("1986", "1985-03-12", False),
        ("1985-03", "1985-03-12", True),
        ("1985-03", "1985-04-01", False),
        ("1985-03-12", "1985", False),
        ("1985-03-12", "1985-03", False),
    ],
)
def test_date_of_birth_matching(query_dob: str, record_dob: str, expected: bool) -> None:
    query = CitizenQuery.model_validate({"full_name": "Nguyễn Thị Mai", "date_of_birth": query_dob})
    assert query.matches(record(date_of_birth=record_dob)) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Nguyễn Thị Mai", True),
        ("NGUYỄN  THỊ MAI", True),
        ("Nguyen Thi Mai", False),
        ("Nguyễn Thị Mại", False),
    ],
)
def test_name_matching(name: str, expected: bool) -> None:
    query = CitizenQuery.model_validate({"full_name": name, "date_of_birth": "1985"})
    assert query.matches(record()) is expected


def test_old_id_matching_and_all_criteria_must_hold() -> None:
    assert CitizenQuery(old_id_number="250123456").matches(record())
    assert not CitizenQuery(old_id_number="250123457").matches(record())
    assert not CitizenQuery(old_id_number="250123456").matches(record(old_id_number=None))
    both = CitizenQuery.model_validate(
        {"old_id_number": "250123456", "full_name": "Trần Văn An", "date_of_birth": "1985"}
    )
    assert not both.matches(record())
