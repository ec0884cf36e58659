"""How Vietnam Social Security's participant API maps to ``social_insurance.participant``.

The paths, JSON keys and code lists are those of the sector API (camelCase Vietnamese keys, ``maKetQua`` result
codes: ``000`` success, ``010`` not found); the contract's names are on the left. Contribution periods are a list,
reshaped with a JMESPath projection; their months (``mm/yyyy``) and scheme codes are read by the contract as given.
"""

from __future__ import annotations

from typing import Any

GET: dict[str, Any] = {
    "path": "/api/bhxh/v2/nguoi-tham-gia/{record_id}",
    "record": "duLieu",
    "not_found_when": "maKetQua == '010'",
    "error_when": "maKetQua != '000' && maKetQua != '010'",
}

SEARCH: dict[str, Any] = {
    "path": "/api/bhxh/v2/nguoi-tham-gia",
    "filters": {"personal_id": "soDinhDanh", "full_name": "hoTen", "date_of_birth": "ngaySinh"},
    "items": "duLieu",
    "pagination": {"style": "offset", "offset_param": "tuBanGhi", "limit_param": "soBanGhi", "total": "tongSo"},
    "max_page_size": 50,
    "error_when": "maKetQua != '000'",
}

PING: dict[str, Any] = {"path": "/api/bhxh/v2/trang-thai"}

FIELDS: dict[str, str] = {
    "social_insurance_code": "maSoBhxh",
    "participant.personal_id": "nguoiThamGia.soDinhDanh",
    "participant.full_name": "nguoiThamGia.hoTen",
    "participant.date_of_birth": "nguoiThamGia.ngaySinh",
    "participant.gender": "nguoiThamGia.gioiTinh",
    "status": "trangThai",
    "contribution_periods": (
        "quaTrinhDong[].{from_month: tuThang, to_month: denThang, employer_tax_code: mstDonVi, "
        "employer_name: tenDonVi, salary_base: mucLuong, participation_types: loaiBaoHiem}"
    ),
    "date_of_death": "ngayChet",
    "last_updated": "ngayCapNhat",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "participant.gender": {"Nam": "male", "Nữ": "female"},
    "status": {
        "DANG_DONG": "contributing",
        "TAM_DUNG": "paused",
        "HUONG_LUONG_HUU": "retired",
        "DA_CHET": "deceased",
    },
}

#: The listing data-quality scans sample: every record in pages of 50, at most 5 calls a second.
SAMPLE: dict[str, Any] = {
    "path": "/api/bhxh/v2/danh-sach/nguoi-tham-gia",
    "paging": "offset",
    "page_param": "tuBanGhi",
    "size_param": "soBanGhi",
    "items": "duLieu",
    "total": "tongSo",
    "error_when": "maKetQua != '000'",
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
