"""Vietnam Social Security's records of the synthetic citizens: social insurance books and health insurance cards.

:func:`build_vss_records` derives them, deterministically, from the citizens of :mod:`simulators.population`,
the enterprises of :mod:`simulators.enterprises`, a seed and ``today``, with their own random generators:

* adults work from 18-26 for employers that existed at the time (registered, not yet closed), with gaps, some
  periods of voluntary insurance, until retirement age (60 for men, 55 for women, the rule before 2021), death
  or today; a period still running today is open when its employer still operates;
* one social insurance code per insured person: the two-digit province code of their personal id and eight
  digits;
* health insurance cards: free cards for children under six (group ``TE``, valid from birth to the day before
  the sixth birthday), employees' (``DN``), pensioners' (``HT``), pupils' (``HS``) and household (``GD``) cards;
  no card is valid after its holder's death; cards that ended before 1 April 2021 keep the old 15-character code
  (group, benefit level, province, social insurance code).

The records are in the API's own JSON shape (camelCase Vietnamese keys, its code lists).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from ..enterprises import birth_latest, years_after
from ..population_api.records import vietnamese_date

__all__ = [
    "CARD_STATUSES",
    "FACILITIES",
    "GENDERS",
    "NEW_CARD_CODES_FROM",
    "PARTICIPANT_STATUSES",
    "VssRecords",
    "build_vss_records",
    "card_status",
    "synthetic_vss_records",
]

#: gioiTinh: the API's gender words.
GENDERS: Final[dict[int, str]] = {1: "Nam", 2: "Nữ"}
#: trangThai of a participant.
PARTICIPANT_STATUSES: Final[dict[str, str]] = {
    "DANG_DONG": "contributing",
    "TAM_DUNG": "paused",
    "HUONG_LUONG_HUU": "retired",
    "DA_CHET": "deceased",
}
#: trangThai of a card, computed when asked.
CARD_STATUSES: Final[dict[str, str]] = {
    "CON_HAN": "valid",
    "HET_HAN": "expired",
    "CHUA_CO_HIEU_LUC": "not_yet_valid",
}
#: Cards issued from this day carry the 10-digit social insurance code (Decision 1666/QĐ-BHXH).
NEW_CARD_CODES_FROM: Final = date(2021, 4, 1)
#: Primary care facilities of Lâm Đồng: code (province + three digits) -> name.
FACILITIES: Final[dict[str, str]] = {
    "68001": "Bệnh viện Đa khoa tỉnh Lâm Đồng",
    "68002": "Bệnh viện Đa khoa Lâm Đồng II",
    "68003": "Bệnh viện Nhi Lâm Đồng",
    "68010": "Trung tâm Y tế khu vực Đức Trọng",
    "68011": "Trung tâm Y tế khu vực Di Linh",
    "68012": "Trung tâm Y tế khu vực Lâm Hà",
    "68020": "Bệnh viện Đa khoa tỉnh Bình Thuận",
    "68021": "Trung tâm Y tế khu vực Phan Thiết",
    "68030": "Bệnh viện Đa khoa tỉnh Đắk Nông",
    "68040": "Phòng khám Đa khoa Hoàn Mỹ Đà Lạt",
}
_CHILD_FACILITY: Final = "68003"
_FIRST_MONTH: Final = 1995 * 12  # January 1995: the first month of the social insurance fund


@dataclass(slots=True)
class VssRecords:
    """The records the API publishes: participants by social insurance code, cards by card code."""

    participants: dict[str, dict[str, Any]] = field(default_factory=dict)
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    """Personal id -> social insurance code, for everyone insured."""


def card_status(card: Mapping[str, Any], today: date) -> str:
    """The API's validity status of ``card`` on ``today``."""
    if date.fromisoformat(card["giaTriTu"]) > today:
        return "CHUA_CO_HIEU_LUC"
    return "HET_HAN" if date.fromisoformat(card["giaTriDen"]) < today else "CON_HAN"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_text(index: int) -> str:
    return f"{index % 12 + 1:02d}/{index // 12}"


def _first_day(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _last_day(index: int) -> date:
    return _first_day(index + 1) - timedelta(days=1)


def _minimum_wage(year: int) -> int:
    """A regional minimum wage of the year, roughly (VND)."""
    return int(min(4_960_000, 350_000 * 1.14 ** max(0, year - 2000)))


def _schemes(year: int) -> list[str]:
    schemes = ["BHXH_BB", "BHYT"]
    if year >= 2009:
        schemes.append("BHTN")
    if year >= 2016:
        schemes.append("BHTNLD_BNN")
    return schemes


def _person(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "soDinhDanh": row["so_dinh_danh"],
        "hoTen": row["ho_ten"],
        "ngaySinh": vietnamese_date(str(row["ngay_sinh"])),
        "gioiTinh": GENDERS.get(int(row["gioi_tinh"]), str(row["gioi_tinh"])),
    }


def _timestamp(rng: random.Random, after: date, today: date) -> str:
    day = after + timedelta(days=rng.randint(0, max(0, (today - after).days)))
    moment = datetime.combine(min(day, today), time(rng.randint(1, 10), rng.randint(0, 59)), tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


class _Employers:
    def __init__(self, enterprises: Sequence[Mapping[str, Any]]) -> None:
        self.enterprises = list(enterprises)
        self._spans = [
            (
                _month_index(e["ngay_thanh_lap"]),
                None if e["ngay_cham_dut"] is None else _month_index(e["ngay_cham_dut"]),
            )
            for e in self.enterprises
        ]
        self._open: dict[int, list[Mapping[str, Any]]] = {}

    def open_at(self, month: int) -> list[Mapping[str, Any]]:
        """Enterprises registered before ``month`` and not closed within six months of it (computed once a month)."""
        found = self._open.get(month)
        if found is None:
            found = self._open[month] = [
                e
                for e, (founded, closed) in zip(self.enterprises, self._spans, strict=True)
                if founded < month and (closed is None or closed > month + 6)
            ]
        return found


def _periods(
    rng: random.Random, row: Mapping[str, Any], employers: _Employers, today: date
) -> tuple[list[dict[str, Any]], bool]:
    """The contribution periods of one citizen, and whether the last is open."""
    born = birth_latest(row)
    death: date | None = row["ngay_mat"]
    retirement = years_after(born, 60 if int(row["gioi_tinh"]) == 1 else 55)
    start = max(_FIRST_MONTH, _month_index(years_after(born, rng.randint(18, 26))) + rng.randint(0, 11))
    stop = min(_month_index(today), _month_index(retirement) - 1, _month_index(death) if death else 10**6)
    periods: list[dict[str, Any]] = []
    cursor, is_open = start, False
    while cursor <= stop:
        choices = employers.open_at(cursor)
        year = cursor // 12
        if choices and rng.random() < 0.88:
            employer = rng.choice(choices)
            end = min(stop, cursor + rng.randint(6, 96))
            closed = employer["ngay_cham_dut"]
            if closed is not None:
                end = min(end, _month_index(closed) - 1)
            is_open = end == _month_index(today) and closed is None and employer["tinh_trang"] == 1 and not death
            salary = round(_minimum_wage(year) * rng.uniform(1.07, 3.5), -3)
            periods.append(
                {
                    "tuThang": _month_text(cursor),
                    "denThang": None if is_open else _month_text(end),
                    "mstDonVi": employer["ma_so_dn"],
                    "tenDonVi": employer["ten_tieng_viet"],
                    "mucLuong": int(salary),
                    "loaiBaoHiem": _schemes(year),
                }
            )
        elif year >= 2008:
            end = min(stop, cursor + rng.randint(6, 36))
            is_open = False
            periods.append(
                {
                    "tuThang": _month_text(cursor),
                    "denThang": _month_text(end),
                    "mstDonVi": None,
                    "tenDonVi": None,
                    "mucLuong": int(round(_minimum_wage(year) * rng.uniform(0.5, 1.2), -3)),
                    "loaiBaoHiem": ["BHXH_TN"],
                }
            )
        else:
            end = cursor + rng.randint(3, 24)
        if is_open or rng.random() < 0.12:
            break
        cursor = end + 1 + rng.randint(0, 18)
    return periods, is_open


def _code(rng: random.Random, pid: str, used: set[str]) -> str:
    while True:
        code = f"{pid[1:3]}{rng.randrange(10**8):08d}"
        if code not in used:
            used.add(code)
            return code


def _card(
    holder: Mapping[str, Any],
    *,
    code: str,
    group: str,
    level: int,
    valid: tuple[date, date],
    facility: str,
    updated: str,
) -> dict[str, Any]:
    valid_from, valid_to = valid
    card_code = code if valid_to >= NEW_CARD_CODES_FROM else f"{group}{level}{code[:2]}{code}"
    return {
        "maThe": card_code,
        "maSoBhxh": code,
        "chuThe": _person(holder),
        "maDoiTuong": group,
        "mucHuong": level,
        "giaTriTu": valid_from.isoformat(),
        "giaTriDen": valid_to.isoformat(),
        "noiDangKyKCB": {"ma": facility, "ten": FACILITIES[facility]},
        "ngayCapNhat": updated,
    }


def _parse_month(text: str) -> int:
    month, year = text.split("/")
    return int(year) * 12 + int(month) - 1


def _contributed_months(periods: Sequence[Mapping[str, Any]], today: date) -> int:
    return sum(
        (_parse_month(p["denThang"]) if p["denThang"] else _month_index(today)) - _parse_month(p["tuThang"]) + 1
        for p in periods
    )


def _card_terms(  # noqa: PLR0911 - one return per kind of card
    rng: random.Random, row: Mapping[str, Any], periods: list[dict[str, Any]], status: str | None, today: date
) -> tuple[str, int, date, date] | None:
    """(group, benefit level, valid from, valid to) of the citizen's latest card as of ``today``, or ``None``."""
    born = birth_latest(row)
    sixth = years_after(born, 6)
    year_end = date(today.year, 12, 31)
    if today < sixth:
        return "TE", 1, born, sixth - timedelta(days=1)
    if status == "DANG_DONG":
        begin = _first_day(_parse_month(periods[-1]["tuThang"]))
        return "DN", 4, max(begin, date(today.year - 1, 1, 1)), year_end
    if status == "HUONG_LUONG_HUU":
        return "HT", 3, date(today.year, 1, 1), year_end
    age = today.year - born.year
    if 6 <= age < 18:
        if rng.random() < 0.04:
            return "HS", 4, date(today.year + 1, 1, 1), date(today.year + 1, 12, 31)
        return ("HS", 4, date(today.year, 1, 1), year_end) if rng.random() < 0.88 else None
    if periods and "BHYT" in periods[-1]["loaiBaoHiem"] and rng.random() < 0.5:
        end = _last_day(_parse_month(periods[-1]["denThang"]))
        begin = max(_first_day(_parse_month(periods[-1]["tuThang"])), date(end.year, 1, 1))
        return "DN", 4, begin, end
    if rng.random() < 0.55:
        begin = (today - timedelta(days=rng.randint(0, 540))).replace(day=1)
        return "GD", 4, begin, years_after(begin, 1) - timedelta(days=1)
    return None


def _status(row: Mapping[str, Any], periods: Sequence[Mapping[str, Any]], is_open: bool, today: date) -> str:
    if row["ngay_mat"] is not None:
        return "DA_CHET"
    if is_open:
        return "DANG_DONG"
    pension_age = years_after(birth_latest(row), 60 if int(row["gioi_tinh"]) == 1 else 55)
    if pension_age <= today and _contributed_months(periods, today) >= 180:
        return "HUONG_LUONG_HUU"
    return "TAM_DUNG"


def build_vss_records(
    citizens: Iterable[Mapping[str, Any]],
    enterprises: Sequence[Mapping[str, Any]],
    *,
    seed: int,
    today: date,
) -> VssRecords:
    """Vietnam Social Security's records of ``citizens`` (``cong_dan`` rows), employed by ``enterprises``."""
    rows = sorted(citizens, key=lambda r: r["so_dinh_danh"])
    work = random.Random(f"{seed}:social_insurance")  # noqa: S311 - synthetic data, not security
    health = random.Random(f"{seed}:health_insurance")  # noqa: S311
    numbers = random.Random(f"{seed}:social_insurance_codes")  # noqa: S311
    employers = _Employers(enterprises)
    records = VssRecords()
    used: set[str] = set()
    for row in rows:
        pid, death = row["so_dinh_danh"], row["ngay_mat"]
        periods: list[dict[str, Any]] = []
        is_open = False
        if work.random() < 0.62:
            periods, is_open = _periods(work, row, employers, today)
        status = _status(row, periods, is_open, today) if periods else None
        terms = _card_terms(health, row, periods, status, death or today)
        if terms is not None and death is not None:
            group, level, valid_from, valid_to = terms
            terms = None if valid_from > death else (group, level, valid_from, min(valid_to, death))
        if not periods and terms is None:
            continue
        code = records.codes[pid] = _code(numbers, pid, used)
        if status is not None:
            last = periods[-1]["denThang"]
            changed = _last_day(_parse_month(last)) if last else today - timedelta(days=60)
            records.participants[code] = {
                "maSoBhxh": code,
                "nguoiThamGia": _person(row),
                "trangThai": status,
                "quaTrinhDong": periods,
                "ngayChet": death.isoformat() if death else None,
                "ngayCapNhat": _timestamp(work, max(changed, death or changed), today),
            }
        if terms is not None:
            group, level, valid_from, valid_to = terms
            facility = _CHILD_FACILITY if group == "TE" else health.choice(sorted(FACILITIES))
            card = _card(
                row,
                code=code,
                group=group,
                level=level,
                valid=(valid_from, valid_to),
                facility=facility,
                updated=_timestamp(health, min(valid_from, today), today),
            )
            records.cards[card["maThe"]] = card
    return records


@functools.lru_cache(maxsize=4)
def synthetic_vss_records(count: int, seed: int, today: date) -> VssRecords:
    """:func:`build_vss_records` of the synthetic world ``(count, seed, today)``, computed once per arguments (the
    insurance and tax systems of one demo share it; do not modify it)."""
    from ..enterprises import synthetic_world

    citizens, enterprises = synthetic_world(count, seed, today)
    return build_vss_records(citizens, enterprises, seed=seed, today=today)
