"""How the civil status database's registrations table (``dang_ky_ho_tich``) maps to ``civil_status.registration``.

The column names and code lists are those of the sector system; the contract's are on the left. Columns of the
sections a registration does not have are NULL, so those sections are left out of the record.
"""

from __future__ import annotations

from typing import Any

TABLE = "dang_ky_ho_tich"

_GENDER = {"1": "male", "2": "female"}

FIELDS: dict[str, str] = {
    "registration_id": "ma_dang_ky",
    "kind": "loai_dang_ky",
    "registration_number": "so_dang_ky",
    "book_number": "quyen_so",
    "registry_office.province_code": "ma_tinh_dang_ky",
    "registry_office.ward_code": "ma_xa_dang_ky",
    "registration_date": "ngay_dang_ky",
    "person.personal_id": "so_dinh_danh",
    "person.full_name": "ho_ten",
    "person.date_of_birth": "ngay_sinh",
    "person.gender": "gioi_tinh",
    "birth.date_of_birth": "ks_ngay_sinh",
    "birth.place_of_birth.province_code": "ks_noi_sinh_tinh",
    "birth.place_of_birth.ward_code": "ks_noi_sinh_xa",
    "birth.father_personal_id": "ks_dinh_danh_cha",
    "birth.mother_personal_id": "ks_dinh_danh_me",
    "marriage.husband.personal_id": "kh_chong_so_dinh_danh",
    "marriage.husband.full_name": "kh_chong_ho_ten",
    "marriage.husband.date_of_birth": "kh_chong_ngay_sinh",
    "marriage.husband.gender": "kh_chong_gioi_tinh",
    "marriage.wife.personal_id": "kh_vo_so_dinh_danh",
    "marriage.wife.full_name": "kh_vo_ho_ten",
    "marriage.wife.date_of_birth": "kh_vo_ngay_sinh",
    "marriage.wife.gender": "kh_vo_gioi_tinh",
    "death.date_of_death": "kt_ngay_mat",
    "death.place_of_death.province_code": "kt_noi_mat_tinh",
    "death.place_of_death.ward_code": "kt_noi_mat_xa",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "kind": {"KS": "birth", "KH": "marriage", "KT": "death"},
    "person.gender": _GENDER,
    "marriage.husband.gender": _GENDER,
    "marriage.wife.gender": _GENDER,
}

SEARCH_FILTERS: dict[str, dict[str, str | None]] = {
    "personal_id": {"column": "so_dinh_danh", "match": "exact"},
    "husband_personal_id": {"column": "kh_chong_so_dinh_danh", "match": "exact"},
    "wife_personal_id": {"column": "kh_vo_so_dinh_danh", "match": "exact"},
    "kind": {"column": "loai_dang_ky", "match": "exact"},
}

#: The SQL connector's settings for this sector system: the defaults of the connector's configuration.
PRESET: dict[str, Any] = {"table": TABLE, "fields": FIELDS, "value_maps": VALUE_MAPS, "search_filters": SEARCH_FILTERS}
