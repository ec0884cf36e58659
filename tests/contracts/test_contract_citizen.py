"""The population.citizen v1 contract: the example, cross-field rules, JSON Schema and immutability."""

import copy
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.dates import PartialDate, vietnam_today
from contracts.identity import make_personal_id
from contracts.population import Citizen, MaritalStatus, RelationToHead


def example() -> dict[str, Any]:
    """A deep copy of the example published in the contract's JSON Schema."""
    return copy.deepcopy(Citizen.contract_schema()["examples"][0])


def citizen(**changes: Any) -> Citizen:
    data = example()
    data.update(changes)
    return Citizen.model_validate(data)


def errors_of(**changes: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        citizen(**changes)
    return [dict(error) for error in info.value.errors()]


def only_error(**changes: Any) -> dict[str, Any]:
    (error,) = errors_of(**changes)
    return error


def test_example_validates_and_round_trips() -> None:
    record = citizen()
    assert record.personal_id == "068185000123"
    assert record.date_of_birth == PartialDate(1985, 3, 12)
    assert record.place_of_birth_registration.province_name == "Lâm Đồng"
    assert record.record_id() == "068185000123"
    assert record.model_dump(mode="json") == example()
    assert Citizen.model_validate_json(record.model_dump_json()) == record
    assert Citizen.model_validate(record.model_dump()) == record


def test_minimal_record_and_defaults() -> None:
    record = Citizen.model_validate(
        {
            "personal_id": "001090012345",
            "full_name": "Trần Văn An",
            "gender": "male",
            "date_of_birth": "00/00/1990",
            "ethnicity": "01",
            "place_of_birth_registration": {"province_code": "01"},
            "permanent_address": {"province_code": "01", "ward_code": "00070", "line": "1 Tràng Tiền"},
            "last_updated": "2025-10-01T00:00:00Z",
        }
    )
    assert record.nationality == "VN"
    assert record.date_of_birth.precision == "year"
    assert record.hometown is None and record.household_id is None and record.date_of_death is None


def test_identity_of_contract() -> None:
    assert Citizen.contract_name == "population.citizen"
    assert Citizen.contract_version == 1
    assert Citizen.record_key == "personal_id"


def test_field_names_are_the_contract() -> None:
    assert list(Citizen.model_fields) == [
        "personal_id",
        "old_id_number",
        "full_name",
        "gender",
        "date_of_birth",
        "ethnicity",
        "nationality",
        "place_of_birth_registration",
        "hometown",
        "permanent_address",
        "current_address",
        "household_id",
        "relation_to_head",
        "marital_status",
        "date_of_death",
        "last_updated",
    ]
    for name, field in Citizen.model_fields.items():
        assert field.description, name
        assert field.examples, name


def test_enums() -> None:
    assert [r.value for r in RelationToHead] == [
        "head", "spouse", "child", "parent", "grandparent", "grandchild", "sibling", "other",
    ]  # fmt: skip
    assert [m.value for m in MaritalStatus] == ["single", "married", "divorced", "widowed"]


def test_gender_must_agree_with_personal_id() -> None:
    error = only_error(gender="male")
    assert error["loc"] == ("gender",)
    assert error["type"] == "gender_mismatch"
    assert "gender" in error["msg"] and "personal_id" in error["msg"]


@pytest.mark.parametrize("dob", ["1986-03-12", "1995", "00/00/1885", "00/03/1984"])
def test_birth_year_must_agree_with_personal_id(dob: str) -> None:
    error = only_error(date_of_birth=dob)
    assert error["loc"] == ("date_of_birth",)
    assert error["type"] == "birth_year_mismatch"
    assert "date_of_birth" in error["msg"] and "personal_id" in error["msg"] and "1985" in error["msg"]


def test_century_digit_is_checked() -> None:
    # Same two year digits, next century: female born 2085 has digit 3.
    error = only_error(personal_id="068385000123")
    assert error["loc"] == ("date_of_birth",)
    assert "2085" in error["msg"]


def test_year_only_birth_date_agreeing_with_id_is_fine() -> None:
    assert citizen(date_of_birth="1985").date_of_birth == PartialDate(1985)
    assert citizen(date_of_birth="00/03/1985").date_of_birth == PartialDate(1985, 3)


@pytest.mark.parametrize("prefix", ["067", "060"])
def test_merged_birth_registration_province_is_accepted(prefix: str) -> None:
    # Đắk Nông (067) and Bình Thuận (060) are part of Lâm Đồng (68) since July 2025.
    assert citizen(personal_id=f"{prefix}185000123").personal_id.startswith(prefix)


def test_birth_registration_province_must_agree_with_personal_id() -> None:
    error = only_error(personal_id="001185000123")
    assert error["loc"] == ("place_of_birth_registration", "province_code")
    assert error["type"] == "birth_registration_province_mismatch"
    assert "personal_id" in error["msg"] and "place_of_birth_registration.province_code" in error["msg"]
    assert "001" in error["msg"] and "68" in error["msg"]


def test_all_violations_are_reported_together() -> None:
    errors = errors_of(personal_id="001085000123")  # Hà Nội, male
    assert {error["type"] for error in errors} == {"gender_mismatch", "birth_registration_province_mismatch"}


def test_date_of_birth_in_the_future_is_rejected() -> None:
    next_year = vietnam_today().year + 1
    pid = make_personal_id(province_code="068", gender="female", birth_year=next_year, serial=1)
    errors = errors_of(personal_id=pid, date_of_birth=str(next_year), date_of_death=None)
    assert [(e["loc"], e["type"]) for e in errors] == [(("date_of_birth",), "date_in_future")]
    assert "date_of_birth" in errors[0]["msg"] and "future" in errors[0]["msg"]


def test_birth_earlier_this_year_is_accepted() -> None:
    this_year = vietnam_today().year
    pid = make_personal_id(province_code="068", gender="female", birth_year=this_year, serial=1)
    record = citizen(personal_id=pid, date_of_birth=str(this_year))
    assert record.date_of_birth == PartialDate(this_year)


def test_date_of_death_in_the_future_is_rejected() -> None:
    error = only_error(date_of_death=(vietnam_today() + timedelta(days=1)).isoformat())
    assert error["loc"] == ("date_of_death",)
    assert error["type"] == "date_in_future"
    assert "date_of_death" in error["msg"]


@pytest.mark.parametrize(
    ("dob", "death", "ok"),
    [
        ("1985-03-12", "1985-03-11", False),
        ("1985-03-12", "1985-03-12", True),
        ("1985", "1984-12-31", False),
        ("1985", "1985-01-01", True),
        ("1985-03", "1985-02-28", False),
        ("1985-03", "1985-03-01", True),
    ],
)
def test_date_of_death_not_before_birth(dob: str, death: str, ok: bool) -> None:
    if ok:
        assert citizen(date_of_birth=dob, date_of_death=death).date_of_death == date.fromisoformat(death)
        return
    error = only_error(date_of_birth=dob, date_of_death=death)
    assert error["loc"] == ("date_of_death",)
    assert error["type"] == "death_before_birth"
    assert "date_of_death" in error["msg"] and "date_of_birth" in error["msg"]


def test_relation_to_head_needs_household() -> None:
    error = only_error(household_id=None)
    assert error["loc"] == ("relation_to_head",)
    assert error["type"] == "relation_without_household"
    assert "relation_to_head" in error["msg"] and "household_id" in error["msg"]
    assert citizen(household_id=None, relation_to_head=None).household_id is None
    assert citizen(relation_to_head=None).household_id == "HK-068-000123"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("personal_id", "06818500012"),
        ("personal_id", "097185000123"),
        ("old_id_number", "25012345"),
        ("full_name", "Nguyễn Thị 2"),
        ("gender", "f"),
        ("date_of_birth", "30/02/1985"),
        ("ethnicity", "55"),
        ("nationality", "vn"),
        ("nationality", "VNM"),
        ("household_id", "HK 068"),
        ("household_id", "X" * 21),
        ("relation_to_head", "cousin"),
        ("marital_status", "engaged"),
        ("last_updated", "2025-10-01T08:30:00"),
    ],
)
def test_field_types_are_enforced(field: str, value: Any) -> None:
    errors = errors_of(**{field: value})
    assert errors[0]["loc"][0] == field


def test_wards_in_nested_areas_are_checked() -> None:
    data = example()
    data["permanent_address"]["ward_code"] = "00070"  # Hoàn Kiếm, Hà Nội
    with pytest.raises(ValidationError) as info:
        Citizen.model_validate(data)
    (error,) = info.value.errors()
    assert error["loc"] == ("permanent_address", "ward_code")


def test_record_is_frozen_and_rejects_unknown_fields() -> None:
    record = citizen()
    with pytest.raises(ValidationError):
        record.full_name = "Other Name"  # type: ignore[misc]
    with pytest.raises(ValidationError) as info:
        citizen(blood_type="O")
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    assert hash(record) == hash(citizen())


def test_last_updated_keeps_its_offset() -> None:
    record = citizen(last_updated=datetime(2025, 10, 1, 1, 30, tzinfo=UTC))
    assert record.last_updated.utcoffset() == timedelta(0)


# -- JSON Schema ----------------------------------------------------------------------------------


def test_schema_identity() -> None:
    schema = Citizen.contract_schema()
    assert schema["$id"] == "urn:axis-gateway:contract:population.citizen@1"
    assert schema["x-contract-version"] == 1
    assert schema["x-contract-name"] == "population.citizen"
    assert schema["x-record-key"] == "personal_id"
    assert schema["additionalProperties"] is False


def test_schema_patterns_and_enums() -> None:
    schema = Citizen.contract_schema()
    props = schema["properties"]
    assert props["personal_id"]["pattern"] == "^[0-9]{12}$"
    assert props["old_id_number"]["anyOf"][0]["pattern"] == "^[0-9]{9}$"
    assert props["nationality"]["pattern"] == "^[A-Z]{2}$"
    assert props["household_id"]["anyOf"][0]["pattern"] == "^[0-9A-Za-z-]{1,20}$"
    assert props["ethnicity"]["enum"] == [f"{n:02d}" for n in range(1, 55)]
    assert props["date_of_birth"]["type"] == "string" and "pattern" in props["date_of_birth"]
    assert props["last_updated"]["format"] == "date-time"
    address = schema["$defs"]["Address"]["properties"]
    assert address["province_code"]["pattern"] == "^[0-9]{2}$"
    assert address["ward_code"]["pattern"] == "^[0-9]{5}$"
    assert schema["$defs"]["RelationToHead"]["enum"] == [r.value for r in RelationToHead]
    assert schema["$defs"]["MaritalStatus"]["enum"] == [m.value for m in MaritalStatus]
    assert set(schema["required"]) == {
        "personal_id", "full_name", "gender", "date_of_birth", "ethnicity",
        "place_of_birth_registration", "permanent_address", "last_updated",
    }  # fmt: skip


def test_schema_example_matches_the_patterns() -> None:
    schema = Citizen.contract_schema()
    sample = schema["examples"][0]
    for name in ("personal_id", "nationality"):
        assert re.fullmatch(schema["properties"][name]["pattern"], sample[name])
    assert re.fullmatch(schema["properties"]["date_of_birth"]["pattern"], sample["date_of_birth"])


def test_schema_validates_the_example() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = Citizen.contract_schema()
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(schema["examples"][0])
    validator.validate(citizen(date_of_death="2024-11-02").model_dump(mode="json"))
    assert not validator.is_valid({**schema["examples"][0], "personal_id": "12"})
