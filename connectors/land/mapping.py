"""How the land database's parcels table (``thua_dat``) maps to ``land.parcel``.

The column names are those of the sector system; the contract's are on the left. Land use codes are stored in the
cadastral notation (``ONT+CLN``), which the contract reads as a list. The second holder's columns are NULL for a
parcel held by one person, so ``co_owner`` is then left out.
"""

from __future__ import annotations

from typing import Any

TABLE = "thua_dat"

#: The column of the second holder's personal id; a search by holder looks in it too.
CO_OWNER_COLUMN = "chu_2_so_dinh_danh"

_GENDER = {"1": "male", "2": "female"}

FIELDS: dict[str, str] = {
    "parcel_id": "ma_thua",
    "location.province_code": "ma_tinh",
    "location.ward_code": "ma_xa",
    "location.line": "dia_chi",
    "map_sheet_number": "so_to_ban_do",
    "parcel_number": "so_thua",
    "area_m2": "dien_tich",
    "land_use": "muc_dich_su_dung",
    "certificate_serial": "so_phat_hanh_gcn",
    "certificate_issue_date": "ngay_cap_gcn",
    "owner.personal_id": "chu_1_so_dinh_danh",
    "owner.full_name": "chu_1_ho_ten",
    "owner.date_of_birth": "chu_1_ngay_sinh",
    "owner.gender": "chu_1_gioi_tinh",
    "co_owner.personal_id": CO_OWNER_COLUMN,
    "co_owner.full_name": "chu_2_ho_ten",
    "co_owner.date_of_birth": "chu_2_ngay_sinh",
    "co_owner.gender": "chu_2_gioi_tinh",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {"owner.gender": _GENDER, "co_owner.gender": _GENDER}

SEARCH_FILTERS: dict[str, dict[str, str | None]] = {
    "owner_personal_id": {"column": "chu_1_so_dinh_danh", "match": "exact"},
    "certificate_serial": {"column": "so_phat_hanh_gcn", "match": "exact"},
}

#: The SQL connector's settings for this sector system: the defaults of the connector's configuration.
PRESET: dict[str, Any] = {"table": TABLE, "fields": FIELDS, "value_maps": VALUE_MAPS, "search_filters": SEARCH_FILTERS}
