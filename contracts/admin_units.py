"""Current administrative units of Viet Nam (since 1 July 2025): 34 provinces, each divided into wards.

Since the 2025 reform local government has two levels: the province (``tỉnh`` or centrally governed city)
and below it the ward, commune or special zone (``phường``, ``xã``, ``đặc khu``); districts are gone. The
list of units and their codes comes from the ``vietnam_provinces`` package (General Statistics Office
codes). In contracts the codes travel as zero-padded strings: a province as two digits (``"68"``), a
ward as five digits (``"24781"``).

The tables are read from the package's own data file (``data/nested-divisions.json``, the list its modules are
generated from), without importing the package: its modules hold every code as an enum member and every unit as
an object, about 3 MiB in each gateway worker, where these tables hold the same names and codes in under one.
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems, require_ascii_digits

__all__ = [
    "Address",
    "AddressLine",
    "AdminArea",
    "ProvinceCode",
    "UnknownAdminUnit",
    "WardCode",
    "province_name",
    "ward_name",
    "ward_province",
    "wards_of",
]


class UnknownAdminUnit(ValueError):
    """Raised when a province or ward code is well formed but does not exist."""


#: The data file of ``vietnam_provinces`` the tables are read from: the provinces, each with its wards.
DIVISIONS_FILE = "data/nested-divisions.json"


def _divisions() -> list[dict[str, Any]]:
    """The provinces of ``vietnam_provinces``' data file, each with its ``wards``, found without importing the
    package."""
    spec = importlib.util.find_spec("vietnam_provinces")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the package vietnam_provinces (distribution vietnam-provinces) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / DIVISIONS_FILE
    divisions: list[dict[str, Any]] = json.loads(path.read_bytes())
    return divisions


@cache
def _tables() -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Two-digit province code -> canonical name, and five-digit ward code -> (canonical name, two-digit province
    code), built once."""
    provinces: dict[str, str] = {}
    wards: dict[str, tuple[str, str]] = {}
    for province in _divisions():
        code = f"{province['code']:02d}"
        provinces[code] = province["name"]
        for ward in province["wards"]:
            wards[f"{ward['code']:05d}"] = (ward["name"], code)
    return provinces, wards


def _provinces() -> dict[str, str]:
    """Two-digit province code -> canonical name."""
    return _tables()[0]


def _wards() -> dict[str, tuple[str, str]]:
    """Five-digit ward code -> (canonical name, two-digit province code)."""
    return _tables()[1]


@cache
def _wards_by_province() -> dict[str, tuple[tuple[str, str], ...]]:
    """Two-digit province code -> its wards as (code, name), sorted by code."""
    grouped: dict[str, list[tuple[str, str]]] = {code: [] for code in _provinces()}
    for code, (name, province) in sorted(_wards().items()):
        grouped[province].append((code, name))
    return {province: tuple(wards) for province, wards in grouped.items()}


def province_name(code: str) -> str:
    """Return the canonical name of the province with two-digit ``code`` (``"68"`` -> ``"Lâm Đồng"``).

    Raises ``ValueError`` for a malformed code and :class:`UnknownAdminUnit` for an unknown one.
    """
    name = _provinces().get(code)
    if name is None:  # every key of the table is well formed: only a miss needs telling malformed from unknown
        require_ascii_digits(code, 2, "a province code")
        raise UnknownAdminUnit(f"province code {code!r} is not one of the 34 current provinces")
    return name


def _ward(code: str) -> tuple[str, str]:
    ward = _wards().get(code)
    if ward is None:
        require_ascii_digits(code, 5, "a ward code")
        raise UnknownAdminUnit(f"ward code {code!r} is not a current ward, commune or special zone")
    return ward


def ward_name(code: str) -> str:
    """Return the canonical name of the ward with five-digit ``code`` (``"Phường Xuân Hương - Đà Lạt"``).

    Raises ``ValueError`` for a malformed code and :class:`UnknownAdminUnit` for an unknown one.
    """
    return _ward(code)[0]


def ward_province(code: str) -> str:
    """Return the two-digit code of the province the ward with five-digit ``code`` belongs to."""
    return _ward(code)[1]


def wards_of(province_code: str) -> list[tuple[str, str]]:
    """Return the wards of a province as ``(ward code, ward name)`` pairs sorted by code."""
    province_name(province_code)  # validates the code
    return list(_wards_by_province()[province_code])


def _check_province_code(code: str) -> str:
    province_name(code)
    return code


def _check_ward_code(code: str) -> str:
    ward_name(code)
    return code


ProvinceCode = Annotated[
    str,
    AfterValidator(_check_province_code),
    JsonSchemaExtra(
        pattern=r"^[0-9]{2}$",
        description="Two-digit code of a current (post-July 2025) province or centrally governed city.",
        examples=["68", "01", "79"],
    ),
]
"""A two-digit code of one of the 34 current provinces, as a string (``"68"``); validated to exist."""

WardCode = Annotated[
    str,
    AfterValidator(_check_ward_code),
    JsonSchemaExtra(
        pattern=r"^[0-9]{5}$",
        description="Five-digit code of a current ward (phường), commune (xã) or special zone (đặc khu).",
        examples=["24781", "00070"],
    ),
]
"""A five-digit code of a current ward, commune or special zone, as a string (``"24781"``)."""


def _clean_line(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value)
    # A printable line has no control or format characters; anything else is looked at character by character.
    if not value.isprintable() and any(unicodedata.category(ch) in {"Cc", "Cf"} and not ch.isspace() for ch in value):
        raise ValueError("an address line must not contain control characters")
    return " ".join(value.split())


AddressLine = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    BeforeValidator(_clean_line),
    JsonSchemaExtra(
        description=(
            "The part of an address below the ward: house number, street, hamlet (thôn, ấp, bản) or "
            "residential group (tổ dân phố). Unicode NFC, whitespace collapsed to single spaces."
        ),
        examples=["12 Trần Phú, tổ dân phố 3", "Thôn Đạ Nghịch"],
    ),
]
"""The street-level part of an address: NFC-normalised, whitespace collapsed, 1 to 200 characters."""


class AdminArea(BaseModel):
    """A place given by current administrative units: a province and, optionally, a ward in it.

    ``province_name`` and ``ward_name`` are derived: whatever the input says, validation replaces them
    with the canonical names of the codes (or ``None`` when there is no ward), so they can be shown to
    people without a lookup. A ward must belong to the province.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    province_code: ProvinceCode = Field(description="Two-digit code of the current province.", examples=["68"])
    ward_code: WardCode | None = Field(
        default=None,
        description="Five-digit code of the ward, commune or special zone; it must lie in the province.",
        examples=["24781"],
    )
    province_name: str | None = Field(
        default=None,
        description="Canonical province name, derived from province_code; any input value is replaced.",
        examples=["Lâm Đồng"],
        json_schema_extra={"readOnly": True},
    )
    ward_name: str | None = Field(
        default=None,
        description="Canonical ward name, derived from ward_code (null without a ward); input is replaced.",
        examples=["Phường Xuân Hương - Đà Lạt"],
        json_schema_extra={"readOnly": True},
    )

    @field_validator("province_name", mode="after")
    @classmethod
    def _derive_province_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        code = info.data.get("province_code")
        return province_name(code) if code is not None else value

    @field_validator("ward_name", mode="after")
    @classmethod
    def _derive_ward_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "ward_code" not in info.data:  # the ward code itself failed validation
            return value
        code = info.data["ward_code"]
        return ward_name(code) if code is not None else None

    @model_validator(mode="after")
    def _ward_in_province(self) -> Self:
        if self.ward_code is not None:
            actual = ward_province(self.ward_code)
            if actual != self.province_code:
                message = (
                    f"ward_code {self.ward_code} ({ward_name(self.ward_code)}) belongs to province "
                    f"{actual} ({province_name(actual)}), not to province_code {self.province_code} "
                    f"({province_name(self.province_code)})"
                )
                problem = FieldProblem(("ward_code",), "ward_not_in_province", message, self.ward_code)
                raise_field_problems(type(self).__name__, [problem])
        return self


class Address(AdminArea):
    """A postal address: a ward of a current province plus the street-level ``line``.

    Unlike :class:`AdminArea` the ward is required.
    """

    ward_code: WardCode = Field(
        description="Five-digit code of the ward, commune or special zone; it must lie in the province.",
        examples=["24781"],
    )
    line: AddressLine = Field(
        description="House number, street, hamlet or residential group, below the ward.",
        examples=["12 Trần Phú, tổ dân phố 3"],
    )
