"""The tax authority's taxpayers: the enterprises of the business registry and the individuals who earn.

:func:`build_taxpayers` derives them, deterministically, from the synthetic citizens, their enterprises and
Vietnam Social Security's records (whose employers withhold their employees' income tax): every enterprise, under
its enterprise code and name; every citizen who was ever employed, represents an enterprise or pays voluntary
social insurance, under their personal id (their tax code since 1 July 2025). Statuses use the tax authority's
code list (``00`` active, ``01`` closed, ``05`` suspended, ``06`` not at the registered address...) and follow the
registry's status and the population's deaths. Records are in the API's own JSON shape (snake_case Vietnamese).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from contracts.admin_units import province_name

from ..enterprises import birth_latest, years_after
from ..vn_places import WardInfo, old_province_of_ward, wards_of
from ..vss_api.records import VssRecords

__all__ = ["STATUSES", "build_taxpayers", "tax_office"]

#: trang_thai: the tax authority's status codes.
STATUSES: Final[dict[str, str]] = {
    "00": "NNT đang hoạt động (đã được cấp GCN ĐKT)",
    "01": "NNT ngừng hoạt động và đã hoàn thành thủ tục chấm dứt hiệu lực MST",
    "02": "NNT đã chuyển cơ quan thuế quản lý",
    "03": "NNT ngừng hoạt động nhưng chưa hoàn thành thủ tục chấm dứt hiệu lực MST",
    "04": "NNT đang hoạt động (được cấp thông tin MST)",
    "05": "NNT tạm ngừng hoạt động, kinh doanh",
    "06": "NNT không hoạt động tại địa chỉ đã đăng ký",
    "07": "NNT chờ làm thủ tục phá sản",
}
_ENTERPRISE_STATUS: Final = {1: "00", 2: "05", 3: "01", 4: "01"}
_LAM_DONG_OFFICES: Final = {
    "province": ("68100", "Thuế tỉnh Lâm Đồng"),
    "068": ("68101", "Thuế cơ sở 1 tỉnh Lâm Đồng"),
    "068-bao-loc": ("68102", "Thuế cơ sở 2 tỉnh Lâm Đồng"),
    "060": ("68103", "Thuế cơ sở 3 tỉnh Lâm Đồng"),
    "067": ("68104", "Thuế cơ sở 4 tỉnh Lâm Đồng"),
}
_LARGE_CAPITAL: Final = 100_000_000_000


@functools.cache
def _ward(code: str, province: str) -> WardInfo:
    return next(w for w in wards_of(province) if w.code == code)


def tax_office(province: str, ward_code: str | None, *, large: bool = False) -> dict[str, str]:
    """The managing tax office of a taxpayer whose address is in ``ward_code`` of ``province``.

    In Lâm Đồng, large enterprises are managed by the provincial office, the others by the grassroots office of
    the area (Đà Lạt and the former Lâm Đồng, Bảo Lộc, the former Bình Thuận, the former Đắk Nông); elsewhere
    by the province's office.
    """
    if province != "68":
        return {"ma": f"{province}100", "ten": f"Thuế {province_name(province)}"}
    key = "province"
    if not large and ward_code is not None:
        ward = _ward(ward_code, province)
        key = old_province_of_ward(ward)
        if key == "068" and ("Bảo Lộc" in ward.name or "B'Lao" in ward.name):
            key = "068-bao-loc"
    code, name = _LAM_DONG_OFFICES[key]
    return {"ma": code, "ten": name}


def _moment(rng: random.Random, after: date, today: date) -> str:
    day = after + timedelta(days=rng.randint(0, max(0, (today - after).days)))
    moment = datetime.combine(min(day, today), time(rng.randint(1, 10), rng.randint(0, 59)), tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _month_start(text: str) -> date:
    month, year = text.split("/")
    return date(int(year), int(month), 1)


def build_taxpayers(
    citizens: Iterable[Mapping[str, Any]],
    enterprises: Sequence[Mapping[str, Any]],
    vss: VssRecords,
    *,
    seed: int,
    today: date,
) -> dict[str, dict[str, Any]]:
    """The taxpayers by tax code: the enterprises and the earning individuals among ``citizens``."""
    rng = random.Random(f"{seed}:tax")  # noqa: S311 - synthetic data, not security
    taxpayers: dict[str, dict[str, Any]] = {}
    earned_since: dict[str, date] = {}
    for enterprise in enterprises:
        status = _ENTERPRISE_STATUS[enterprise["tinh_trang"]]
        if status == "00" and rng.random() < 0.08:
            status = "06"
        founded: date = enterprise["ngay_thanh_lap"]
        large = enterprise["von_dieu_le"] >= _LARGE_CAPITAL
        taxpayers[enterprise["ma_so_dn"]] = {
            "mst": enterprise["ma_so_dn"],
            "loai_nnt": "TC",
            "ten_nnt": enterprise["ten_tieng_viet"],
            "trang_thai": status,
            "co_quan_thue": tax_office(enterprise["ma_tinh"], enterprise["ma_xa"], large=large),
            "ngay_dang_ky": (founded + timedelta(days=rng.randint(0, 3))).isoformat(),
            "ca_nhan": None,
            "ngay_cap_nhat": _moment(rng, enterprise["ngay_cham_dut"] or founded, today),
        }
        representative = enterprise["nguoi_dai_dien"]["so_dinh_danh"]
        earned_since[representative] = min(earned_since.get(representative, founded), founded)
    for participant in vss.participants.values():
        pid = participant["nguoiThamGia"]["soDinhDanh"]
        for period in participant["quaTrinhDong"]:
            start = _month_start(period["tuThang"])
            earned_since[pid] = min(earned_since.get(pid, start), start)
    for citizen in sorted(citizens, key=lambda c: c["so_dinh_danh"]):
        pid = citizen["so_dinh_danh"]
        if pid not in earned_since:
            continue
        registered = max(earned_since[pid], years_after(birth_latest(citizen), 18))
        death: date | None = citizen["ngay_mat"]
        registered = min(registered + timedelta(days=rng.randint(0, 60)), death or today, today)
        taxpayers[pid] = {
            "mst": pid,
            "loai_nnt": "CN",
            "ten_nnt": citizen["ho_ten"],
            "trang_thai": "01" if death is not None else "00",
            "co_quan_thue": tax_office(citizen["thuong_tru_tinh"], citizen["thuong_tru_xa"]),
            "ngay_dang_ky": registered.isoformat(),
            "ca_nhan": {
                "so_dinh_danh": pid,
                "ho_ten": citizen["ho_ten"],
                "ngay_sinh": citizen["ngay_sinh"],
                "gioi_tinh": {1: "M", 2: "F"}[int(citizen["gioi_tinh"])],
            },
            "ngay_cap_nhat": _moment(rng, death or registered, today),
        }
    return dict(sorted(taxpayers.items()))
