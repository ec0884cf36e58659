"""How the education database's diplomas table (``van_bang``) maps to ``education.diploma``.

The column names and code lists are those of the sector system; the contract's are on the left.
"""

from __future__ import annotations

from typing import Any

TABLE = "van_bang"

FIELDS: dict[str, str] = {
    "diploma_number": "so_hieu",
    "holder.personal_id": "so_dinh_danh",
    "holder.full_name": "ho_ten",
    "holder.date_of_birth": "ngay_sinh",
    "holder.gender": "gioi_tinh",
    "level": "cap_hoc",
    "school_name": "ten_truong",
    "major": "nganh",
    "graduation_year": "nam_tot_nghiep",
    "classification": "xep_loai",
    "issued_on": "ngay_cap",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "holder.gender": {"1": "male", "2": "female"},
    "level": {
        "THCS": "lower_secondary",
        "THPT": "upper_secondary",
        "CD": "college",
        "DH": "bachelor",
        "THS": "master",
        "TS": "doctorate",
    },
    "classification": {"XS": "excellent", "G": "very_good", "K": "good", "TB": "average"},
}

SEARCH_FILTERS: dict[str, dict[str, str | None]] = {
    "holder_personal_id": {"column": "so_dinh_danh", "match": "exact"},
    "level": {"column": "cap_hoc", "match": "exact"},
}

#: The SQL connector's settings for this sector system: the defaults of the connector's configuration.
PRESET: dict[str, Any] = {"table": TABLE, "fields": FIELDS, "value_maps": VALUE_MAPS, "search_filters": SEARCH_FILTERS}
