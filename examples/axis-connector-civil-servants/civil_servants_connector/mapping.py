"""How the Department of Home Affairs' API maps to ``civil_servants.official``: its field names on the right."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PING_PATH = "/status"
RECORDS_PATH = "/records"

#: The API's gender codes.
GENDERS = {1: "male", 2: "female"}
#: The API's categories: cán bộ, công chức, viên chức.
CATEGORIES = {"CB": "cadre", "CC": "civil_servant", "VC": "public_employee"}

#: Contract field -> the API's field.
FIELDS: dict[str, str] = {
    "staff_code": "ma_can_bo",
    "person.personal_id": "so_dinh_danh",
    "person.full_name": "ho_ten",
    "person.date_of_birth": "ngay_sinh",
    "person.gender": "gioi_tinh",
    "category": "loai",
    "agency_code": "ma_co_quan",
    "agency_name": "ten_co_quan",
    "position": "chuc_vu",
    "rank_code": "ma_ngach",
    "salary_grade": "bac_luong",
    "salary_coefficient": "he_so_luong",
    "recruited_on": "ngay_tuyen_dung",
    "updated": "ngay_cap_nhat",
}
CODE_LISTS: dict[str, Mapping[Any, str]] = {"person.gender": GENDERS, "category": CATEGORIES}
#: Query field -> the API's search parameter.
SEARCH_PARAMETERS = {"agency_code": "ma_co_quan", "personal_id": "so_dinh_danh"}


def to_contract(item: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's (nested) fields of one item of the API. Unknown codes and missing fields are passed on
    as they are, for the contract's validation to report."""
    record: dict[str, Any] = {}
    for field, source in FIELDS.items():
        if source not in item:
            continue
        value = item[source]
        codes = CODE_LISTS.get(field)
        if codes is not None:
            value = codes.get(value, value)
        *parents, leaf = field.split(".")
        target = record
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return record
