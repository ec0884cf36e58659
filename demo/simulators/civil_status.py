"""The simulated electronic civil status database (Cơ sở dữ liệu hộ tịch điện tử).

One table, ``dang_ky_ho_tich``, holds the birth (khai sinh), marriage (kết hôn) and death (khai tử) registrations
of the citizens of the simulated population database, in the sector system's own columns and code lists. It is a
deterministic function of the citizens ``(count, seed, today)`` and its own random stream, and agrees with them:

* every citizen whose complete date of birth is known has one birth registration, made within 60 days of the birth
  (never after ``today``) by a ward of the province where the birth was registered, naming the parents who live in
  the same household;
* every married couple of a household (see :func:`simulators.citizen_links.couples`) has one marriage
  registration, after the husband's 20th and the wife's 18th birthday and before either died;
* every citizen with a date of death has exactly one death registration with that date, made within 15 days by
  the ward of permanent residence.

Entries are numbered per kind, registering ward and year, in the order of registration, with gaps for the
registrations of people outside the simulated population.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Final

import sqlalchemy as sa

from contracts.dates import vietnam_today

from .citizen_links import (
    Row,
    add_years,
    birth_latest,
    couples,
    households,
    parents_of,
    person_columns,
    random_day,
)
from .population import synthetic_citizens
from .sectors import SectorContext, SectorSystem
from .sql_seeding import seed_table
from .vn_places import pick_old_province_ward, pick_ward

__all__ = [
    "CIVIL_STATUS",
    "REGISTRATIONS",
    "REGISTRATION_KIND_CODES",
    "generate_registrations",
    "metadata",
    "seed_civil_status",
]

#: Metadata holding only the simulated sector table.
metadata = sa.MetaData()

#: The registrations table of the simulated civil status database.
REGISTRATIONS: Final = sa.Table(
    "dang_ky_ho_tich",
    metadata,
    sa.Column("ma_dang_ky", sa.String(24), primary_key=True, comment="KS|KH|KT-ward-year-number"),
    sa.Column("loai_dang_ky", sa.String(2), nullable=False, comment="KS khai sinh, KH kết hôn, KT khai tử"),
    sa.Column("so_dang_ky", sa.Integer, nullable=False, comment="number in the book"),
    sa.Column("quyen_so", sa.String(7), nullable=False, comment="book NN/YYYY"),
    sa.Column("ma_tinh_dang_ky", sa.String(2), nullable=False),
    sa.Column("ma_xa_dang_ky", sa.String(5), nullable=False),
    sa.Column("ngay_dang_ky", sa.Date, nullable=False),
    sa.Column("so_dinh_danh", sa.String(12), nullable=True, comment="child or deceased"),
    sa.Column("ho_ten", sa.String(100), nullable=True),
    sa.Column("ngay_sinh", sa.String(10), nullable=True, comment="YYYY-MM-DD, YYYY-MM or YYYY"),
    sa.Column("gioi_tinh", sa.SmallInteger, nullable=True, comment="1 male, 2 female"),
    sa.Column("ks_ngay_sinh", sa.Date, nullable=True, comment="birth: date of birth"),
    sa.Column("ks_noi_sinh_tinh", sa.String(2), nullable=True),
    sa.Column("ks_noi_sinh_xa", sa.String(5), nullable=True),
    sa.Column("ks_dinh_danh_cha", sa.String(12), nullable=True, comment="birth: father's personal id"),
    sa.Column("ks_dinh_danh_me", sa.String(12), nullable=True, comment="birth: mother's personal id"),
    sa.Column("kh_chong_so_dinh_danh", sa.String(12), nullable=True, comment="marriage: husband"),
    sa.Column("kh_chong_ho_ten", sa.String(100), nullable=True),
    sa.Column("kh_chong_ngay_sinh", sa.String(10), nullable=True),
    sa.Column("kh_chong_gioi_tinh", sa.SmallInteger, nullable=True),
    sa.Column("kh_vo_so_dinh_danh", sa.String(12), nullable=True, comment="marriage: wife"),
    sa.Column("kh_vo_ho_ten", sa.String(100), nullable=True),
    sa.Column("kh_vo_ngay_sinh", sa.String(10), nullable=True),
    sa.Column("kh_vo_gioi_tinh", sa.SmallInteger, nullable=True),
    sa.Column("kt_ngay_mat", sa.Date, nullable=True, comment="death: date of death"),
    sa.Column("kt_noi_mat_tinh", sa.String(2), nullable=True),
    sa.Column("kt_noi_mat_xa", sa.String(5), nullable=True),
    sa.Index("ix_dang_ky_ho_tich_so_dinh_danh", "so_dinh_danh"),
    sa.Index("ix_dang_ky_ho_tich_chong", "kh_chong_so_dinh_danh"),
    sa.Index("ix_dang_ky_ho_tich_vo", "kh_vo_so_dinh_danh"),
)

BIRTH, MARRIAGE, DEATH = "KS", "KH", "KT"
#: loai_dang_ky: kind of registration (also the first part of the registration id).
REGISTRATION_KIND_CODES: Final[dict[str, str]] = {BIRTH: "birth", MARRIAGE: "marriage", DEATH: "death"}


def _birth(rng: random.Random, citizen: Row, parents: tuple[Row | None, Row | None] | None, today: date) -> Row:
    born = date.fromisoformat(citizen["ngay_sinh"])
    ward = pick_old_province_ward(rng, citizen["so_dinh_danh"][:3]).code
    ward = citizen["dk_khai_sinh_xa"] or ward
    father, mother = parents or (None, None)
    return {
        "loai_dang_ky": BIRTH,
        "ma_tinh_dang_ky": citizen["dk_khai_sinh_tinh"],
        "ma_xa_dang_ky": ward,
        "ngay_dang_ky": min(born + timedelta(days=rng.randint(1, 60)), today),
        **person_columns(citizen, ""),
        "ks_ngay_sinh": born,
        "ks_noi_sinh_tinh": citizen["dk_khai_sinh_tinh"],
        "ks_noi_sinh_xa": ward,
        "ks_dinh_danh_cha": father["so_dinh_danh"] if father else None,
        "ks_dinh_danh_me": mother["so_dinh_danh"] if mother else None,
    }


def _death(rng: random.Random, citizen: Row, today: date) -> Row:
    died: date = citizen["ngay_mat"]
    province = citizen["thuong_tru_tinh"]
    place = citizen["thuong_tru_xa"] if rng.random() < 0.75 else pick_ward(rng, province).code  # else a hospital
    return {
        "loai_dang_ky": DEATH,
        "ma_tinh_dang_ky": province,
        "ma_xa_dang_ky": citizen["thuong_tru_xa"],
        "ngay_dang_ky": min(died + timedelta(days=rng.randint(0, 15)), today),
        **person_columns(citizen, ""),
        "kt_ngay_mat": died,
        "kt_noi_mat_tinh": province,
        "kt_noi_mat_xa": place,
    }


def _marriage(rng: random.Random, husband: Row, wife: Row, first_child: date | None, today: date) -> Row:
    lawful = max(add_years(birth_latest(husband), 20), add_years(birth_latest(wife), 18))
    bound = min([today, *(p["ngay_mat"] for p in (husband, wife) if p["ngay_mat"] is not None)])
    latest = min(add_years(lawful, 12), bound)
    if first_child is not None and first_child - timedelta(days=60) >= lawful:
        latest = min(latest, first_child - timedelta(days=60))
    earliest = min(lawful, bound)
    return {
        "loai_dang_ky": MARRIAGE,
        "ma_tinh_dang_ky": husband["thuong_tru_tinh"],
        "ma_xa_dang_ky": husband["thuong_tru_xa"],
        "ngay_dang_ky": random_day(rng, earliest, latest),
        **person_columns(husband, "kh_chong_"),
        **person_columns(wife, "kh_vo_"),
    }


def _number(rng: random.Random, registrations: list[Row]) -> list[Row]:
    """Registration numbers, books and ids, in order of registration within each kind, ward and year."""
    ordered = sorted(
        registrations,
        key=lambda r: (
            r["loai_dang_ky"],
            r["ma_xa_dang_ky"],
            r["ngay_dang_ky"],
            r["so_dinh_danh"] or r["kh_chong_so_dinh_danh"],
        ),
    )
    last: dict[tuple[str, str, int], int] = {}
    for row in ordered:
        group = (row["loai_dang_ky"], row["ma_xa_dang_ky"], row["ngay_dang_ky"].year)
        number = last.get(group, 0) + rng.randint(1, 25)
        last[group] = number
        row["so_dang_ky"] = number
        row["quyen_so"] = f"01/{group[2]:04d}"
        row["ma_dang_ky"] = f"{group[0]}-{group[1]}-{group[2]:04d}-{number:06d}"
    return ordered


def generate_registrations(
    count: int, *, seed: int = 68, today: date | None = None, citizens: list[Row] | None = None
) -> list[Row]:
    """The ``dang_ky_ho_tich`` rows of the ``count`` citizens ``generate_citizens(count, seed=seed, today=today)``
    (or of ``citizens`` when given), as dicts keyed by column, ordered by kind, ward and date."""
    today = today or vietnam_today()
    people = citizens if citizens is not None else list(synthetic_citizens(count, seed, today))
    rng = random.Random(f"{seed}:civil_status")  # noqa: S311 - synthetic data, not security
    empty = dict.fromkeys(c.name for c in REGISTRATIONS.columns)
    registrations: list[Row] = []
    for household in households(people):
        parents = parents_of(household)
        for citizen in household:
            if len(citizen["ngay_sinh"]) == 10:
                registrations.append(_birth(rng, citizen, parents.get(citizen["so_dinh_danh"]), today))
            if citizen["ngay_mat"] is not None:
                registrations.append(_death(rng, citizen, today))
        for couple in couples(household):
            children = [
                date.fromisoformat(c["ngay_sinh"]) if len(c["ngay_sinh"]) == 10 else birth_latest(c)
                for c in household
                if parents.get(c["so_dinh_danh"]) == (couple.husband, couple.wife)
            ]
            registrations.append(_marriage(rng, couple.husband, couple.wife, min(children, default=None), today))
    return _number(rng, [{**empty, **r} for r in registrations])


def _rows(count: int, seed: int, today: date | None) -> Iterator[dict[str, Any]]:
    yield from generate_registrations(count, seed=seed, today=today)


async def seed_civil_status(
    url: str, *, count: int = 20000, seed: int = 68, today: date | None = None, replace: bool = False
) -> int:
    """Create ``dang_ky_ho_tich`` at the SQLAlchemy ``url`` and fill it with the registrations of the ``count``
    citizens of ``seed`` (see :func:`generate_registrations`); an already filled table is kept unless
    ``replace``. Returns the number of rows in the table."""
    return await seed_table(url, REGISTRATIONS, lambda: _rows(count, seed, today), replace=replace)


async def _start(context: SectorContext) -> dict[str, Any]:
    url = context.sqlite_url("civil_status")
    if context.sector_defects is None:
        await seed_civil_status(url, count=context.citizens, seed=context.seed, today=context.today)
    else:
        rows = generate_registrations(context.citizens, seed=context.seed, today=context.today)
        context.plant("civil_status", rows)
        await seed_table(url, REGISTRATIONS, lambda: rows)
    return {"url": url}


#: The simulated electronic civil status database, served over SQL.
CIVIL_STATUS = SectorSystem(
    database="civil_status",
    connector="civil_status",
    title="Electronic civil status database",
    protocol="sql",
    start=_start,
)
