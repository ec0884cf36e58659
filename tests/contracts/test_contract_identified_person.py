"""IdentifiedPerson: a person named by personal id, whose gender and birth year must agree with the id."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson, identified_person_problems

PERSON = {
    "personal_id": "068185000123",
    "full_name": "Nguyễn Thị Mai",
    "date_of_birth": "1985-03-12",
    "gender": "female",
}


def _types(**changes: str) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as info:
        IdentifiedPerson.model_validate({**PERSON, **changes})
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_a_consistent_person() -> None:
    person = IdentifiedPerson.model_validate({**PERSON, "date_of_birth": "00/03/1985"})
    assert str(person.date_of_birth) == "1985-03"
    assert identified_person_problems(person, vietnam_today()) == []


def test_gender_and_birth_year_must_agree_with_the_id() -> None:
    assert _types(gender="male") == {("gender",): "gender_mismatch"}
    assert _types(date_of_birth="1986") == {("date_of_birth",): "birth_year_mismatch"}


def test_birth_may_not_lie_in_the_future() -> None:
    person = IdentifiedPerson.model_validate(PERSON)
    problems = identified_person_problems(person, date(1985, 3, 1))
    assert [p.error_type for p in problems] == ["date_in_future"]
    soon = vietnam_today() + timedelta(days=40)
    century = "2" if soon.year >= 2000 else "0"
    pid = f"068{century}{soon.year % 100:02d}000123"
    assert ("date_of_birth",) in _types(personal_id=pid, date_of_birth=soon.isoformat(), gender="male")


def test_unknown_fields_and_bad_ids_are_refused() -> None:
    assert ("nickname",) in _types(nickname="Mai")
    assert ("personal_id",) in _types(personal_id="06818500012")
