"""The pre-2025 province codes of personal identification numbers and their current provinces."""

import pytest
from vietnam_provinces import Province

from contracts.provinces import BIRTH_REGISTRATION_PROVINCES, BirthRegistrationProvince, current_province_of


def test_there_are_63_old_and_34_new_provinces() -> None:
    assert len(BIRTH_REGISTRATION_PROVINCES) == 63
    assert len({p.current_province_code for p in BIRTH_REGISTRATION_PROVINCES.values()}) == 34


def test_every_current_code_exists_in_vietnam_provinces() -> None:
    known = {f"{p.code.value:02d}" for p in Province.iter_all()}
    assert {p.current_province_code for p in BIRTH_REGISTRATION_PROVINCES.values()} == known


def test_keys_codes_and_names_are_consistent() -> None:
    for key, province in BIRTH_REGISTRATION_PROVINCES.items():
        assert isinstance(province, BirthRegistrationProvince)
        assert key == province.code
        assert len(key) == 3 and key.isdigit() and "001" <= key <= "096"
        assert len(province.current_province_code) == 2 and province.current_province_code.isdigit()
        assert province.name
    assert len({p.name for p in BIRTH_REGISTRATION_PROVINCES.values()}) == 63


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("067", "68"),
        ("058", "56"),
        ("010", "15"),
        ("015", "15"),
        ("001", "01"),
        ("002", "08"),
        ("027", "24"),
        ("024", "24"),
        ("044", "44"),
        ("072", "80"),
        ("080", "80"),
        ("077", "79"),
        ("064", "52"),
        ("052", "52"),
        ("095", "96"),
        ("093", "92"),
    ],
)
def test_spot_checks(old: str, new: str) -> None:
    assert current_province_of(old) == new


@pytest.mark.parametrize(
    ("new", "olds"),
    [
        ("68", {"068", "067", "060"}),
        ("79", {"079", "074", "077"}),
        ("37", {"037", "035", "036"}),
        ("25", {"025", "026", "017"}),
        ("86", {"086", "083", "084"}),
        ("92", {"092", "094", "093"}),
        ("38", {"038"}),
    ],
)
def test_merged_groups(new: str, olds: set[str]) -> None:
    assert {p.code for p in BIRTH_REGISTRATION_PROVINCES.values() if p.current_province_code == new} == olds


@pytest.mark.parametrize("code", ["000", "003", "097", "68", "0068", ""])
def test_unknown_code_raises_key_error(code: str) -> None:
    with pytest.raises(KeyError):
        current_province_of(code)


def test_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        BIRTH_REGISTRATION_PROVINCES["099"] = BirthRegistrationProvince("099", "x", "01")  # type: ignore[index]
