"""How Vietnam Social Security's health insurance card API maps to ``health_insurance.card``.

The paths, JSON keys and code lists are those of the sector API (camelCase Vietnamese keys, ``maKetQua`` result
codes: ``000`` success, ``010`` not found); the contract's names are on the left. Beneficiary group codes and
benefit levels are Vietnam Social Security's and kept as they are.
"""

from __future__ import annotations

from typing import Any

GET: dict[str, Any] = {
    "path": "/api/bhyt/v2/the/{record_id}",
    "record": "duLieu",
    "not_found_when": "maKetQua == '010'",
    "error_when": "maKetQua != '000' && maKetQua != '010'",
}

SEARCH: dict[str, Any] = {
    "path": "/api/bhyt/v2/the",
    "filters": {
        "social_insurance_code": "maSoBhxh",
        "personal_id": "soDinhDanh",
        "full_name": "hoTen",
        "date_of_birth": "ngaySinh",
    },
    "items": "duLieu.danhSach",
    "pagination": {"style": "page", "page_param": "trang", "size_param": "kichThuoc", "total": "duLieu.tongSo"},
    "max_page_size": 50,
    "error_when": "maKetQua != '000'",
}

PING: dict[str, Any] = {"path": "/api/bhxh/v2/trang-thai"}

FIELDS: dict[str, str] = {
    "card_code": "maThe",
    "social_insurance_code": "maSoBhxh",
    "holder.personal_id": "chuThe.soDinhDanh",
    "holder.full_name": "chuThe.hoTen",
    "holder.date_of_birth": "chuThe.ngaySinh",
    "holder.gender": "chuThe.gioiTinh",
    "beneficiary_group": "maDoiTuong",
    "benefit_level": "mucHuong",
    "valid_from": "giaTriTu",
    "valid_to": "giaTriDen",
    "primary_care_facility.code": "noiDangKyKCB.ma",
    "primary_care_facility.name": "noiDangKyKCB.ten",
    "status": "trangThai",
    "last_updated": "ngayCapNhat",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "holder.gender": {"Nam": "male", "Nữ": "female"},
    "status": {"CON_HAN": "valid", "HET_HAN": "expired", "CHUA_CO_HIEU_LUC": "not_yet_valid"},
}

#: The listing data-quality scans sample: every record in pages of 50, at most 5 calls a second.
SAMPLE: dict[str, Any] = {
    "path": "/api/bhyt/v2/danh-sach/the",
    "page_param": "trang",
    "size_param": "kichThuoc",
    "items": "duLieu.danhSach",
    "total": "duLieu.tongSo",
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
