"""The simulated national land database (Cơ sở dữ liệu đất đai).

One table, ``thua_dat``, holds the parcels of the households of the simulated population database and the
certificates of land use rights issued for them, in the sector system's own columns and code lists. It is a
deterministic function of the citizens ``(count, seed, today)`` and its own random stream, and agrees with them and
with the simulated civil status database:

* most households hold the plot they live on, in their ward of permanent residence (``ODT`` in a ward, ``ONT``
  in a commune, often with a perennial garden: ``ONT+CLN``), and some hold farm land (coffee and tea: ``CLN``; rice:
  ``LUC``; annual crops: ``HNK``; production forest: ``RSX``) in their province;
* a parcel's holder is the head of the household, or the head and their spouse when they are a married couple
  whose marriage was registered (:func:`simulators.civil_status.generate_registrations`) before the certificate;
* certificates are issued after 1993 (Land Law 1993), when every holder was 18 or older and alive, and not after
  ``today``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any, Final

import sqlalchemy as sa

from contracts.dates import vietnam_today

from .citizen_links import Row, adult_from, couples, households, person_columns, random_day
from .civil_status import MARRIAGE, generate_registrations
from .population import synthetic_citizens
from .sectors import SectorContext, SectorSystem
from .sql_seeding import seed_table
from .vn_places import address_line, pick_ward, wards_of

__all__ = ["LAND", "PARCELS", "generate_parcels", "metadata", "seed_land"]

#: Metadata holding only the simulated sector table.
metadata = sa.MetaData()

#: The parcels table of the simulated land database.
PARCELS: Final = sa.Table(
    "thua_dat",
    metadata,
    sa.Column("ma_thua", sa.String(20), primary_key=True, comment="ward-sheet-parcel"),
    sa.Column("ma_tinh", sa.String(2), nullable=False),
    sa.Column("ma_xa", sa.String(5), nullable=False),
    sa.Column("dia_chi", sa.String(200), nullable=False, comment="address line or hamlet"),
    sa.Column("so_to_ban_do", sa.Integer, nullable=False, comment="map sheet"),
    sa.Column("so_thua", sa.Integer, nullable=False, comment="parcel number on the sheet"),
    sa.Column("dien_tich", sa.Float, nullable=False, comment="area, m²"),
    sa.Column("muc_dich_su_dung", sa.String(30), nullable=False, comment="land use codes, e.g. ONT+CLN"),
    sa.Column("so_phat_hanh_gcn", sa.String(11), nullable=False, comment="certificate serial, e.g. AA 01234567"),
    sa.Column("ngay_cap_gcn", sa.Date, nullable=False, comment="certificate issue date"),
    sa.Column("chu_1_so_dinh_danh", sa.String(12), nullable=False, comment="holder"),
    sa.Column("chu_1_ho_ten", sa.String(100), nullable=False),
    sa.Column("chu_1_ngay_sinh", sa.String(10), nullable=False),
    sa.Column("chu_1_gioi_tinh", sa.SmallInteger, nullable=False),
    sa.Column("chu_2_so_dinh_danh", sa.String(12), nullable=True, comment="second holder (spouse)"),
    sa.Column("chu_2_ho_ten", sa.String(100), nullable=True),
    sa.Column("chu_2_ngay_sinh", sa.String(10), nullable=True),
    sa.Column("chu_2_gioi_tinh", sa.SmallInteger, nullable=True),
    sa.Index("ix_thua_dat_chu_1", "chu_1_so_dinh_danh"),
    sa.Index("ix_thua_dat_chu_2", "chu_2_so_dinh_danh"),
    sa.Index("ix_thua_dat_gcn", "so_phat_hanh_gcn", unique=True),
)

_FIRST_CERTIFICATES: Final = date(1994, 1, 1)
_SERIES: Final = ("AA", "AB", "AC", "AD", "AE", "BA", "BB", "BC", "CA", "CB", "CS", "CT", "DA", "DB")
_FARM_USES: Final = (("CLN", 1000, 20000), ("LUC", 500, 5000), ("HNK", 500, 6000), ("RSX", 5000, 50000))
_FARM_WEIGHTS: Final = (60, 12, 20, 8)


def _ward_name(code: str, province: str) -> str:
    return next((w.name for w in wards_of(province) if w.code == code), "")


class _Cadastre:
    """Parcel numbers per ward and certificate serials, unique, from the land database's random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.parcels: set[tuple[str, int, int]] = set()
        self.serials: set[str] = set()

    def parcel(self, ward: str) -> tuple[int, int]:
        while True:
            sheet, number = self.rng.randint(1, 80), self.rng.randint(1, 999)
            if (ward, sheet, number) not in self.parcels:
                self.parcels.add((ward, sheet, number))
                return sheet, number

    def serial(self) -> str:
        while True:
            serial = f"{self.rng.choice(_SERIES)} {self.rng.randrange(10**8):08d}"
            if serial not in self.serials:
                self.serials.add(serial)
                return serial


def _holders(household: list[Row], married_on: dict[tuple[str, str], date]) -> tuple[Row, Row | None, date]:
    """The holder(s) of the household's land and the first day a certificate can name them."""
    head = next((m for m in household if m["quan_he_chu_ho"] == 1), household[0])
    for couple in couples(household):
        if head in (couple.husband, couple.wife):
            wedding = married_on.get((couple.husband["so_dinh_danh"], couple.wife["so_dinh_danh"]))
            if wedding is not None:
                other = couple.wife if head is couple.husband else couple.husband
                start = max(adult_from(head), adult_from(other), wedding, _FIRST_CERTIFICATES)
                return head, other, start
    return head, None, max(adult_from(head), _FIRST_CERTIFICATES)


def _parcel(
    rng: random.Random, cadastre: _Cadastre, holders: tuple[Row, Row | None, date], today: date, *, home: bool
) -> Row | None:
    owner, co_owner, start = holders
    deaths = [p["ngay_mat"] for p in (owner, co_owner) if p is not None and p["ngay_mat"] is not None]
    end = min([today, *deaths])
    if start > end:
        return None
    province = owner["thuong_tru_tinh"]
    if home:
        ward, line = owner["thuong_tru_xa"], owner["thuong_tru_chi_tiet"]
        urban = _ward_name(ward, province).startswith("Phường")
        if urban:
            uses, area = "ODT", rng.uniform(45, 220)
        elif rng.random() < 0.6:
            uses, area = "ONT+CLN", rng.uniform(300, 2500)
        else:
            uses, area = "ONT", rng.uniform(100, 400)
    else:
        ward_info = pick_ward(rng, province) if rng.random() < 0.4 else None
        ward = ward_info.code if ward_info else owner["thuong_tru_xa"]
        line = address_line(rng, ward_info, village_style=True) if ward_info else owner["thuong_tru_chi_tiet"]
        uses, low, high = rng.choices(_FARM_USES, weights=_FARM_WEIGHTS)[0]
        area = rng.uniform(low, high)
    sheet, number = cadastre.parcel(ward)
    return {
        "ma_thua": f"{ward}-{sheet}-{number}",
        "ma_tinh": province,
        "ma_xa": ward,
        "dia_chi": line,
        "so_to_ban_do": sheet,
        "so_thua": number,
        "dien_tich": round(area, 1),
        "muc_dich_su_dung": uses,
        "so_phat_hanh_gcn": cadastre.serial(),
        "ngay_cap_gcn": random_day(rng, start, end),
        **person_columns(owner, "chu_1_"),
        **(person_columns(co_owner, "chu_2_") if co_owner else dict.fromkeys(_CO_OWNER_COLUMNS)),
    }


_CO_OWNER_COLUMNS: Final = ("chu_2_so_dinh_danh", "chu_2_ho_ten", "chu_2_ngay_sinh", "chu_2_gioi_tinh")


def generate_parcels(
    count: int, *, seed: int = 68, today: date | None = None, citizens: list[Row] | None = None
) -> list[Row]:
    """The ``thua_dat`` rows of the households of the ``count`` citizens ``generate_citizens(count, seed=seed,
    today=today)`` (or of ``citizens`` when given), as dicts keyed by column, in order of the households."""
    today = today or vietnam_today()
    people = citizens if citizens is not None else list(synthetic_citizens(count, seed, today))
    married_on = {
        (r["kh_chong_so_dinh_danh"], r["kh_vo_so_dinh_danh"]): r["ngay_dang_ky"]
        for r in generate_registrations(len(people), seed=seed, today=today, citizens=people)
        if r["loai_dang_ky"] == MARRIAGE
    }
    rng = random.Random(f"{seed}:land")  # noqa: S311 - synthetic data, not security
    cadastre = _Cadastre(rng)
    parcels: list[Row] = []
    for household in households(people):
        holders = _holders(household, married_on)
        wanted = [True] if rng.random() < 0.85 else []
        if rng.random() < 0.4:
            wanted += [False] * rng.choice((1, 1, 2))
        for home in wanted:
            parcel = _parcel(rng, cadastre, holders, today, home=home)
            if parcel is not None:
                parcels.append(parcel)
    return parcels


def _rows(count: int, seed: int, today: date | None) -> Iterator[dict[str, Any]]:
    yield from generate_parcels(count, seed=seed, today=today)


async def seed_land(
    url: str, *, count: int = 20000, seed: int = 68, today: date | None = None, replace: bool = False
) -> int:
    """Create ``thua_dat`` at the SQLAlchemy ``url`` and fill it with the parcels of the households of the
    ``count`` citizens of ``seed`` (see :func:`generate_parcels`); an already filled table is kept unless
    ``replace``. Returns the number of rows in the table."""
    return await seed_table(url, PARCELS, lambda: _rows(count, seed, today), replace=replace)


async def _start(context: SectorContext) -> dict[str, Any]:
    url = context.sqlite_url("land")
    if context.sector_defects is None:
        await seed_land(url, count=context.citizens, seed=context.seed, today=context.today)
    else:
        rows = generate_parcels(context.citizens, seed=context.seed, today=context.today)
        context.plant("land", rows)
        await seed_table(url, PARCELS, lambda: rows)
    return {"url": url}


#: The simulated national land database, served over SQL.
LAND = SectorSystem(
    database="land",
    connector="land",
    title="National land database",
    protocol="sql",
    start=_start,
)
