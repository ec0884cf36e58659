"""How the vehicle registration database's table (``dang_ky_xe``) maps to ``vehicles.registration``.

The column names and code lists are those of the sector system; the contract's are on the left.
"""

from __future__ import annotations

from typing import Any

TABLE = "dang_ky_xe"

FIELDS: dict[str, str] = {
    "plate_number": "bien_so",
    "vehicle_type": "loai_xe",
    "brand": "nhan_hieu",
    "model": "so_loai",
    "colour": "mau_son",
    "engine_number": "so_may",
    "frame_number": "so_khung",
    "manufacture_year": "nam_san_xuat",
    "registration_date": "ngay_dang_ky",
    "owner.personal_id": "chu_xe_so_dinh_danh",
    "owner.full_name": "chu_xe_ho_ten",
    "owner.date_of_birth": "chu_xe_ngay_sinh",
    "owner.gender": "chu_xe_gioi_tinh",
    "status": "trang_thai",
    "deregistration_date": "ngay_thu_hoi",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "vehicle_type": {"1": "car", "2": "truck", "3": "bus", "4": "pickup", "5": "motorcycle", "6": "moped"},
    "owner.gender": {"1": "male", "2": "female"},
    "status": {"1": "active", "2": "deregistered"},
}

SEARCH_FILTERS: dict[str, dict[str, str | None]] = {
    "owner_personal_id": {"column": "chu_xe_so_dinh_danh", "match": "exact"},
    "engine_number": {"column": "so_may", "match": "exact"},
    "frame_number": {"column": "so_khung", "match": "exact"},
}

#: The SQL connector's settings for this sector system: the defaults of the connector's configuration.
PRESET: dict[str, Any] = {"table": TABLE, "fields": FIELDS, "value_maps": VALUE_MAPS, "search_filters": SEARCH_FILTERS}
