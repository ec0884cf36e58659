"""How the national population database's citizen table (``cong_dan``) maps to ``population.citizen``.

The column names and code lists are those of the sector system; the contract's are on the left.
"""

from __future__ import annotations

from typing import Any

TABLE = "cong_dan"

FIELDS: dict[str, str] = {
    "personal_id": "so_dinh_danh",
    "old_id_number": "so_cmnd",
    "full_name": "ho_ten",
    "gender": "gioi_tinh",
    "date_of_birth": "ngay_sinh",
    "ethnicity": "ma_dan_toc",
    "nationality": "ma_quoc_tich",
    "place_of_birth_registration.province_code": "dk_khai_sinh_tinh",
    "place_of_birth_registration.ward_code": "dk_khai_sinh_xa",
    "hometown.province_code": "que_quan_tinh",
    "hometown.ward_code": "que_quan_xa",
    "permanent_address.line": "thuong_tru_chi_tiet",
    "permanent_address.ward_code": "thuong_tru_xa",
    "permanent_address.province_code": "thuong_tru_tinh",
    "current_address.line": "noi_o_chi_tiet",
    "current_address.ward_code": "noi_o_xa",
    "current_address.province_code": "noi_o_tinh",
    "household_id": "ma_ho",
    "relation_to_head": "quan_he_chu_ho",
    "marital_status": "tinh_trang_hon_nhan",
    "date_of_death": "ngay_mat",
    "last_updated": "ngay_cap_nhat",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "gender": {"1": "male", "2": "female"},
    "relation_to_head": {
        "1": "head",
        "2": "spouse",
        "3": "child",
        "4": "parent",
        "5": "grandparent",
        "6": "grandchild",
        "7": "sibling",
        "9": "other",
    },
    "marital_status": {"1": "single", "2": "married", "3": "divorced", "4": "widowed"},
}

SEARCH_FILTERS: dict[str, dict[str, str | None]] = {
    "full_name": {"column": "ho_ten", "match": "exact", "case": "title"},
    "date_of_birth": {"column": "ngay_sinh", "match": "prefix"},
    "old_id_number": {"column": "so_cmnd", "match": "exact"},
}

#: The SQL connector's settings for this sector system: the defaults of the connector's configuration.
PRESET: dict[str, Any] = {"table": TABLE, "fields": FIELDS, "value_maps": VALUE_MAPS, "search_filters": SEARCH_FILTERS}
