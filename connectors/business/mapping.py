"""How the national business registry's API maps to ``business.enterprise``.

The paths, JSON keys (PascalCase Vietnamese) and code lists are those of the registry's API; the contract's names
are on the left. Branches are a list, reshaped with a JMESPath projection.
"""

from __future__ import annotations

from typing import Any

GET: dict[str, Any] = {
    "path": "/api/doanh-nghiep/{record_id}",
    "record": "Data",
    "error_when": "Success != `true`",
}

SEARCH: dict[str, Any] = {
    "path": "/api/doanh-nghiep",
    "filters": {"name": "TenDoanhNghiep", "representative_personal_id": "NguoiDaiDien"},
    "items": "Data.Items",
    "pagination": {"style": "page", "page_param": "PageIndex", "size_param": "PageSize", "total": "Data.TotalCount"},
    "max_page_size": 50,
    "error_when": "Success != `true`",
}

PING: dict[str, Any] = {"path": "/api/he-thong/tinh-trang"}

FIELDS: dict[str, str] = {
    "enterprise_code": "MaSoDoanhNghiep",
    "name": "TenTiengViet",
    "name_en": "TenTiengAnh",
    "short_name": "TenVietTat",
    "enterprise_type": "LoaiHinh",
    "registration_date": "NgayThanhLap",
    "head_office.province_code": "TruSoChinh.MaTinh",
    "head_office.ward_code": "TruSoChinh.MaXa",
    "head_office.line": "TruSoChinh.DiaChi",
    "charter_capital": "VonDieuLe",
    "status": "TinhTrang",
    "closed_on": "NgayChamDut",
    "legal_representative.personal_id": "NguoiDaiDien.SoDinhDanh",
    "legal_representative.full_name": "NguoiDaiDien.HoTen",
    "legal_representative.date_of_birth": "NguoiDaiDien.NgaySinh",
    "legal_representative.gender": "NguoiDaiDien.GioiTinh",
    "branches": (
        "ChiNhanh[].{branch_code: MaChiNhanh, name: TenChiNhanh, registration_date: NgayDangKy, "
        "address: {province_code: MaTinh, ward_code: MaXa, line: DiaChi}}"
    ),
    "last_updated": "NgayCapNhat",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "enterprise_type": {
        "TNHH1TV": "single_member_llc",
        "TNHH2TV": "multi_member_llc",
        "CP": "joint_stock",
        "DNTN": "private_enterprise",
        "HD": "partnership",
    },
    "status": {
        "DANG_HOAT_DONG": "operating",
        "TAM_NGUNG_KINH_DOANH": "suspended",
        "DA_GIAI_THE": "dissolved",
        "PHA_SAN": "bankrupt",
    },
    "legal_representative.gender": {"1": "male", "2": "female"},
}

#: The listing data-quality scans sample: every record in pages of 50, at most 5 calls a second.
SAMPLE: dict[str, Any] = {
    "path": "/api/dong-bo/doanh-nghiep",
    "page_param": "PageIndex",
    "size_param": "PageSize",
    "items": "Data.Items",
    "total": "Data.TotalCount",
    "error_when": "Success != `true`",
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
