"""How the national driving licence database's API maps to ``driving_licences.licence``.

The paths, JSON keys and code lists are those of the sector API (``ket_qua`` result codes: ``OK``,
``KHONG_TIM_THAY``...); the contract's names are on the left. The classes are a list, reshaped with a JMESPath
projection; their codes (``A1``, ``B``...) and ISO dates are read by the contract as given.
"""

from __future__ import annotations

from typing import Any

GET: dict[str, Any] = {
    "path": "/api/gplx/v1/giay-phep/{record_id}",
    "record": "du_lieu",
    "not_found_when": "ket_qua == 'KHONG_TIM_THAY'",
    "error_when": "ket_qua != 'OK' && ket_qua != 'KHONG_TIM_THAY'",
}

SEARCH: dict[str, Any] = {
    "path": "/api/gplx/v1/giay-phep",
    "filters": {"holder_personal_id": "so_cccd"},
    "items": "du_lieu",
    "pagination": {"style": "page", "page_param": "trang", "size_param": "kich_thuoc", "total": "tong_so"},
    "max_page_size": 50,
    "error_when": "ket_qua != 'OK'",
}

PING: dict[str, Any] = {"path": "/api/gplx/v1/suc-khoe"}

FIELDS: dict[str, str] = {
    "licence_number": "so_gplx",
    "holder.personal_id": "nguoi_lai.so_cccd",
    "holder.full_name": "nguoi_lai.ho_ten",
    "holder.date_of_birth": "nguoi_lai.ngay_sinh",
    "holder.gender": "nguoi_lai.gioi_tinh",
    "issuing_province_code": "noi_cap.ma_tinh",
    "classes": "hang_gplx[].{licence_class: hang, issue_date: ngay_cap, expiry_date: ngay_het_han}",
    "status": "trang_thai",
    "status_date": "ngay_trang_thai",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "holder.gender": {"NAM": "male", "NU": "female"},
    "status": {"CON_HIEU_LUC": "valid", "HET_HAN": "expired", "TAM_GIU": "suspended", "THU_HOI": "revoked"},
}

#: The listing data-quality scans sample: every record in pages of 50, at most 5 calls a second.
SAMPLE: dict[str, Any] = {
    "path": "/api/gplx/v1/danh-sach",
    "page_param": "trang",
    "size_param": "kich_thuoc",
    "items": "du_lieu",
    "total": "tong_so",
    "error_when": "ket_qua != 'OK'",
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
