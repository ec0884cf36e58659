"""The 54 ethnic groups and the EthnicGroupCode type."""

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.ethnicity import ETHNIC_GROUPS, EthnicGroupCode, ethnic_group_name

CODE: TypeAdapter[str] = TypeAdapter(EthnicGroupCode)


def test_there_are_54_groups_with_unique_names() -> None:
    assert len(ETHNIC_GROUPS) == 54
    assert list(ETHNIC_GROUPS) == [f"{n:02d}" for n in range(1, 55)]
    assert len(set(ETHNIC_GROUPS.values())) == 54


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("01", "Kinh"),
        ("05", "Khơ-me"),
        ("08", "Hmông"),
        ("16", "Cơ-ho"),
        ("23", "Bru-Vân Kiều"),
        ("54", "Rơ-măm"),
    ],
)
def test_names(code: str, name: str) -> None:
    assert ethnic_group_name(code) == name
    assert CODE.validate_python(code) == code


@pytest.mark.parametrize("code", ["00", "55", "1", "001", "99", "Kinh", ""])
def test_unknown_codes_rejected(code: str) -> None:
    with pytest.raises(KeyError):
        ethnic_group_name(code)
    with pytest.raises(ValidationError, match="not an ethnic group code"):
        CODE.validate_python(code)


def test_integers_rejected() -> None:
    with pytest.raises(ValidationError):
        CODE.validate_python(1)


def test_json_schema_lists_codes() -> None:
    schema = CODE.json_schema()
    assert schema["type"] == "string"
    assert schema["enum"] == list(ETHNIC_GROUPS)
    assert "01 Kinh" in schema["description"] and "54 Rơ-măm" in schema["description"]


def test_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        ETHNIC_GROUPS["55"] = "x"  # type: ignore[index]
