"""The 63 provinces that existed before the July 2025 merger, as used in personal identification numbers.

Every 12-digit personal identification number starts with the three-digit code of the province where the
birth was registered (Circular 59/2021/TT-BCA). Those codes keep the 63 provinces and centrally governed
cities of 2008-2025, even after Resolution 202/2025/QH15 merged them into 34 provinces on 1 July 2025 and
gave the new provinces two-digit codes. This module maps each old code to its name and to the code of
the province it belongs to today, so that an identification number can be checked against the current
administrative units of :mod:`contracts.admin_units`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["BIRTH_REGISTRATION_PROVINCES", "BirthRegistrationProvince", "current_province_of"]


@dataclass(frozen=True, slots=True)
class BirthRegistrationProvince:
    """A pre-2025 province as it appears at the start of a personal identification number.

    ``code`` is the three-digit code (``"068"``), ``name`` its Vietnamese name before the 2025 merger and
    ``current_province_code`` the two-digit code of the province it has belonged to since 1 July 2025
    (``"68"``).
    """

    code: str
    name: str
    current_province_code: str


# (old three-digit code, name before the merger, two-digit code of the province since 1 July 2025)
_TABLE: tuple[tuple[str, str, str], ...] = (
    ("001", "Hà Nội", "01"),
    ("002", "Hà Giang", "08"),
    ("004", "Cao Bằng", "04"),
    ("006", "Bắc Kạn", "19"),
    ("008", "Tuyên Quang", "08"),
    ("010", "Lào Cai", "15"),
    ("011", "Điện Biên", "11"),
    ("012", "Lai Châu", "12"),
    ("014", "Sơn La", "14"),
    ("015", "Yên Bái", "15"),
    ("017", "Hòa Bình", "25"),
    ("019", "Thái Nguyên", "19"),
    ("020", "Lạng Sơn", "20"),
    ("022", "Quảng Ninh", "22"),
    ("024", "Bắc Giang", "24"),
    ("025", "Phú Thọ", "25"),
    ("026", "Vĩnh Phúc", "25"),
    ("027", "Bắc Ninh", "24"),
    ("030", "Hải Dương", "31"),
    ("031", "Hải Phòng", "31"),
    ("033", "Hưng Yên", "33"),
    ("034", "Thái Bình", "33"),
    ("035", "Hà Nam", "37"),
    ("036", "Nam Định", "37"),
    ("037", "Ninh Bình", "37"),
    ("038", "Thanh Hóa", "38"),
    ("040", "Nghệ An", "40"),
    ("042", "Hà Tĩnh", "42"),
    ("044", "Quảng Bình", "44"),
    ("045", "Quảng Trị", "44"),
    # Thừa Thiên Huế became the centrally governed city of Huế on 1 January 2025; the code is unchanged.
    ("046", "Thừa Thiên Huế", "46"),
    ("048", "Đà Nẵng", "48"),
    ("049", "Quảng Nam", "48"),
    ("051", "Quảng Ngãi", "51"),
    ("052", "Bình Định", "52"),
    ("054", "Phú Yên", "66"),
    ("056", "Khánh Hòa", "56"),
    ("058", "Ninh Thuận", "56"),
    ("060", "Bình Thuận", "68"),
    ("062", "Kon Tum", "51"),
    ("064", "Gia Lai", "52"),
    ("066", "Đắk Lắk", "66"),
    ("067", "Đắk Nông", "68"),
    ("068", "Lâm Đồng", "68"),
    ("070", "Bình Phước", "75"),
    ("072", "Tây Ninh", "80"),
    ("074", "Bình Dương", "79"),
    ("075", "Đồng Nai", "75"),
    ("077", "Bà Rịa - Vũng Tàu", "79"),
    ("079", "Hồ Chí Minh", "79"),
    ("080", "Long An", "80"),
    ("082", "Tiền Giang", "82"),
    ("083", "Bến Tre", "86"),
    ("084", "Trà Vinh", "86"),
    ("086", "Vĩnh Long", "86"),
    ("087", "Đồng Tháp", "82"),
    ("089", "An Giang", "91"),
    ("091", "Kiên Giang", "91"),
    ("092", "Cần Thơ", "92"),
    ("093", "Hậu Giang", "92"),
    ("094", "Sóc Trăng", "92"),
    ("095", "Bạc Liêu", "96"),
    ("096", "Cà Mau", "96"),
)

BIRTH_REGISTRATION_PROVINCES: Mapping[str, BirthRegistrationProvince] = MappingProxyType(
    {code: BirthRegistrationProvince(code, name, current) for code, name, current in _TABLE}
)
"""The 63 pre-2025 provinces keyed by their three-digit code (``"001"`` .. ``"096"``); read-only."""


def current_province_of(code3: str) -> str:
    """Return the two-digit code of the province that the pre-2025 province ``code3`` belongs to today.

    >>> current_province_of("067")
    '68'

    Raises ``KeyError`` if ``code3`` is not one of the 63 three-digit codes.
    """
    try:
        return BIRTH_REGISTRATION_PROVINCES[code3].current_province_code
    except KeyError:
        raise KeyError(f"{code3!r} is not the three-digit code of a pre-2025 province") from None
