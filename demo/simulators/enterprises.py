"""Synthetic enterprises of Lâm Đồng, founded and run by the synthetic citizens of :mod:`simulators.population`.

:func:`generate_enterprises` is the one source of the enterprises the simulated systems know: the business
registry publishes them, the tax authority manages them as taxpayers, and Vietnam Social Security records them as
the employers in contribution periods, so all three agree. The enterprises are a deterministic function of the
citizens, the seed and ``today``, drawn with their own ``random.Random`` so that other sectors are undisturbed.

Rows use the business registry's own Vietnamese keys and code lists (``loai_hinh`` ``TNHH1TV``, ``TNHH2TV``,
``CP``, ``DNTN``, ``HD``; ``tinh_trang`` 1-4); codes are made with :func:`contracts.tax_code.make_tax_code`, with
the province digits of the tax department that issued them (58 Lâm Đồng, 34 Bình Thuận, 64 Đắk Nông before the
2025 merger; a few enterprises moved in from Hà Nội 01 or Hồ Chí Minh City 03).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from contracts.dates import PartialDate
from contracts.tax_code import make_tax_code

from .vn_places import WardInfo, address_line, old_province_of_ward, pick_ward

__all__ = [
    "ENTERPRISE_STATUSES",
    "ENTERPRISE_TYPES",
    "adult_on",
    "birth_latest",
    "generate_enterprises",
    "person_of",
    "synthetic_world",
    "years_after",
]

#: loai_hinh: the registry's enterprise type codes and their Vietnamese names.
ENTERPRISE_TYPES: Final[dict[str, str]] = {
    "TNHH1TV": "Công ty trách nhiệm hữu hạn một thành viên",
    "TNHH2TV": "Công ty trách nhiệm hữu hạn hai thành viên trở lên",
    "CP": "Công ty cổ phần",
    "DNTN": "Doanh nghiệp tư nhân",
    "HD": "Công ty hợp danh",
}
#: tinh_trang: the registry's status codes.
ENTERPRISE_STATUSES: Final[dict[int, str]] = {
    1: "Đang hoạt động",
    2: "Tạm ngừng kinh doanh",
    3: "Đã giải thể",
    4: "Phá sản",
}

_TYPE_WEIGHTS: Final = {"TNHH1TV": 38, "TNHH2TV": 24, "CP": 22, "DNTN": 14, "HD": 2}
_STATUS_WEIGHTS: Final = {1: 80, 2: 7, 3: 10, 4: 3}
_TAX_PREFIX: Final = {"068": "58", "060": "34", "067": "64"}
_BRANDS: Final = (
    ("Hoàng Phát", "Hoang Phat"),
    ("Minh Long", "Minh Long"),
    ("Thành Công", "Thanh Cong"),
    ("Đại Việt", "Dai Viet"),
    ("Lâm Viên", "Lam Vien"),
    ("Langbiang", "Langbiang"),
    ("Cao Nguyên Xanh", "Green Highland"),
    ("Phú Thịnh", "Phu Thinh"),
    ("An Khang", "An Khang"),
    ("Đồng Xanh", "Dong Xanh"),
    ("Sương Mai", "Suong Mai"),
    ("Hải Đăng", "Hai Dang"),
    ("Tân Tiến", "Tan Tien"),
    ("Bảo Lâm", "Bao Lam"),
    ("Trường Sơn", "Truong Son"),
    ("Mũi Né", "Mui Ne"),
    ("Thiên Phúc", "Thien Phuc"),
    ("Hưng Thịnh", "Hung Thinh"),
    ("Vạn Xuân", "Van Xuan"),
    ("Ngọc Lan", "Ngoc Lan"),
)
_TRADES: Final = (
    ("Thương mại Dịch vụ", "Trading and Services"),
    ("Xây dựng", "Construction"),
    ("Nông sản", "Agricultural Products"),
    ("Du lịch", "Tourism"),
    ("Cà phê", "Coffee"),
    ("Vận tải", "Transport"),
    ("Công nghệ", "Technology"),
    ("Hoa và Rau sạch", "Flowers and Vegetables"),
    ("Chè", "Tea"),
    ("Thủy sản", "Seafood"),
)
_TYPE_PREFIX: Final = {
    "TNHH1TV": ("Công ty TNHH", "Company Limited"),
    "TNHH2TV": ("Công ty TNHH", "Company Limited"),
    "CP": ("Công ty Cổ phần", "Joint Stock Company"),
    "HD": ("Công ty Hợp danh", "Partnership"),
}
_CAPITAL_MILLIONS: Final = {
    "TNHH1TV": (300, 20_000),
    "TNHH2TV": (500, 50_000),
    "CP": (2_000, 200_000),
    "DNTN": (100, 5_000),
    "HD": (500, 10_000),
}
_FIRST_REGISTRATION: Final = date(1995, 1, 1)


def birth_latest(row: Mapping[str, Any]) -> date:
    """The latest date the citizen ``row`` (a ``cong_dan`` row) can have been born on."""
    return PartialDate.parse(str(row["ngay_sinh"])).latest()


def years_after(day: date, years: int) -> date:
    """``day`` plus ``years`` (29 February becomes 1 March)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def adult_on(row: Mapping[str, Any], day: date) -> bool:
    """Whether the citizen ``row`` was surely 18 or older on ``day``."""
    return years_after(birth_latest(row), 18) <= day


def person_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The four identifying columns of a citizen, as sector systems copy them."""
    return {key: row[key] for key in ("so_dinh_danh", "ho_ten", "ngay_sinh", "gioi_tinh")}


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _names(rng: random.Random, kind: str, used: set[str]) -> tuple[str, str | None, str | None]:
    while True:
        brand, brand_en = rng.choice(_BRANDS)
        trade, trade_en = rng.choice(_TRADES)
        if kind == "DNTN":
            vietnamese, english = f"Doanh nghiệp tư nhân {trade} {brand}", None
        else:
            prefix, suffix = _TYPE_PREFIX[kind]
            vietnamese, english = f"{prefix} {trade} {brand}", f"{brand_en} {trade_en} {suffix}"
        if vietnamese in used:
            number = len(used) % 9 + 1
            vietnamese = f"{vietnamese} {number}"
            english = None if english is None else english.replace(f" {trade_en}", f" {number} {trade_en}", 1)
        if vietnamese not in used:
            used.add(vietnamese)
            suffix = {"CP": "JSC", "HD": "PARTNERSHIP"}.get(kind, "CO., LTD")
            return vietnamese, english, None if kind == "DNTN" else f"{brand_en.upper()} {suffix}"


def _tax_code(rng: random.Random, ward: WardInfo, used: set[str]) -> str:
    roll = rng.random()
    prefix = "01" if roll < 0.03 else "03" if roll < 0.06 else _TAX_PREFIX.get(old_province_of_ward(ward), "58")
    while True:
        code = make_tax_code(prefix, rng.randint(1, 9_999_999))
        if code is not None and code not in used:
            used.add(code)
            return code


def _branches(rng: random.Random, parent: str, founded: date, today: date, name: str) -> list[dict[str, Any]]:
    count = rng.choices((0, 1, 2, 3), weights=(78, 14, 6, 2))[0]
    branches = []
    for number in range(1, count + 1):
        province = "68" if rng.random() < 0.8 else rng.choice(("79", "01", "48"))
        ward = pick_ward(rng, province, biased=False)
        branches.append(
            {
                "ma_so": f"{parent}-{number:03d}",
                "ten": f"Chi nhánh {ward.name.removeprefix('Phường ').removeprefix('Xã ')} - {name}",
                "ma_tinh": ward.province,
                "ma_xa": ward.code,
                "dia_chi": address_line(rng, ward),
                "ngay_dang_ky": _random_day(rng, founded, today).isoformat(),
            }
        )
    return branches


def generate_enterprises(citizens: Iterable[Mapping[str, Any]], *, seed: int, today: date) -> list[dict[str, Any]]:
    """The enterprises of the synthetic citizens ``citizens``: about one for every 40 citizens, ordered by code.

    Each has a legal representative who is living (no ``ngay_mat``) and was an adult on the registration date;
    dissolved and bankrupt ones have a ``ngay_cham_dut`` between registration and ``today``.
    """
    rows = list(citizens)
    rng = random.Random(f"{seed}:enterprises")  # noqa: S311 - synthetic data, not security
    candidates = [r for r in rows if r["ngay_mat"] is None and adult_on(r, today - timedelta(days=400))]
    count = max(5, len(rows) // 40) if candidates else 0
    used_codes: set[str] = set()
    used_names: set[str] = set()
    enterprises = []
    for _ in range(count):
        representative = rng.choice(candidates)
        earliest = max(_FIRST_REGISTRATION, years_after(birth_latest(representative), 18))
        founded = _random_day(rng, earliest, today - timedelta(days=365))
        kind = rng.choices(tuple(_TYPE_WEIGHTS), weights=tuple(_TYPE_WEIGHTS.values()))[0]
        status = rng.choices(tuple(_STATUS_WEIGHTS), weights=tuple(_STATUS_WEIGHTS.values()))[0]
        ward = pick_ward(rng, "68")
        code = _tax_code(rng, ward, used_codes)
        vietnamese, english, short = _names(rng, kind, used_names)
        low, high = _CAPITAL_MILLIONS[kind]
        closed = _random_day(rng, founded + timedelta(days=180), today) if status in (3, 4) else None
        updated = closed or _random_day(rng, founded, today)
        enterprises.append(
            {
                "ma_so_dn": code,
                "ten_tieng_viet": vietnamese,
                "ten_tieng_anh": english,
                "ten_viet_tat": short,
                "loai_hinh": kind,
                "ngay_thanh_lap": founded,
                "ma_tinh": ward.province,
                "ma_xa": ward.code,
                "dia_chi": address_line(rng, ward),
                "von_dieu_le": rng.randint(low, high) * 1_000_000,
                "tinh_trang": status,
                "ngay_cham_dut": closed,
                "nguoi_dai_dien": person_of(representative),
                "chi_nhanh": _branches(rng, code, founded, closed or today, vietnamese) if kind != "DNTN" else [],
                "ngay_cap_nhat": datetime.combine(updated, time(8, rng.randint(0, 59)), tzinfo=UTC),
            }
        )
    return sorted(enterprises, key=lambda e: e["ma_so_dn"])


@functools.lru_cache(maxsize=4)
def synthetic_world(
    count: int, seed: int, today: date
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """The citizens of :func:`simulators.population.generate_citizens` ``(count, seed, today)`` and their
    enterprises, computed once per arguments (the sector systems of one demo share them; do not modify them)."""
    from .population import synthetic_citizens

    citizens = synthetic_citizens(count, seed, today)
    return citizens, tuple(generate_enterprises(citizens, seed=seed, today=today))
