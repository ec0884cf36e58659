"""The simulated national vehicle registration database (Cơ sở dữ liệu đăng ký phương tiện giao thông).

One table, ``dang_ky_xe``, holds the motorcycles, mopeds, cars, pickups, trucks and buses registered to the
citizens of the simulated population database, in the sector system's own columns and code lists. It is a
deterministic function of the citizens ``(count, seed, today)`` and its own random stream, and agrees with them:
owners are citizens, at least 18 years old on the day of registration, and nothing is registered after an owner's
death or after ``today``. Plates carry the locality code of the owner's residence before the 2025 reorganisation
(49 Lâm Đồng, 48 Đắk Nông, 86 Bình Thuận, 47 Đắk Lắk, ...).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Final

import sqlalchemy as sa

from contracts.dates import vietnam_today

from .citizen_links import Row, adult_from, person_columns, random_day
from .population import synthetic_citizens
from .sectors import SectorContext, SectorSystem
from .sql_seeding import seed_table
from .vn_places import WardInfo, old_province_of_ward

__all__ = [
    "STATUS_CODES",
    "VEHICLES",
    "VEHICLE_TYPE_CODES",
    "generate_vehicles",
    "metadata",
    "plate_code",
    "seed_vehicles",
]

#: Metadata holding only the simulated sector table.
metadata = sa.MetaData()

#: The registrations table of the simulated vehicle registration database.
VEHICLES: Final = sa.Table(
    "dang_ky_xe",
    metadata,
    sa.Column("bien_so", sa.String(12), primary_key=True, comment="plate, e.g. 49A-123.45"),
    sa.Column("loai_xe", sa.SmallInteger, nullable=False, comment="vehicle type code"),
    sa.Column("nhan_hieu", sa.String(50), nullable=False, comment="make"),
    sa.Column("so_loai", sa.String(50), nullable=False, comment="model"),
    sa.Column("mau_son", sa.String(30), nullable=False, comment="colour"),
    sa.Column("so_may", sa.String(20), nullable=False, comment="engine number"),
    sa.Column("so_khung", sa.String(17), nullable=False, comment="frame number (VIN)"),
    sa.Column("nam_san_xuat", sa.SmallInteger, nullable=False),
    sa.Column("ngay_dang_ky", sa.Date, nullable=False),
    sa.Column("chu_xe_so_dinh_danh", sa.String(12), nullable=False, comment="owner's personal id"),
    sa.Column("chu_xe_ho_ten", sa.String(100), nullable=False),
    sa.Column("chu_xe_ngay_sinh", sa.String(10), nullable=False, comment="YYYY-MM-DD, YYYY-MM or YYYY"),
    sa.Column("chu_xe_gioi_tinh", sa.SmallInteger, nullable=False, comment="1 male, 2 female"),
    sa.Column("trang_thai", sa.SmallInteger, nullable=False, comment="1 in force, 2 withdrawn"),
    sa.Column("ngay_thu_hoi", sa.Date, nullable=True, comment="date of withdrawal"),
    sa.Index("ix_dang_ky_xe_chu_xe", "chu_xe_so_dinh_danh"),
    sa.Index("ix_dang_ky_xe_so_may", "so_may", unique=True),
    sa.Index("ix_dang_ky_xe_so_khung", "so_khung", unique=True),
)

CAR, TRUCK, BUS, PICKUP, MOTORCYCLE, MOPED = 1, 2, 3, 4, 5, 6
#: loai_xe: ô tô con, ô tô tải, ô tô khách, ô tô bán tải, mô tô, xe gắn máy.
VEHICLE_TYPE_CODES: Final[dict[int, str]] = {
    CAR: "car",
    TRUCK: "truck",
    BUS: "bus",
    PICKUP: "pickup",
    MOTORCYCLE: "motorcycle",
    MOPED: "moped",
}
#: trang_thai: registration in force or withdrawn.
STATUS_CODES: Final[dict[int, str]] = {1: "active", 2: "deregistered"}

# Pre-2025 province (three digits) -> its licence plate locality code.
_PLATE_CODES: Final[dict[str, str]] = {
    "068": "49",
    "067": "48",
    "060": "86",
    "066": "47",
    "054": "78",
    "056": "79",
    "058": "85",
    "075": "60",
    "070": "93",
    "079": "51",
    "074": "61",
    "077": "72",
}

# (type, make, model, engine number prefix, frame number WMI + model part, first year)
_MODELS: Final[tuple[tuple[int, str, str, str, str, int], ...]] = (
    (MOTORCYCLE, "Honda", "Wave Alpha", "JA39E", "RLHJA39", 2010),
    (MOTORCYCLE, "Honda", "Vision", "JF58E", "RLHJF58", 2012),
    (MOTORCYCLE, "Honda", "Air Blade", "JF63E", "RLHJF63", 2012),
    (MOTORCYCLE, "Honda", "Lead", "JF45E", "RLHJF45", 2011),
    (MOTORCYCLE, "Honda", "SH Mode", "JF51E", "RLHJF51", 2013),
    (MOTORCYCLE, "Honda", "Winner X", "KC26E", "RLHKC26", 2019),
    (MOTORCYCLE, "Yamaha", "Exciter", "G3D4E", "RLCUG0610", 2011),
    (MOTORCYCLE, "Yamaha", "Sirius", "5C64", "RLCS5C64", 2008),
    (MOTORCYCLE, "Yamaha", "Janus", "E3R2E", "RLCUE3R2", 2016),
    (MOTORCYCLE, "Suzuki", "Raider R150", "CGA1", "RLSBG41", 2016),
    (MOTORCYCLE, "SYM", "Elegant", "VMEMAB", "RLGSB10", 2009),
    (MOTORCYCLE, "Piaggio", "Vespa Sprint", "M82", "RP8M82", 2014),
    (MOPED, "Honda", "Cub 50", "C50E", "RLHC50", 2008),
    (MOPED, "SYM", "Elegant 50", "VMEMAE", "RLGSE50", 2012),
    (MOPED, "VinFast", "Evo200", "VFEV2", "RLVEV20", 2022),
    (CAR, "Toyota", "Vios", "2NR", "MR0BA3CD", 2014),
    (CAR, "Toyota", "Innova", "1TR", "MHFJW8EM", 2010),
    (CAR, "Toyota", "Corolla Cross", "2ZR", "MR0BZ3FE", 2020),
    (CAR, "Hyundai", "Grand i10", "G4LA", "RLUA3412", 2014),
    (CAR, "Hyundai", "Accent", "G4FL", "RLUH2415", 2018),
    (CAR, "Kia", "Morning", "G4HE", "RNYTA511", 2012),
    (CAR, "Kia", "Seltos", "G4FG", "RNYSP413", 2020),
    (CAR, "Mazda", "CX-5", "PY", "RP8KF2W7", 2013),
    (CAR, "Mitsubishi", "Xpander", "4A91", "MK2NC1W5", 2018),
    (CAR, "Honda", "City", "L15Z", "RLHGM665", 2014),
    (CAR, "VinFast", "VF 5", "VFM05", "RLNV5EBE", 2023),
    (CAR, "VinFast", "Fadil", "B10D", "RLNF2A17", 2019),
    (PICKUP, "Ford", "Ranger", "P5AT", "MNCLSFE4", 2012),
    (PICKUP, "Toyota", "Hilux", "2GD", "MR0HA3CD", 2015),
    (TRUCK, "Hyundai", "Porter H150", "D4CB", "RLUTB1B3", 2018),
    (TRUCK, "Thaco", "Ollin 350", "4J28", "RNATL350", 2014),
    (TRUCK, "Isuzu", "QKR 230", "4JH1", "RL8NKR77", 2017),
    (BUS, "Thaco", "Town TB82S", "WP4", "RNATB82S", 2015),
    (BUS, "Hyundai", "County", "D4GA", "RLUCY1H5", 2012),
)
_COLOURS: Final = ("Đen", "Trắng", "Đỏ", "Xanh", "Bạc", "Xám", "Vàng", "Nâu", "Đen-Đỏ", "Trắng-Xanh")
_COLOUR_WEIGHTS: Final = (22, 20, 14, 12, 10, 8, 3, 3, 5, 3)
_MOTORCYCLE_SERIES: Final = tuple(f"{letter}{digit}" for letter in "BCDEFGHKLMNPSTUVXYZ" for digit in "12")
_MOPED_SERIES: Final = ("AA", "AB", "AC", "AD", "AE")
_CAR_SERIES: Final = {CAR: "A", PICKUP: "C", TRUCK: "C", BUS: "B"}
_VIN_CHARS: Final = "".join(c for c in string.ascii_uppercase + string.digits if c not in "IOQ")
_VIN_YEARS: Final = "ABCDEFGHJKLMNPRSTVWXY123456789"  # VIN model-year codes: A 2010 ... Y 2030, 1 2001 ... 9 2009


def plate_code(citizen: Row) -> str:
    """The licence plate locality code of the citizen's permanent residence, as it was before 2025."""
    ward = WardInfo(citizen["thuong_tru_xa"], citizen["thuong_tru_tinh"], "")
    return _PLATE_CODES.get(old_province_of_ward(ward), "49")


def _plate(rng: random.Random, kind: int, code: str, used: set[str]) -> str:
    while True:
        if kind == MOTORCYCLE:
            series = rng.choice(_MOTORCYCLE_SERIES)
        elif kind == MOPED:
            series = rng.choice(_MOPED_SERIES)
        else:
            series = _CAR_SERIES[kind]
        number = rng.randrange(100, 100_000)
        plate = f"{code}{series}-{number // 100:03d}.{number % 100:02d}"
        if plate not in used:
            used.add(plate)
            return plate


def _vin(rng: random.Random, prefix: str, year: int, serial: int) -> str:
    head = (prefix + "".join(rng.choice(_VIN_CHARS) for _ in range(8)))[:9]
    return f"{head}{_VIN_YEARS[(year - 2010) % 30]}{rng.choice(_VIN_CHARS)}{serial:06d}"


def _vehicle(
    rng: random.Random, owner: Row, kind: int, today: date, *, serial: int, plates: set[str]
) -> dict[str, Any] | None:
    """One vehicle of ``kind`` registered to ``owner`` while an adult and alive, or ``None`` if there is no time."""
    start = max(adult_from(owner), today - timedelta(days=15 * 365))
    end = min(today, owner["ngay_mat"] or today)
    if start > end:
        return None
    registered = random_day(rng, start, end)
    models = [m for m in _MODELS if m[0] == kind and m[5] <= registered.year]
    if not models:
        return None
    _, brand, model, engine, frame, first_year = rng.choice(models)
    made = max(first_year, registered.year - (0 if rng.random() < 0.7 else rng.randint(1, 5)))
    withdrawn = None
    if rng.random() < 0.08:
        withdrawn = random_day(rng, min(registered + timedelta(days=180), today), today)
    return {
        "bien_so": _plate(rng, kind, plate_code(owner), plates),
        "loai_xe": kind,
        "nhan_hieu": brand,
        "so_loai": model,
        "mau_son": rng.choices(_COLOURS, weights=_COLOUR_WEIGHTS)[0],
        "so_may": f"{engine}{serial * 1000 + rng.randrange(1000):07d}",
        "so_khung": _vin(rng, frame, made, (serial * 50 + rng.randrange(50)) % 1_000_000),
        "nam_san_xuat": made,
        "ngay_dang_ky": registered,
        **person_columns(owner, "chu_xe_"),
        "trang_thai": 2 if withdrawn else 1,
        "ngay_thu_hoi": withdrawn,
    }


def _kinds(rng: random.Random, age: int) -> list[int]:
    """The types of vehicle a citizen of ``age`` owns (most adults a motorcycle; some a car or a truck)."""
    kinds: list[int] = []
    if age < 18:
        return kinds
    if rng.random() < (0.75 if age < 65 else 0.4):
        kinds.append(MOTORCYCLE if rng.random() < 0.9 else MOPED)
        if rng.random() < 0.2:
            kinds.append(MOTORCYCLE)
    if 25 <= age < 70 and rng.random() < 0.14:
        kinds.append(CAR)
    if 25 <= age < 65 and rng.random() < 0.03:
        kinds.append(rng.choice((PICKUP, TRUCK, TRUCK, BUS)))
    return kinds


def generate_vehicles(
    count: int, *, seed: int = 68, today: date | None = None, citizens: list[Row] | None = None
) -> list[Row]:
    """The ``dang_ky_xe`` rows of the ``count`` citizens ``generate_citizens(count, seed=seed, today=today)`` (or
    of ``citizens`` when given), as dicts keyed by column, in order of the owners."""
    today = today or vietnam_today()
    people = citizens if citizens is not None else list(synthetic_citizens(count, seed, today))
    rng = random.Random(f"{seed}:vehicles")  # noqa: S311 - synthetic data, not security
    plates: set[str] = set()
    vehicles: list[Row] = []
    for owner in people:
        age = today.year - int(owner["ngay_sinh"][:4])
        for kind in _kinds(rng, age):
            vehicle = _vehicle(rng, owner, kind, today, serial=len(vehicles) + 1, plates=plates)
            if vehicle is not None:
                vehicles.append(vehicle)
    return vehicles


def _rows(count: int, seed: int, today: date | None) -> Iterator[dict[str, Any]]:
    yield from generate_vehicles(count, seed=seed, today=today)


async def seed_vehicles(
    url: str, *, count: int = 20000, seed: int = 68, today: date | None = None, replace: bool = False
) -> int:
    """Create ``dang_ky_xe`` at the SQLAlchemy ``url`` and fill it with the vehicles of the ``count`` citizens of
    ``seed`` (see :func:`generate_vehicles`); an already filled table is kept unless ``replace``. Returns the
    number of rows in the table."""
    return await seed_table(url, VEHICLES, lambda: _rows(count, seed, today), replace=replace)


async def _start(context: SectorContext) -> dict[str, Any]:
    url = context.sqlite_url("vehicles")
    if context.sector_defects is None:
        await seed_vehicles(url, count=context.citizens, seed=context.seed, today=context.today)
    else:
        rows = generate_vehicles(context.citizens, seed=context.seed, today=context.today)
        context.plant("vehicles", rows)
        await seed_table(url, VEHICLES, lambda: rows)
    return {"url": url}


#: The simulated national vehicle registration database, served over SQL.
VEHICLES_SYSTEM = SectorSystem(
    database="vehicles",
    connector="vehicles",
    title="National vehicle registration database",
    protocol="sql",
    start=_start,
)
