"""Full names: normalisation, accepted characters and the family/middle/given split."""

import re
import unicodedata

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.names import FullName, NameParts, clean_name, normalize_name, split_full_name

FULL_NAME: TypeAdapter[str] = TypeAdapter(FullName)


def test_decomposed_input_is_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Mai")
    assert decomposed != "Nguyễn Thị Mai"
    assert FULL_NAME.validate_python(decomposed) == "Nguyễn Thị Mai"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Nguyễn   Thị\tMai ", "Nguyễn Thị Mai"),
        ("Trần\u00a0Văn\nAn", "Trần Văn An"),
        ("K’ Brơi", "K' Brơi"),
        ("H‘Hen Niê", "H'Hen Niê"),
        ("Lê\u2010Phạm Hùng", "Lê-Phạm Hùng"),
    ],
)
def test_whitespace_and_punctuation_are_normalised(raw: str, expected: str) -> None:
    assert FULL_NAME.validate_python(raw) == expected
    assert clean_name(raw) == expected


@pytest.mark.parametrize(
    "name",
    [
        "K' Brơi",
        "Ka Huê",
        "Ma Thị Hoa",
        "H'Hen Niê",
        "Y Ngông Niê Kđăm",
        "Đặng Thị Ngọc Thịnh",
        "Trần-Lê Minh",
        "Mai",
        "Nông Văn Dền",
        "Lý A Sử",
    ],
)
def test_real_names_pass_unchanged(name: str) -> None:
    assert FULL_NAME.validate_python(name) == name
    assert re.fullmatch(FULL_NAME.json_schema()["pattern"], name)


@pytest.mark.parametrize(
    "name",
    ["Nguyễn Văn 2", "Nguyen_Van", "Trần@Văn", "Lê.Văn", "An (Bé)", "Hoa!", "Mai 👍", "'", "Văn - An"],
)
def test_digits_and_symbols_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        FULL_NAME.validate_python(name)


@pytest.mark.parametrize("name", ["", "   ", "a" * 101])
def test_length_limits(name: str) -> None:
    with pytest.raises(ValidationError):
        FULL_NAME.validate_python(name)


def test_hundred_characters_accepted() -> None:
    name = "A" * 100
    assert FULL_NAME.validate_python(f"  {name}  ") == name


def test_error_message_lists_offending_characters() -> None:
    with pytest.raises(ValidationError, match=r"found '1', '@'"):
        FULL_NAME.validate_python("An@1")


def test_json_schema() -> None:
    schema = FULL_NAME.json_schema()
    assert schema["type"] == "string"
    assert (schema["minLength"], schema["maxLength"]) == (1, 100)
    assert "apostrophes" in schema["description"]
    assert schema["examples"]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Nguyễn Thị Mai", "nguyễn  THỊ mai"),
        ("K' Brơi", "k’ brơi"),
        (unicodedata.normalize("NFD", "Đặng Hòa"), "đặng hòa"),
    ],
)
def test_normalize_name_equates_spellings(left: str, right: str) -> None:
    assert normalize_name(left) == normalize_name(right)


def test_normalize_name_keeps_diacritics() -> None:
    assert normalize_name("Hòa") != normalize_name("Hoa")


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("Nguyễn Thị Mai", NameParts("Nguyễn", "Thị", "Mai")),
        ("Nguyễn Văn Minh Tuấn", NameParts("Nguyễn", "Văn Minh", "Tuấn")),
        ("Lê Hùng", NameParts("Lê", "", "Hùng")),
        ("K' Brơi", NameParts("K'", "", "Brơi")),
        ("Mai", NameParts("", "", "Mai")),
        ("  Trần   Văn  An ", NameParts("Trần", "Văn", "An")),
    ],
)
def test_split_full_name(name: str, parts: NameParts) -> None:
    assert split_full_name(name) == parts


def test_split_empty_name_fails() -> None:
    with pytest.raises(ValueError, match="empty"):
        split_full_name("  ")
