"""The business registry API's own view of an enterprise: PascalCase Vietnamese keys and its code lists.

The enterprises are those of :func:`simulators.enterprises.generate_enterprises`; :func:`to_api` writes one the
way the registry publishes it. Nothing here knows the gateway's contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

__all__ = ["STATUSES", "to_api"]

#: TinhTrang: the registry's status code -> the API's word.
STATUSES: Final[dict[int, str]] = {1: "DANG_HOAT_DONG", 2: "TAM_NGUNG_KINH_DOANH", 3: "DA_GIAI_THE", 4: "PHA_SAN"}


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_api(enterprise: Mapping[str, Any]) -> dict[str, Any]:
    """``enterprise`` (a row of :func:`~simulators.enterprises.generate_enterprises`) as the API publishes it."""
    person = enterprise["nguoi_dai_dien"]
    return {
        "MaSoDoanhNghiep": enterprise["ma_so_dn"],
        "TenTiengViet": enterprise["ten_tieng_viet"],
        "TenTiengAnh": enterprise["ten_tieng_anh"],
        "TenVietTat": enterprise["ten_viet_tat"],
        "LoaiHinh": enterprise["loai_hinh"],
        "NgayThanhLap": _day(enterprise["ngay_thanh_lap"]),
        "TruSoChinh": {"MaTinh": enterprise["ma_tinh"], "MaXa": enterprise["ma_xa"], "DiaChi": enterprise["dia_chi"]},
        "VonDieuLe": enterprise["von_dieu_le"],
        "TinhTrang": STATUSES[enterprise["tinh_trang"]],
        "NgayChamDut": _day(enterprise["ngay_cham_dut"]),
        "NguoiDaiDien": {
            "SoDinhDanh": person["so_dinh_danh"],
            "HoTen": person["ho_ten"],
            "NgaySinh": person["ngay_sinh"],
            "GioiTinh": person["gioi_tinh"],
        },
        "ChiNhanh": [
            {
                "MaChiNhanh": branch["ma_so"],
                "TenChiNhanh": branch["ten"],
                "MaTinh": branch["ma_tinh"],
                "MaXa": branch["ma_xa"],
                "DiaChi": branch["dia_chi"],
                "NgayDangKy": branch["ngay_dang_ky"],
            }
            for branch in enterprise["chi_nhanh"]
        ],
        "NgayCapNhat": _moment(enterprise["ngay_cap_nhat"]),
    }
