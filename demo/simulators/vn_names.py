"""Synthetic Vietnamese personal names for the population simulator.

Names are drawn from hand-written lists of common family, middle and given names (no real
personal data).  Kinh-style names are written "Family Middle Given"; several ethnic minorities of
the Central Highlands follow their own customs, e.g. Cơ-ho and Mạ men are "K' <name>" and women
"Ka <name>".  Every name returned is Unicode NFC and contains only letters, spaces, apostrophes
and hyphens.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from typing import Final

__all__ = [
    "ETHNIC_CODES",
    "ETHNIC_WEIGHTS",
    "KINH_FAMILY_NAMES",
    "family_name",
    "full_name",
    "uses_family_names",
]

#: Codes of the national list of ethnic groups (Quyết định 121-TCTK/PPCĐ) used by the simulator,
#: mapped to their usual English names.
ETHNIC_CODES: Final[dict[str, str]] = {
    "01": "Kinh",
    "02": "Tay",
    "04": "Hoa",
    "07": "Nung",
    "08": "Hmong",
    "16": "Co Ho",
    "17": "Cham",
    "20": "Mnong",
    "21": "Raglai",
    "28": "Ma",
    "36": "Churu",
}

#: Relative share (per cent of households) of each ethnic group among the simulated residents of
#: Lâm Đồng: mostly Kinh, then the indigenous Cơ-ho, Mạ and Chu-ru, northern migrants (Tày, Nùng,
#: Hmông), Hoa, the Mnông of former Đắk Nông and the Chăm and Ra-glai of former Bình Thuận.
ETHNIC_WEIGHTS: Final[dict[str, float]] = {
    "01": 77.0,
    "16": 8.5,
    "28": 2.5,
    "07": 2.4,
    "02": 2.2,
    "36": 1.8,
    "04": 1.5,
    "20": 1.5,
    "17": 1.0,
    "21": 0.8,
    "08": 0.8,
}

#: Kinh family names with their approximate share (per cent) of the population.
KINH_FAMILY_NAMES: Final[dict[str, float]] = {
    "Nguyễn": 38.0,
    "Trần": 11.0,
    "Lê": 9.5,
    "Phạm": 7.0,
    "Hoàng": 3.0,
    "Huỳnh": 2.1,
    "Phan": 4.5,
    "Vũ": 2.0,
    "Võ": 2.0,
    "Đặng": 2.1,
    "Bùi": 2.0,
    "Đỗ": 1.4,
    "Hồ": 1.3,
    "Ngô": 1.3,
    "Dương": 1.0,
    "Lý": 0.5,
    "Đinh": 0.8,
    "Đào": 0.6,
    "Trịnh": 0.6,
    "Trương": 0.6,
    "Đoàn": 0.6,
    "Mai": 0.5,
    "Cao": 0.4,
    "Lương": 0.4,
    "Hà": 0.4,
    "Vương": 0.3,
    "Tạ": 0.3,
    "Tô": 0.3,
    "Lâm": 0.3,
    "Châu": 0.3,
    "Thái": 0.3,
    "Phùng": 0.3,
    "Lưu": 0.3,
    "Quách": 0.2,
    "Kiều": 0.2,
    "Chu": 0.2,
    "Lại": 0.2,
    "Triệu": 0.2,
    "Khúc": 0.1,
    "Hứa": 0.1,
    "La": 0.1,
    "Tăng": 0.1,
}

_KINH_MALE_MIDDLE: Final = (
    "Hữu", "Đức", "Minh", "Quốc", "Công", "Thành", "Xuân", "Quang", "Anh", "Gia", "Hoàng", "Ngọc",
    "Trọng", "Đình", "Thanh", "Duy", "Nhật", "Bảo", "Trung", "Tiến", "Hải", "Khánh", "Tấn", "Thế",
)  # fmt: skip
_KINH_FEMALE_MIDDLE: Final = (
    "Ngọc", "Thu", "Thanh", "Bảo", "Thùy", "Mỹ", "Kim", "Hồng", "Phương", "Khánh", "Minh", "Hoài",
    "Diệu", "Quỳnh", "Như", "Ánh", "Hải", "Gia", "Bích", "Cẩm", "Tường", "Xuân", "Lan", "Thảo",
)  # fmt: skip
_MALE_GIVEN_OLD: Final = (
    "Hùng", "Dũng", "Tuấn", "Minh", "Nam", "Long", "Hải", "Sơn", "Thắng", "Hiếu", "Bình", "Hòa",
    "Cường", "Chiến", "Lợi", "Thành", "Trung", "Tâm", "Thịnh", "Vinh", "Toàn", "Tùng", "Việt",
    "Hưng", "Quang", "Thanh", "Tiến", "Đông", "Hoàng", "Nhân", "Sang", "Tú", "Đức", "Hậu",
    "Thiện", "Phương", "Lâm", "Kiên", "Tài", "Phong", "Nghĩa", "Hiển", "Thái", "Tư", "Lực",
)  # fmt: skip
_MALE_GIVEN_NEW: Final = (
    "Khang", "Khôi", "Bảo", "Phúc", "Minh", "An", "Huy", "Khoa", "Đăng", "Quân", "Nguyên", "Lâm",
    "Vinh", "Đạt", "Phát", "Tín", "Kiệt", "Duy", "Hiếu", "Long", "Nam", "Thịnh", "Trí", "Vũ",
    "Hoàng", "Khải", "Lộc", "Hưng", "Thiện", "Tùng", "Nhật", "Quang", "Sơn", "Tuấn", "Kha",
)  # fmt: skip
_FEMALE_GIVEN_OLD: Final = (
    "Lan", "Hoa", "Hương", "Mai", "Hạnh", "Hằng", "Huyền", "Nga", "Nhung", "Oanh", "Phương",
    "Thảo", "Trang", "Tuyết", "Yến", "Loan", "Liên", "Lệ", "Thu", "Thúy", "Dung", "Hồng", "Cúc",
    "Hiền", "Thủy", "Vân", "Xuân", "Sương", "Nguyệt", "Hà", "Bích", "Nhàn", "Tâm", "Hậu", "Lài",
)  # fmt: skip
_FEMALE_GIVEN_NEW: Final = (
    "Linh", "Anh", "Vy", "Nhi", "Thư", "Hân", "An", "Châu", "Giang", "My", "Quyên", "Quỳnh",
    "Trâm", "Uyên", "Như", "Ngân", "Ngọc", "Trang", "Thảo", "Hương", "Diệp", "Tuyền", "Hà",
    "Khánh", "Mai", "Phương", "Tiên", "Yến", "Hiền", "Nhung", "Huyền", "Thy", "Ly", "Dung",
)  # fmt: skip

_TAY_NUNG_FAMILY: Final = (
    "Hoàng", "Nông", "Lý", "Lương", "Hà", "Vi", "Lục", "Triệu", "Đàm", "Lâm", "Bế", "Ma", "Chu",
    "Mã", "Sầm", "Lộc", "Dương", "Lăng", "Hứa", "La",
)  # fmt: skip
_HOA_FAMILY: Final = (
    "Lý", "Trương", "Lâm", "Quách", "Hứa", "Tăng", "Thái", "Mạch", "Diệp", "Châu", "Lưu", "Trần",
    "Dương", "Hồng", "Mã", "Lữ", "Huỳnh", "Vương", "Ông", "Tạ",
)  # fmt: skip
_HOA_MALE_MIDDLE: Final = ("Văn", "Vĩnh", "Quốc", "Kiến", "Gia", "Hữu", "Chí", "Minh", "Tuấn")
_HOA_FEMALE_MIDDLE: Final = ("Thị", "Mỹ", "Ngọc", "Tú", "Lệ", "Huệ", "Bảo", "Thục", "Gia")
_HMONG_FAMILY: Final = ("Giàng", "Vàng", "Sùng", "Thào", "Lý", "Hầu", "Lầu", "Mùa", "Vừ", "Hờ", "Ly")
_HMONG_MALE_MIDDLE: Final = ("A", "Seo", "Văn", "Mí")
_HMONG_MALE_GIVEN: Final = (
    "Páo", "Chứ", "Sình", "Dua", "Lử", "Pó", "Súa", "Chá", "Tủa", "Sử", "Dế", "Khua", "Lềnh", "Vư",
)  # fmt: skip
_HMONG_FEMALE_GIVEN: Final = (
    "Dợ", "Mỷ", "Dua", "Sua", "Chá", "Pàng", "Mai", "Sinh", "Dở", "Xúa", "Máy", "Chở", "Say",
)  # fmt: skip
_CHAM_FAMILY: Final = (
    "Thông", "Quảng", "Đàng", "Lưu", "Thiên", "Thuận", "Bá", "Phú", "Châu", "Ông", "Lộ", "Hán",
    "Trượng", "Thành", "Nguyễn",
)  # fmt: skip
_CHAM_MALE_MIDDLE: Final = ("Văn", "Năng", "Ngọc", "Thanh", "Hữu", "Minh")
_RAGLAI_FAMILY: Final = ("Pi Năng", "Chamaléa", "Katơr", "Mấu", "Bo Bo", "Ma", "Cao")
_CHURU_FAMILY: Final = ("Touneh", "Ya", "Ma", "Ha")
_KOHO_MALE_GIVEN: Final = (
    "Brơi", "Sơn", "Tiếu", "Đình", "Bình", "Wăn", "Mir", "Ting", "Prông", "Brèo", "Jăn", "Ha",
    "Dũng", "Thương", "Hùng", "Lạc", "Bop", "Sê", "Dền", "Tuyên", "Brôn", "Bông", "Lơng", "Sang",
    "Kră", "Dơng", "Hiền", "Tơr", "Jen", "Rin", "Yên", "Blúp", "Nhin", "Srai",
)  # fmt: skip
_KOHO_FEMALE_GIVEN: Final = (
    "Huê", "Điệp", "Nhi", "Xuân", "Thơm", "Sim", "Duyên", "Bé", "Lyn", "Hòa", "Sương", "Nhung",
    "Bình", "Srê", "Jrang", "Mai", "Hồng", "Dúp", "Phương", "Rin", "Hen", "Ngọc", "Liên", "Brin",
    "Thủy", "Dong", "Rơi", "Hương", "Nhàn", "Sang", "Tiên", "Ly",
)  # fmt: skip
_MA_MALE_GIVEN: Final = (
    "Lơng", "Bròn", "Sáu", "Đức", "Tiên", "Điểu", "Bảo", "Lưm", "Dưm", "Blơng", "Jơn", "Sinh",
    "Tuấn", "Ròng", "Dai", "Ninh", "Thái", "Vàng",
)  # fmt: skip
_MA_FEMALE_GIVEN: Final = (
    "Liên", "Thủy", "Hương", "Dói", "Bé", "Lý", "Nga", "Huyền", "Dương", "Thoa", "Bol", "Nhung",
    "Lai", "Rông", "Tiềm",
)  # fmt: skip
_MNONG_MALE_GIVEN: Final = (
    "Bray", "Lơi", "Ngọc", "Sinh", "Bar", "Kriêng", "Jơi", "Kông", "Dơng", "Toul", "Kỳ", "Bê",
    "Blong", "Ding", "Rếch", "Mbrăh", "Nông", "Thinh",
)  # fmt: skip
_MNONG_FEMALE_GIVEN: Final = (
    "Brơi", "Mai", "Hoa", "Nhung", "Bon", "Glang", "Hnhiên", "Jrao", "Lan", "Nguyên", "Ruốt",
    "Hăng", "Đin",
)  # fmt: skip

#: Ethnic groups whose names carry a family name inherited from the father ("Family Middle Given").
_FAMILY_NAMED: Final = frozenset({"01", "02", "04", "07", "08", "17", "21", "36"})

_OWN_FAMILY_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "02": _TAY_NUNG_FAMILY,
    "07": _TAY_NUNG_FAMILY,
    "04": _HOA_FAMILY,
    "08": _HMONG_FAMILY,
    "17": _CHAM_FAMILY,
    "21": _RAGLAI_FAMILY,
}
_KINH_FAMILY_LIST: Final = tuple(KINH_FAMILY_NAMES)
_KINH_FAMILY_CUM: Final = tuple(sum(tuple(KINH_FAMILY_NAMES.values())[: i + 1]) for i in range(len(KINH_FAMILY_NAMES)))


def uses_family_names(ethnicity: str) -> bool:
    """Whether names of ``ethnicity`` start with a family name that children take from their father."""
    return ethnicity in _FAMILY_NAMED


def family_name(rng: random.Random, ethnicity: str) -> str:
    """A family name typical of ``ethnicity`` (an ethnic code); "" for groups without family names."""
    if ethnicity == "36":
        return rng.choices(_CHURU_FAMILY, weights=(40, 30, 20, 10))[0]
    if ethnicity in _OWN_FAMILY_NAMES:
        return rng.choice(_OWN_FAMILY_NAMES[ethnicity])
    if ethnicity in _FAMILY_NAMED:
        return rng.choices(_KINH_FAMILY_LIST, cum_weights=_KINH_FAMILY_CUM)[0]
    return ""


def _era_mix(birth_year: int) -> float:
    """Probability of picking a "modern" given name for someone born in ``birth_year``."""
    if birth_year >= 2005:
        return 0.8
    if birth_year >= 1990:
        return 0.5
    if birth_year >= 1975:
        return 0.2
    return 0.05


def _kinh_style(rng: random.Random, family: str, male: bool, birth_year: int, ethnicity: str) -> str:
    """A "Family Middle Given" name; the share of "Văn"/"Thị" falls for younger generations."""
    modern = rng.random() < _era_mix(birth_year)
    if male:
        given_list: Sequence[str] = _MALE_GIVEN_NEW if modern else _MALE_GIVEN_OLD
        p_plain = 0.65 if birth_year < 1970 else 0.45 if birth_year < 1990 else 0.2
        middles: Sequence[str] = _KINH_MALE_MIDDLE
        plain = "Văn"
    else:
        given_list = _FEMALE_GIVEN_NEW if modern else _FEMALE_GIVEN_OLD
        p_plain = 0.85 if birth_year < 1970 else 0.6 if birth_year < 1990 else 0.3
        p_plain = 0.15 if birth_year >= 2005 else p_plain
        middles = _KINH_FEMALE_MIDDLE
        plain = "Thị"
    if ethnicity == "04":
        middles = _HOA_MALE_MIDDLE if male else _HOA_FEMALE_MIDDLE
    elif ethnicity == "17" and male:
        middles = _CHAM_MALE_MIDDLE
    elif ethnicity in {"21", "36"}:
        p_plain = max(p_plain, 0.7)
    if ethnicity == "08":
        given_list = _HMONG_MALE_GIVEN if male else _HMONG_FEMALE_GIVEN
        middle = rng.choice(_HMONG_MALE_MIDDLE) if male else "Thị"
    else:
        middle = plain if rng.random() < p_plain else rng.choice(middles)
    given = rng.choice(given_list)
    while given == middle:
        given = rng.choice(given_list)
    return f"{family} {middle} {given}"


def full_name(rng: random.Random, ethnicity: str, gender: int, birth_year: int, family: str) -> str:
    """A full name (NFC) for a person of ``ethnicity``, ``gender`` (1 male, 2 female), born in
    ``birth_year``; ``family`` is the family name to use for groups that have one (ignored otherwise).
    """
    male = gender == 1
    if ethnicity in {"16", "28"}:
        given_list = (
            (_KOHO_MALE_GIVEN if male else _KOHO_FEMALE_GIVEN)
            if ethnicity == "16"
            else (_MA_MALE_GIVEN if male else _MA_FEMALE_GIVEN)
        )
        name = f"{'K' if male else 'Ka'} {rng.choice(given_list)}"
        if male:
            name = name.replace("K ", "K' ", 1)
    elif ethnicity == "20":
        prefix = rng.choice(("Điểu", "Y")) if male else rng.choice(("Thị", "H'"))
        given = rng.choice(_MNONG_MALE_GIVEN if male else _MNONG_FEMALE_GIVEN)
        name = f"{prefix} {given}"
    else:
        name = _kinh_style(rng, family or family_name(rng, ethnicity), male, birth_year, ethnicity)
    return unicodedata.normalize("NFC", name)
