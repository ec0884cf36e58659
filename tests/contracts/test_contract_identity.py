"""Personal identification numbers and old identity card numbers."""

import dataclasses

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.identity import (
    Gender,
    IdCardNumber,
    PersonalId,
    PersonalIdParts,
    make_personal_id,
    parse_personal_id,
)

PERSONAL_ID: TypeAdapter[str] = TypeAdapter(PersonalId)
ID_CARD: TypeAdapter[str] = TypeAdapter(IdCardNumber)

CENTURIES = [(1900, "0", "1"), (2000, "2", "3"), (2100, "4", "5"), (2200, "6", "7"), (2300, "8", "9")]


@pytest.mark.parametrize(("century", "male_digit", "female_digit"), CENTURIES)
@pytest.mark.parametrize("gender", [Gender.MALE, Gender.FEMALE])
@pytest.mark.parametrize("year_in_century", [0, 7, 85, 99])
def test_build_and_parse_round_trip(
    century: int, male_digit: str, female_digit: str, gender: Gender, year_in_century: int
) -> None:
    year = century + year_in_century
    pid = make_personal_id(province_code="068", gender=gender, birth_year=year, serial=123)
    digit = male_digit if gender is Gender.MALE else female_digit
    assert pid == f"068{digit}{year_in_century:02d}000123"
    parts = parse_personal_id(pid)
    assert parts == PersonalIdParts(province_code="068", gender=gender, birth_year=year, serial=123)
    assert make_personal_id(**dataclasses.asdict(parts)) == pid
    assert PERSONAL_ID.validate_python(pid) == pid


@pytest.mark.parametrize(
    ("pid", "province", "gender", "year", "serial"),
    [
        ("001090012345", "001", "male", 1990, 12345),
        ("068185000123", "068", "female", 1985, 123),
        ("096200999999", "096", "male", 2000, 999999),
        ("079325000000", "079", "female", 2025, 0),
    ],
)
def test_parse_known_numbers(pid: str, province: str, gender: str, year: int, serial: int) -> None:
    parts = parse_personal_id(pid)
    assert (parts.province_code, parts.gender, parts.birth_year, parts.serial) == (
        province,
        gender,
        year,
        serial,
    )


def test_gender_is_a_str_enum() -> None:
    assert Gender("male") is Gender.MALE
    assert str(Gender.FEMALE) == "female"
    assert isinstance(Gender.MALE, str)
    assert [g.value for g in Gender] == ["male", "female"]


@pytest.mark.parametrize("prefix", ["000", "003", "097", "099", "100", "999"])
def test_unknown_province_codes_are_rejected(prefix: str) -> None:
    pid = f"{prefix}185000123"
    with pytest.raises(ValueError, match=f"'{prefix}'"):
        parse_personal_id(pid)
    with pytest.raises(ValidationError, match="province where the birth was registered"):
        PERSONAL_ID.validate_python(pid)


@pytest.mark.parametrize(
    "value",
    ["", "06818500012", "0681850001234", "06818500012a", "O68185000123", " 068185000123", "068-185-000"],
)
def test_malformed_personal_ids_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError, match="exactly 12 digits"):
        PERSONAL_ID.validate_python(value)
    with pytest.raises(ValueError, match="exactly 12 digits"):
        parse_personal_id(value)


def test_non_ascii_digits_are_rejected() -> None:
    with pytest.raises(ValidationError):
        PERSONAL_ID.validate_python("٠٦٨١٨٥٠٠٠١٢٣")


def test_integers_are_not_personal_ids() -> None:
    with pytest.raises(ValidationError):
        PERSONAL_ID.validate_python(68185000123)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"province_code": "003"}, "province_code"),
        ({"province_code": "68"}, "province_code"),
        ({"gender": "other"}, "gender"),
        ({"birth_year": 1899}, "birth_year"),
        ({"birth_year": 2400}, "birth_year"),
        ({"serial": -1}, "serial"),
        ({"serial": 1_000_000}, "serial"),
    ],
)
def test_make_personal_id_validates_ranges(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"province_code": "068", "gender": "male", "birth_year": 1990, "serial": 1}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        make_personal_id(**arguments)  # type: ignore[arg-type]


def test_make_personal_id_accepts_gender_strings() -> None:
    assert make_personal_id(province_code="001", gender="female", birth_year=2001, serial=5) == "001301000005"


def test_personal_id_json_schema() -> None:
    schema = PERSONAL_ID.json_schema()
    assert schema["type"] == "string"
    assert schema["pattern"] == "^[0-9]{12}$"
    assert schema["description"]
    assert all(PERSONAL_ID.validate_python(example) for example in schema["examples"])


@pytest.mark.parametrize("value", ["250123456", "000000000"])
def test_id_card_numbers_accepted(value: str) -> None:
    assert ID_CARD.validate_python(value) == value


@pytest.mark.parametrize("value", ["25012345", "2501234567", "25012345x", "068185000123", ""])
def test_id_card_numbers_rejected(value: str) -> None:
    with pytest.raises(ValidationError, match="exactly 9 digits"):
        ID_CARD.validate_python(value)


def test_id_card_json_schema() -> None:
    schema = ID_CARD.json_schema()
    assert schema["pattern"] == "^[0-9]{9}$"
    assert schema["type"] == "string"
    assert "CMND" in schema["description"]
