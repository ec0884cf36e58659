"""Current administrative units: lookups, code types and the AdminArea / Address models."""

import subprocess
import sys

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.admin_units import (
    Address,
    AdminArea,
    ProvinceCode,
    UnknownAdminUnit,
    WardCode,
    province_name,
    ward_name,
    ward_province,
    wards_of,
)

XUAN_HUONG = "24781"  # Phường Xuân Hương - Đà Lạt, Lâm Đồng (68)
HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội (01)


@pytest.mark.parametrize(
    ("code", "name"),
    [("68", "Lâm Đồng"), ("01", "Thành phố Hà Nội"), ("79", "Thành phố Hồ Chí Minh"), ("96", "Cà Mau")],
)
def test_province_name(code: str, name: str) -> None:
    assert province_name(code) == name


def test_ward_lookups() -> None:
    assert ward_name(XUAN_HUONG) == "Phường Xuân Hương - Đà Lạt"
    assert ward_province(XUAN_HUONG) == "68"
    assert ward_name(HOAN_KIEM) == "Phường Hoàn Kiếm"
    assert ward_province(HOAN_KIEM) == "01"


def test_the_tables_hold_every_unit_of_vietnam_provinces_as_its_modules_do() -> None:
    from vietnam_provinces import Province, Ward

    provinces = {f"{p.code.value:02d}": p.name for p in Province.iter_all()}
    assert len(provinces) == 34
    assert {code: province_name(code) for code in provinces} == provinces
    wards = {f"{w.code.value:05d}": (w.name, f"{w.province_code.value:02d}") for w in Ward.iter_all()}
    assert len(wards) > 3000
    assert {code: (ward_name(code), ward_province(code)) for code in wards} == wards
    assert sum(len(wards_of(code)) for code in provinces) == len(wards)


def test_validating_an_address_does_not_import_the_package_modules() -> None:
    script = (
        "import sys\n"
        "from contracts.admin_units import Address\n"
        f"Address(province_code='68', ward_code='{XUAN_HUONG}', line='12 Trần Phú')\n"
        "print(sorted(m for m in sys.modules if m.startswith('vietnam_provinces')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_wards_of() -> None:
    wards = wards_of("68")
    assert (XUAN_HUONG, "Phường Xuân Hương - Đà Lạt") in wards
    assert wards == sorted(wards)
    assert all(ward_province(code) == "68" for code, _ in wards)
    wards.clear()  # callers get their own list
    assert wards_of("68")


@pytest.mark.parametrize("code", ["03", "00", "99"])
def test_unknown_province(code: str) -> None:
    with pytest.raises(UnknownAdminUnit):
        province_name(code)
    with pytest.raises(UnknownAdminUnit):
        wards_of(code)


@pytest.mark.parametrize("code", ["99999", "00001"])
def test_unknown_ward(code: str) -> None:
    with pytest.raises(UnknownAdminUnit):
        ward_name(code)


@pytest.mark.parametrize(("function", "code"), [(province_name, "068"), (province_name, "8"), (ward_name, "4781")])
def test_malformed_codes(function: object, code: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        function(code)  # type: ignore[operator]


def test_code_types() -> None:
    assert TypeAdapter(ProvinceCode).validate_python("68") == "68"
    assert TypeAdapter(WardCode).validate_python(XUAN_HUONG) == XUAN_HUONG
    for adapter, bad in [(TypeAdapter(ProvinceCode), "68 "), (TypeAdapter(ProvinceCode), "03")]:
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
    with pytest.raises(ValidationError):
        TypeAdapter(WardCode).validate_python(24781)
    assert TypeAdapter(ProvinceCode).json_schema()["pattern"] == "^[0-9]{2}$"
    assert TypeAdapter(WardCode).json_schema()["pattern"] == "^[0-9]{5}$"


def test_admin_area_fills_canonical_names() -> None:
    area = AdminArea(province_code="68", ward_code=XUAN_HUONG)
    assert area.province_name == "Lâm Đồng"
    assert area.ward_name == "Phường Xuân Hương - Đà Lạt"
    assert area.model_dump() == {
        "province_code": "68",
        "ward_code": XUAN_HUONG,
        "province_name": "Lâm Đồng",
        "ward_name": "Phường Xuân Hương - Đà Lạt",
    }


def test_admin_area_replaces_input_names() -> None:
    area = AdminArea.model_validate(
        {"province_code": "68", "ward_code": XUAN_HUONG, "province_name": "Lam Dong", "ward_name": "Đà Lạt"}
    )
    assert area.province_name == "Lâm Đồng"
    assert area.ward_name == "Phường Xuân Hương - Đà Lạt"
    no_ward = AdminArea.model_validate({"province_code": "68", "ward_name": "anything"})
    assert no_ward.ward_name is None
    assert no_ward.province_name == "Lâm Đồng"


def test_admin_area_round_trips_through_json() -> None:
    area = AdminArea(province_code="68", ward_code=XUAN_HUONG)
    assert AdminArea.model_validate_json(area.model_dump_json()) == area


def test_unknown_ward_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        AdminArea(province_code="68", ward_code="99999")
    assert [error["loc"] for error in info.value.errors()] == [("ward_code",)]


def test_ward_of_another_province_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        AdminArea(province_code="01", ward_code=XUAN_HUONG)
    (error,) = info.value.errors()
    assert error["loc"] == ("ward_code",)
    assert error["type"] == "ward_not_in_province"
    assert "ward_code 24781" in error["msg"] and "province_code 01" in error["msg"]
    assert "Lâm Đồng" in error["msg"] and "Hà Nội" in error["msg"]


def test_admin_area_is_frozen_and_strict() -> None:
    area = AdminArea(province_code="68")
    with pytest.raises(ValidationError):
        area.province_code = "01"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        AdminArea.model_validate({"province_code": "68", "district_code": "672"})


def test_admin_area_schema_documents_derived_names() -> None:
    schema = AdminArea.model_json_schema(mode="serialization")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["province_name"]["readOnly"] is True
    assert "derived" in schema["properties"]["ward_name"]["description"]


def test_address_normalises_line() -> None:
    address = Address(province_code="68", ward_code=XUAN_HUONG, line="  12   Tra\u0302\u0300n Phu\u0301,\ttổ 3 \n")
    assert address.line == "12 Trần Phú, tổ 3"
    assert address.ward_name == "Phường Xuân Hương - Đà Lạt"


@pytest.mark.parametrize("line", ["", "   ", "x" * 201, "12 Trần Phú\x00"])
def test_address_line_rejected(line: str) -> None:
    with pytest.raises(ValidationError):
        Address(province_code="68", ward_code=XUAN_HUONG, line=line)


def test_address_requires_a_ward() -> None:
    with pytest.raises(ValidationError) as info:
        Address.model_validate({"province_code": "68", "line": "12 Trần Phú"})
    assert info.value.errors()[0]["loc"] == ("ward_code",)
    assert "ward_code" in Address.model_json_schema()["required"]


def test_address_ward_must_be_in_province() -> None:
    with pytest.raises(ValidationError, match="belongs to province 01"):
        Address(province_code="68", ward_code=HOAN_KIEM, line="1 Tràng Tiền")
