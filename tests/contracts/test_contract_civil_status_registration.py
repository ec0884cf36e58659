"""The contract ``civil_status.registration`` v1: shapes of the three kinds and their cross-field rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.civil_status import (
    CivilStatusRegistration,
    CivilStatusRegistrationQuery,
    RegistrationKind,
    registration_id,
)

CHILD = {
    "personal_id": "068185000123",
    "full_name": "Nguyễn Thị Mai",
    "date_of_birth": "1985-03-12",
    "gender": "female",
}
HUSBAND = {"personal_id": "068080000456", "full_name": "Trần Văn Hùng", "date_of_birth": "1980-05-01", "gender": "male"}
WIFE = {"personal_id": "068182000789", "full_name": "Lê Thị Lan", "date_of_birth": "1982", "gender": "female"}
OFFICE = {"province_code": "68", "ward_code": "24781"}


def birth() -> dict[str, Any]:
    return copy.deepcopy(CivilStatusRegistration.model_json_schema()["examples"][0])


def marriage() -> dict[str, Any]:
    return {
        "registration_id": "KH-24781-2005-000042",
        "kind": "marriage",
        "registration_number": 42,
        "book_number": "01/2005",
        "registry_office": OFFICE,
        "registration_date": "2005-06-20",
        "marriage": {"husband": HUSBAND, "wife": WIFE},
    }


def death() -> dict[str, Any]:
    return {
        "registration_id": "KT-24781-2024-000007",
        "kind": "death",
        "registration_number": 7,
        "book_number": "01/2024",
        "registry_office": OFFICE,
        "registration_date": "2024-11-05",
        "person": HUSBAND,
        "death": {"date_of_death": "2024-11-02", "place_of_death": {"province_code": "68", "ward_code": "24823"}},
    }


def errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        CivilStatusRegistration.model_validate(data)
    return [(e["loc"], e["type"]) for e in caught.value.errors()]


def test_registered_under_its_name() -> None:
    assert get_contract("civil_status.registration") is CivilStatusRegistration
    assert CivilStatusRegistration.contract_schema()["x-record-key"] == "registration_id"


@pytest.mark.parametrize("make", [birth, marriage, death])
def test_the_three_kinds_validate(make: Any) -> None:
    record = CivilStatusRegistration.model_validate(make())
    assert record.record_id() == make()["registration_id"]
    assert record.registry_office.ward_name == "Phường Xuân Hương - Đà Lạt"


def test_registration_id_is_built_from_its_parts() -> None:
    assert registration_id(RegistrationKind.DEATH, "24781", 2024, 7) == "KT-24781-2024-000007"


def test_the_section_must_match_the_kind() -> None:
    data = birth()
    data["kind"] = "death"
    data["registration_id"] = "KT" + data["registration_id"][2:]
    found = errors(data)
    assert (("birth",), "section_mismatch") in found
    assert (("death",), "section_missing") in found


def test_a_marriage_has_no_person() -> None:
    data = marriage()
    data["person"] = CHILD
    assert errors(data) == [(("person",), "person_mismatch")]
    data = death()
    del data["person"]
    assert (("person",), "person_mismatch") in errors(data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"registration_id": "KS-24781-1985-000124"}, (("registration_id",), "registration_id_mismatch")),
        ({"registration_number": 5}, (("registration_id",), "registration_id_mismatch")),
        ({"book_number": "01/1986"}, (("book_number",), "book_year_mismatch")),
        (
            {"registration_date": "1985-03-01", "book_number": "01/1985"},
            (("registration_date",), "registered_before_birth"),
        ),
        ({"registration_date": "2999-01-01"}, (("registration_date",), "date_in_future")),
    ],
)
def test_birth_rules(change: dict[str, Any], expected: tuple[tuple[Any, ...], str]) -> None:
    data = birth() | change
    assert expected in errors(data)


def test_the_birth_date_is_the_persons() -> None:
    data = birth()
    data["birth"]["date_of_birth"] = "1985-03-13"
    assert (("birth", "date_of_birth"), "birth_date_mismatch") in errors(data)
    data = birth()
    data["birth"]["mother_personal_id"] = data["person"]["personal_id"]
    assert errors(data) == [(("birth", "mother_personal_id"), "parent_is_child")]


def test_death_rules() -> None:
    data = death()
    data["registration_date"] = "2024-11-01"
    assert errors(data) == [(("registration_date",), "registered_before_death")]
    data = death()
    data["death"]["date_of_death"] = "1979-01-01"
    assert (("death", "date_of_death"), "death_before_birth") in errors(data)


def test_spouses_are_a_man_and_a_woman_born_before_the_marriage() -> None:
    data = marriage()
    data["marriage"] = {"husband": WIFE, "wife": HUSBAND}
    found = errors(data)
    assert (("marriage", "husband", "gender"), "spouse_gender") in found
    assert (("marriage", "wife", "gender"), "spouse_gender") in found
    data = marriage() | {
        "registration_id": "KH-24781-1981-000042",
        "book_number": "01/1981",
        "registration_date": "1981-06-20",
    }
    assert errors(data) == [(("marriage", "wife", "date_of_birth"), "married_before_birth")]


def test_a_spouse_is_checked_against_their_personal_id() -> None:
    data = marriage()
    data["marriage"]["wife"] = WIFE | {"date_of_birth": "1983"}
    assert (("marriage", "wife", "date_of_birth"), "birth_year_mismatch") in errors(data)


def test_a_query_names_a_person() -> None:
    with pytest.raises(ValidationError, match="names a person"):
        CivilStatusRegistrationQuery(kind=RegistrationKind.BIRTH)


def test_query_matching() -> None:
    born = CivilStatusRegistration.model_validate(birth())
    wed = CivilStatusRegistration.model_validate(marriage())
    by_child = CivilStatusRegistrationQuery(personal_id=CHILD["personal_id"])
    assert by_child.matches(born) and not by_child.matches(wed)
    assert not CivilStatusRegistrationQuery(personal_id=CHILD["personal_id"], kind=RegistrationKind.DEATH).matches(born)
    by_wife = CivilStatusRegistrationQuery(wife_personal_id=WIFE["personal_id"])
    assert by_wife.matches(wed) and not by_wife.matches(born)
    assert not CivilStatusRegistrationQuery(husband_personal_id=WIFE["personal_id"]).matches(wed)
