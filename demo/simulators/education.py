"""The simulated diplomas database of the education sector (Cơ sở dữ liệu văn bằng, chứng chỉ).

One table, ``van_bang``, holds the diplomas of the citizens of the simulated population database, in the sector
system's own columns and code lists. It is a deterministic function of the citizens ``(count, seed, today)`` and
its own random stream, and agrees with them:

* most citizens born since 1965 finished lower secondary school the year they turned 15 (sometimes one year
  later), many went on to upper secondary school three years later, some to college or university (three to
  five years after that), a few to a master's and fewer to a doctorate;
* secondary diplomas are issued by the Department of Education and Training of the province where the birth was
  registered (where the holder grew up), higher ones by the school, which names the holder's field of study;
* nothing is issued after ``today`` or after the holder's death; each diploma is issued in its graduation year.

Numbers name the level, the issuer, the year and a serial given in the order of issue: ``THPT-68-2019-001234``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any, Final, NamedTuple

import sqlalchemy as sa

from contracts.dates import vietnam_today

from .citizen_links import Row, birth_latest, person_columns, random_day
from .population import synthetic_citizens
from .sectors import SectorContext, SectorSystem
from .sql_seeding import seed_table

__all__ = [
    "CLASSIFICATION_CODES",
    "DIPLOMAS",
    "EDUCATION",
    "LEVEL_CODES",
    "generate_diplomas",
    "metadata",
    "seed_education",
]

#: Metadata holding only the simulated sector table.
metadata = sa.MetaData()

#: The diplomas table of the simulated education database.
DIPLOMAS: Final = sa.Table(
    "van_bang",
    metadata,
    sa.Column("so_hieu", sa.String(24), primary_key=True, comment="level-issuer-year-serial"),
    sa.Column("so_dinh_danh", sa.String(12), nullable=False, comment="holder's personal id"),
    sa.Column("ho_ten", sa.String(100), nullable=False),
    sa.Column("ngay_sinh", sa.String(10), nullable=False, comment="YYYY-MM-DD, YYYY-MM or YYYY"),
    sa.Column("gioi_tinh", sa.SmallInteger, nullable=False, comment="1 male, 2 female"),
    sa.Column("cap_hoc", sa.String(4), nullable=False, comment="THCS, THPT, CD, DH, THS, TS"),
    sa.Column("ten_truong", sa.String(200), nullable=False),
    sa.Column("nganh", sa.String(200), nullable=True, comment="field of study, college and higher"),
    sa.Column("nam_tot_nghiep", sa.SmallInteger, nullable=False),
    sa.Column("xep_loai", sa.String(2), nullable=True, comment="XS, G, K, TB; college and bachelor"),
    sa.Column("ngay_cap", sa.Date, nullable=False),
    sa.Index("ix_van_bang_so_dinh_danh", "so_dinh_danh"),
)

#: cap_hoc -> contract level.
LEVEL_CODES: Final[dict[str, str]] = {
    "THCS": "lower_secondary",
    "THPT": "upper_secondary",
    "CD": "college",
    "DH": "bachelor",
    "THS": "master",
    "TS": "doctorate",
}
#: xep_loai -> contract classification.
CLASSIFICATION_CODES: Final[dict[str, str]] = {"XS": "excellent", "G": "very_good", "K": "good", "TB": "average"}


class _School(NamedTuple):
    code: str
    name: str
    majors: tuple[str, ...]


_LOWER_SECONDARY = (
    "Trường THCS Quang Trung", "Trường THCS Nguyễn Du", "Trường THCS Lê Lợi", "Trường THCS Chu Văn An",
    "Trường THCS Phan Chu Trinh", "Trường THCS Nguyễn Trãi", "Trường THCS Lý Tự Trọng",
)  # fmt: skip
_UPPER_SECONDARY = (
    "Trường THPT Trần Phú", "Trường THPT Bùi Thị Xuân", "Trường THPT Phan Bội Châu", "Trường THPT Nguyễn Huệ",
    "Trường THPT Lê Quý Đôn", "Trường THPT Chu Văn An", "Trường THPT Hùng Vương",
)  # fmt: skip
_UNIVERSITIES = (
    _School("TDL", "Trường Đại học Đà Lạt", ("Luật", "Công nghệ thông tin", "Sinh học", "Kế toán", "Du lịch")),
    _School("QSB", "Trường Đại học Bách khoa - ĐHQG TP. Hồ Chí Minh", ("Kỹ thuật xây dựng", "Khoa học máy tính")),
    _School("KSA", "Trường Đại học Kinh tế TP. Hồ Chí Minh", ("Quản trị kinh doanh", "Tài chính - Ngân hàng")),
    _School("NLS", "Trường Đại học Nông Lâm TP. Hồ Chí Minh", ("Nông học", "Lâm học", "Thú y")),
    _School("SPS", "Trường Đại học Sư phạm TP. Hồ Chí Minh", ("Sư phạm Toán học", "Giáo dục Tiểu học")),
    _School("YDS", "Trường Đại học Y Dược TP. Hồ Chí Minh", ("Y khoa", "Dược học", "Điều dưỡng")),
)
_COLLEGES = (
    _School("CYL", "Trường Cao đẳng Y tế Lâm Đồng", ("Điều dưỡng", "Dược", "Hộ sinh")),
    _School("CKL", "Trường Cao đẳng Kỹ thuật Công nghệ Lâm Đồng", ("Công nghệ kỹ thuật ô tô", "Điện công nghiệp")),
)
_GRADUATE_SCHOOLS = tuple(school for school in _UNIVERSITIES if school.code != "SPS")
_CLASSIFICATIONS = ("XS", "G", "K", "TB")
_CLASSIFICATION_WEIGHTS = (0.05, 0.25, 0.5, 0.2)


def _death(row: Row) -> date | None:
    value: Any = row.get("ngay_mat")
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _classification(rng: random.Random) -> str:
    return rng.choices(_CLASSIFICATIONS, _CLASSIFICATION_WEIGHTS)[0]


class _Holder:
    """Draws one citizen's diplomas, level after level, stopping at ``today`` or the death."""

    def __init__(self, rng: random.Random, citizen: Row, today: date) -> None:
        self.rng, self.citizen = rng, citizen
        death = _death(citizen)
        self.last_day = today if death is None else min(today, death)
        self.diplomas: list[Row] = []

    def award(self, level: str, year: int, issuer: str, school: str, major: str | None = None) -> bool:
        """Add a diploma graduated in ``year`` if it was issued in time; whether it was."""
        summer = (date(year, 7, 15), date(year, 9, 30)) if major is None else (date(year, 6, 1), date(year, 12, 20))
        issued = random_day(self.rng, *summer)
        if issued >= self.last_day:
            return False
        self.diplomas.append(
            {
                "so_hieu": "",
                "issuer": issuer,
                **person_columns(self.citizen, ""),
                "cap_hoc": level,
                "ten_truong": school,
                "nganh": major,
                "nam_tot_nghiep": year,
                "xep_loai": _classification(self.rng) if level in {"CD", "DH"} else None,
                "ngay_cap": issued,
            }
        )
        return True

    def draw(self) -> list[Row]:
        """The citizen's diplomas, oldest first."""
        born = birth_latest(self.citizen).year
        if born >= 1965 and self.rng.random() < 0.92:
            self._schooling(born)
        return self.diplomas

    def _schooling(self, born: int) -> None:
        rng, province = self.rng, self.citizen["dk_khai_sinh_tinh"]
        year = born + 15 + (rng.random() < 0.1)
        if not self.award("THCS", year, province, rng.choice(_LOWER_SECONDARY)) or rng.random() >= 0.75:
            return
        year += 3
        if self.award("THPT", year, province, rng.choice(_UPPER_SECONDARY)):
            self._higher(year)

    def _higher(self, year: int) -> None:
        rng = self.rng
        draw = rng.random()
        if draw < 0.12:
            college = rng.choice(_COLLEGES)
            self.award("CD", year + 3, college.code, college.name, rng.choice(college.majors))
        elif draw < 0.47:
            university = rng.choice(_UNIVERSITIES)
            year += rng.choice((4, 4, 4, 5))
            if self.award("DH", year, university.code, university.name, rng.choice(university.majors)):
                self._graduate(year)

    def _graduate(self, year: int) -> None:
        rng = self.rng
        if rng.random() >= 0.12:
            return
        school = rng.choice(_GRADUATE_SCHOOLS)
        year += rng.randint(2, 4)
        if self.award("THS", year, school.code, school.name, rng.choice(school.majors)) and rng.random() < 0.15:
            self.award("TS", year + rng.randint(3, 5), school.code, school.name, rng.choice(school.majors))


def generate_diplomas(count: int, *, seed: int = 68, today: date | None = None) -> list[Row]:
    """The ``van_bang`` rows of the first ``count`` citizens of the population (``(count, seed, today)``), in the
    order of issue, numbered per level, issuer and year."""
    today = today or vietnam_today()
    rng = random.Random(f"{seed}:education")  # noqa: S311 - synthetic data, not security
    drafts: list[Row] = []
    for citizen in synthetic_citizens(count, seed, today):
        drafts.extend(_Holder(rng, citizen, today).draw())
    drafts.sort(key=lambda row: (row["ngay_cap"], row["so_dinh_danh"], row["cap_hoc"]))
    serials: defaultdict[tuple[str, str, int], int] = defaultdict(int)
    for row in drafts:
        key = (row["cap_hoc"], row.pop("issuer"), row["nam_tot_nghiep"])
        serials[key] += 1
        row["so_hieu"] = f"{key[0]}-{key[1]}-{key[2]}-{serials[key]:06d}"
    return drafts


def _rows(count: int, seed: int, today: date | None) -> Iterator[dict[str, Any]]:
    yield from generate_diplomas(count, seed=seed, today=today)


async def seed_education(
    url: str, *, count: int = 2000, seed: int = 68, today: date | None = None, replace: bool = False
) -> int:
    """Create ``van_bang`` at the SQLAlchemy ``url`` and fill it with the diplomas of ``count`` citizens."""
    return await seed_table(url, DIPLOMAS, lambda: _rows(count, seed, today), replace=replace)


async def _start(context: SectorContext) -> dict[str, Any]:
    url = context.sqlite_url("education")
    if context.sector_defects is None:
        await seed_education(url, count=context.citizens, seed=context.seed, today=context.today)
    else:
        rows = generate_diplomas(context.citizens, seed=context.seed, today=context.today)
        context.plant("education", rows)
        await seed_table(url, DIPLOMAS, lambda: rows)
    return {"url": url}


#: The simulated diplomas database, served over SQL.
EDUCATION = SectorSystem(
    database="education",
    connector="education",
    title="Diplomas database",
    protocol="sql",
    start=_start,
)
