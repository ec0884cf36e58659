"""Places for the population simulator: province codes, wards and synthetic address lines.

Province and ward codes are those of the administrative units in force since 1 July 2025, taken
from the ``vietnam_provinces`` package; the three-digit province codes of personal id numbers are
the older (pre-2025) ones, mapped to the current units by :data:`OLD_TO_CURRENT_PROVINCE`.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Sequence
from typing import Final, NamedTuple

from vietnam_provinces import ProvinceCode, Ward

__all__ = [
    "CMND_PREFIXES",
    "OLD_TO_CURRENT_PROVINCE",
    "WardInfo",
    "address_line",
    "old_province_of_ward",
    "pick_old_province_ward",
    "pick_ward",
    "wards_of",
]

#: Pre-2025 province code (as used in the first three digits of a personal id) -> current
#: (post-July-2025) two-digit province code.
OLD_TO_CURRENT_PROVINCE: Final[dict[str, str]] = {
    "068": "68",  # Lâm Đồng
    "067": "68",  # Đắk Nông, merged into Lâm Đồng
    "060": "68",  # Bình Thuận, merged into Lâm Đồng
    "066": "66",  # Đắk Lắk
    "056": "56",  # Khánh Hòa
    "058": "56",  # Ninh Thuận, merged into Khánh Hòa
    "075": "75",  # Đồng Nai
    "070": "75",  # Bình Phước, merged into Đồng Nai
    "079": "79",  # Hồ Chí Minh City
    "040": "40",  # Nghệ An
    "038": "38",  # Thanh Hóa
    "001": "01",  # Hà Nội
    "036": "37",  # Nam Định, merged into Ninh Bình
    "034": "33",  # Thái Bình, merged into Hưng Yên
}

#: Two-digit prefix of the old nine-digit identity card (CMND) issued in each pre-2025 province.
CMND_PREFIXES: Final[dict[str, str]] = {
    "068": "25",
    "067": "24",
    "060": "26",
    "066": "24",
    "056": "22",
    "058": "26",
    "075": "27",
    "070": "28",
    "079": "02",
    "040": "18",
    "038": "17",
    "001": "01",
    "036": "16",
    "034": "15",
}

# Ward-code ranges (inclusive) of the pre-2025 provinces inside a merged current province.
_OLD_WARD_RANGES: Final[dict[str, tuple[int, int]]] = {
    "068": (24778, 25192),
    "067": (24611, 24777),
    "060": (22915, 23290),
    "066": (24100, 24610),
    "056": (22333, 22737),
    "058": (22738, 22914),
    "075": (25990, 26510),
    "070": (25190, 25500),
    "079": (26734, 27700),
    "036": (13630, 14320),
    "034": (12430, 13300),
}

_DALAT_STREETS: Final = (
    "Phan Đình Phùng", "Hai Bà Trưng", "Ba Tháng Hai", "Trần Phú", "Bùi Thị Xuân", "Nguyễn Văn Cừ",
    "Hoàng Văn Thụ", "Yersin", "Trần Hưng Đạo", "Lê Đại Hành", "Nguyễn Chí Thanh", "Hùng Vương",
    "Phù Đổng Thiên Vương", "Xô Viết Nghệ Tĩnh", "Quang Trung", "Ba Tháng Tư", "Mai Anh Đào",
    "Hồ Tùng Mậu", "Nguyễn Công Trứ", "Đinh Tiên Hoàng", "Lý Tự Trọng", "Nguyễn Thị Minh Khai",
    "Hoàng Diệu", "Khe Sanh", "Đống Đa", "Huyền Trân Công Chúa", "Đào Duy Từ", "Lữ Gia",
    "Nam Kỳ Khởi Nghĩa", "An Dương Vương", "Cô Giang", "Phạm Ngọc Thạch", "Trương Công Định",
    "La Sơn Phu Tử", "Hải Thượng", "Ankroët", "Mê Linh", "Vạn Kiếp", "Nguyễn Trãi", "Ngô Quyền",
    "Yết Kiêu", "Pasteur", "Thông Thiên Học", "Hoàng Hoa Thám", "Nguyễn Đình Chiểu",
)  # fmt: skip
_BAOLOC_STREETS: Final = (
    "Trần Phú", "Lê Hồng Phong", "Nguyễn Văn Cừ", "Lý Thường Kiệt", "Hà Giang", "Phan Bội Châu",
    "Nguyễn Công Trứ", "Hồng Bàng", "Chu Văn An", "Lam Sơn", "Kim Đồng", "Nguyễn Du", "Lê Thị Pha",
    "Trần Quốc Toản", "Nguyễn Tri Phương", "Huỳnh Thúc Kháng", "Nguyễn Thái Học", "Cao Bá Quát",
    "Tô Hiến Thành", "Ngô Gia Tự", "Hoàng Văn Thụ", "Bà Triệu", "Phạm Ngọc Thạch", "Lý Tự Trọng",
    "Trần Bình Trọng", "Đinh Công Tráng", "Nguyễn Đình Chiểu", "Lộc Sơn", "Phan Chu Trinh",
)  # fmt: skip
_PHANTHIET_STREETS: Final = (
    "Trần Hưng Đạo", "Nguyễn Tất Thành", "Tôn Đức Thắng", "Thủ Khoa Huân", "Nguyễn Hội",
    "Lê Hồng Phong", "Võ Văn Kiệt", "Hải Thượng Lãn Ông", "Nguyễn Đình Chiểu", "Trưng Trắc",
    "Hùng Vương", "Ngư Ông", "Phạm Văn Đồng", "Lê Lợi", "Từ Văn Tư", "Kim Đồng", "Huỳnh Tấn Phát",
)  # fmt: skip
_GENERIC_STREETS: Final = (
    "Trần Hưng Đạo", "Lê Lợi", "Nguyễn Huệ", "Hùng Vương", "Quang Trung", "Lê Duẩn", "Nguyễn Trãi",
    "Hai Bà Trưng", "Lý Thường Kiệt", "Nguyễn Văn Linh", "Phạm Văn Đồng", "Trần Phú", "Lê Lai",
    "Ngô Quyền", "Nguyễn Tất Thành", "Lê Thánh Tông", "Võ Thị Sáu", "Điện Biên Phủ", "Bà Triệu",
    "Phan Chu Trinh", "Nguyễn Du", "Tô Hiến Thành", "Cách Mạng Tháng Tám", "Nguyễn Thị Minh Khai",
)  # fmt: skip
_VILLAGES: Final = (
    "Phú Hòa", "Tân Lạc", "Đa Nhim", "Lộc Thành", "Tân Phú", "Hiệp An", "Đông Hòa", "Phú Thịnh",
    "Tân Hà", "Hòa Bình", "Thanh Bình", "Phú Hiệp", "Ka Đơn", "Lạc Xuân", "Tân Hội", "Định An",
    "Phúc Thọ", "Liên Hà", "Gia Lâm", "Mê Linh", "Nam Sơn", "Tân Thanh", "Đạ Ròn", "Ninh Loan",
)  # fmt: skip
_BON_VILLAGES: Final = (
    "Đưng K'si", "Bon Dơng", "Đạ Nghịt", "Đạ Sar", "Păng Tiêng", "Ka Đô Mới", "Kon Pang",
    "Đồng Trang", "Bon Rơm", "Đạ Chais", "Lán Tranh", "Bu Sir", "Sre Lang", "Tou Neh", "K'Long",
)  # fmt: skip


class WardInfo(NamedTuple):
    """A current ward: five-digit code (zero-padded), two-digit province code and name."""

    code: str
    province: str
    name: str


@functools.cache
def wards_of(province: str) -> tuple[WardInfo, ...]:
    """All current wards of a current two-digit province code, sorted by ward code."""
    return tuple(
        WardInfo(f"{int(w.code):05d}", f"{int(w.province_code):02d}", str(w.name))
        for w in sorted(Ward.iter_by_province(ProvinceCode(int(province))), key=lambda w: int(w.code))
    )


@functools.cache
def _ward_weights(province: str, biased: bool) -> tuple[float, ...]:
    """Cumulative residence weights of the wards of ``province`` (towns favoured when ``biased``)."""
    weights: list[float] = []
    for ward in wards_of(province):
        weight = 1.0
        if biased:
            name = ward.name
            old = old_province_of_ward(ward)
            if "Đà Lạt" in name:
                weight = 9.0
            elif "Bảo Lộc" in name or "B'Lao" in name:
                weight = 7.0
            elif any(key in name for key in ("Di Linh", "Đức Trọng", "Hiệp Thạnh", "Tân Hội", "Ninh Gia")):
                weight = 4.5
            elif any(key in name for key in ("Lâm Hà", "Đơn Dương", "Lạc Dương", "Nam Ban", "Bảo Thuận")):
                weight = 2.5
            elif old == "068":
                weight = 1.6
            elif "Phan Thiết" in name or "Gia Nghĩa" in name:
                weight = 1.0
            else:
                weight = 0.25
        weights.append(weight)
    total = 0.0
    cumulative = []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return tuple(cumulative)


def pick_ward(rng: random.Random, province: str, *, biased: bool = True) -> WardInfo:
    """A ward of ``province``; in Lâm Đồng (68) weighted towards Đà Lạt, Bảo Lộc, Đức Trọng, Di Linh."""
    wards = wards_of(province)
    return rng.choices(wards, cum_weights=_ward_weights(province, biased and province == "68"))[0]


def old_province_of_ward(ward: WardInfo) -> str:
    """The pre-2025 (three-digit) province that a current ward belonged to."""
    code = int(ward.code)
    for old, (low, high) in _OLD_WARD_RANGES.items():
        if low <= code <= high and OLD_TO_CURRENT_PROVINCE[old] == ward.province:
            return old
    return next(old for old, new in OLD_TO_CURRENT_PROVINCE.items() if new == ward.province)


@functools.cache
def _wards_of_old(old_province: str) -> tuple[WardInfo, ...]:
    current = OLD_TO_CURRENT_PROVINCE[old_province]
    wards = tuple(w for w in wards_of(current) if old_province_of_ward(w) == old_province)
    return wards or wards_of(current)


def pick_old_province_ward(rng: random.Random, old_province: str) -> WardInfo:
    """A current ward lying in the territory of the pre-2025 province ``old_province``."""
    return rng.choice(_wards_of_old(old_province))


def _street_address(rng: random.Random, ward: WardInfo) -> str:
    """A house number and street in an urban ward."""
    streets: Sequence[str] = _GENERIC_STREETS
    if "Đà Lạt" in ward.name:
        streets = _DALAT_STREETS
    elif "Bảo Lộc" in ward.name or "B'Lao" in ward.name:
        streets = _BAOLOC_STREETS
    elif ward.province == "68" and old_province_of_ward(ward) == "060":
        streets = _PHANTHIET_STREETS
    street = rng.choice(streets)
    number = rng.randint(1, 320)
    forms = (
        f"Số {number} đường {street}, tổ {rng.randint(1, 30)}",
        f"Số {number}/{rng.randint(1, 40)} {street}",
        f"Số {number} {street}",
        f"Số {rng.randint(1, 60)} hẻm {number} {street}",
        f"Số {number} {street}, tổ dân phố {rng.randint(1, 25)}",
    )
    return rng.choices(forms, weights=(35, 25, 20, 10, 10))[0]


def _rural_address(rng: random.Random, *, village_style: bool) -> str:
    """A hamlet ("thôn", or a "bon"/"buôn" village of the indigenous peoples) in a rural commune."""
    if village_style and rng.random() < 0.6:
        return f"{rng.choice(('Bon', 'Buôn'))} {rng.choice(_BON_VILLAGES)}"
    road = rng.choice(("Quốc lộ 20", "Quốc lộ 27", "Quốc lộ 28", "Quốc lộ 55", "Tỉnh lộ 725"))
    forms = (
        f"Thôn {rng.randint(1, 16)}",
        f"Thôn {rng.choice(_VILLAGES)}",
        f"Số {rng.randint(1, 900)} {road}, thôn {rng.randint(1, 12)}",
        f"Tổ {rng.randint(1, 20)}, thôn {rng.choice(_VILLAGES)}",
    )
    return rng.choices(forms, weights=(45, 30, 15, 10))[0]


def address_line(rng: random.Random, ward: WardInfo, *, village_style: bool = False) -> str:
    """A synthetic address line (house number and street, or hamlet) plausible for ``ward``.

    ``village_style`` prefers the "Bon"/"Buôn" villages of the indigenous peoples in rural wards.
    """
    if ward.name.startswith("Phường"):
        line = _street_address(rng, ward)
    else:
        line = _rural_address(rng, village_style=village_style)
    return unicodedata.normalize("NFC", line)
