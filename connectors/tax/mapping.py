"""How the tax authority's taxpayer API maps to ``tax.taxpayer``.

The paths, JSON keys (snake_case Vietnamese) and code lists are those of the tax authority's API; the contract's
names are on the left. The authority's eight status codes fold into the contract's four statuses.
"""

from __future__ import annotations

from typing import Any

GET: dict[str, Any] = {
    "path": "/api/v1/nguoi-nop-thue/{record_id}",
    "record": "data",
    "error_when": "code != '00'",
}

SEARCH: dict[str, Any] = {
    "path": "/api/v1/nguoi-nop-thue",
    "filters": {"name": "ten", "taxpayer_type": "loai"},
    "items": "data",
    "pagination": {"style": "cursor", "cursor_param": "cursor", "size_param": "limit", "next_cursor": "next_cursor"},
    "max_page_size": 50,
    "error_when": "code != '00'",
}

PING: dict[str, Any] = {"path": "/api/v1/trang-thai-he-thong"}

FIELDS: dict[str, str] = {
    "tax_code": "mst",
    "taxpayer_type": "loai_nnt",
    "name": "ten_nnt",
    "status": "trang_thai",
    "managing_tax_office.code": "co_quan_thue.ma",
    "managing_tax_office.name": "co_quan_thue.ten",
    "registration_date": "ngay_dang_ky",
    "individual.personal_id": "ca_nhan.so_dinh_danh",
    "individual.full_name": "ca_nhan.ho_ten",
    "individual.date_of_birth": "ca_nhan.ngay_sinh",
    "individual.gender": "ca_nhan.gioi_tinh",
    "last_updated": "ngay_cap_nhat",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "taxpayer_type": {"TC": "organisation", "CN": "individual"},
    "status": {
        "00": "active",
        "02": "active",
        "04": "active",
        "01": "closed",
        "03": "closed",
        "07": "closed",
        "05": "suspended",
        "06": "not_at_registered_address",
    },
    "individual.gender": {"M": "male", "F": "female"},
}

#: The listing data-quality scans sample: every record in pages of 50, at most 5 calls a second.
SAMPLE: dict[str, Any] = {
    "path": "/api/v1/danh-sach-nguoi-nop-thue",
    "page_param": "trang",
    "size_param": "so_ban_ghi",
    "items": "data",
    "total": "tong_so",
    "error_when": "code != '00'",
    "page_size": 50,
}

#: The REST connector's settings for this sector system: the defaults of the connector's configuration.
PRESET: dict[str, Any] = {
    "get": GET,
    "search": SEARCH,
    "ping": PING,
    "fields": FIELDS,
    "value_maps": VALUE_MAPS,
    "sample": SAMPLE,
}
