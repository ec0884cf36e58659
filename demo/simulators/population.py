"""The simulated national population sector database (Cơ sở dữ liệu quốc gia về dân cư).

It holds realistic, entirely synthetic citizens of Lâm Đồng and neighbouring provinces in the
sector system's own schema (Vietnamese column names, national code lists): table ``cong_dan``.
Rows are generated household by household from a seed, so that the same ``(count, seed, today)``
always gives the same rows, and are internally consistent (personal ids agree with gender, birth
year and birth registration province; spouses are married to each other; children are 18-45
years younger than their parents and carry their father's family name; ...).  The gateway's
population connector reads this table through its SQL connector and maps it to the contract.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.dates import vietnam_today

from .defects import PopulationDefects, plant_population_defects
from .households import HouseholdGenerator
from .sectors import SectorContext, SectorSystem
from .vn_names import ETHNIC_CODES
from .vn_places import OLD_TO_CURRENT_PROVINCE

__all__ = [
    "CITIZENS",
    "ETHNIC_CODES",
    "GENDER_CODES",
    "MARITAL_STATUS_CODES",
    "OLD_TO_CURRENT_PROVINCE",
    "POPULATION",
    "RELATION_CODES",
    "generate_citizens",
    "metadata",
    "seed_population",
    "synthetic_citizens",
]

#: Metadata holding only the simulated sector table.
metadata = sa.MetaData()

#: The citizen table of the simulated national population database.
CITIZENS: Final = sa.Table(
    "cong_dan",
    metadata,
    sa.Column("so_dinh_danh", sa.String(12), primary_key=True, comment="12-digit personal id"),
    sa.Column("so_cmnd", sa.String(9), nullable=True, comment="old 9-digit identity card number"),
    sa.Column("ho_ten", sa.String(100), nullable=False, comment="full name, NFC"),
    sa.Column("gioi_tinh", sa.SmallInteger, nullable=False, comment="1 male, 2 female"),
    sa.Column("ngay_sinh", sa.String(10), nullable=False, comment="YYYY-MM-DD, YYYY-MM or YYYY"),
    sa.Column("ma_dan_toc", sa.String(2), nullable=False, comment="ethnic group code"),
    sa.Column("ma_quoc_tich", sa.String(2), nullable=False, server_default="VN", comment="nationality (ISO 3166)"),
    sa.Column("dk_khai_sinh_tinh", sa.String(2), nullable=False),
    sa.Column("dk_khai_sinh_xa", sa.String(5), nullable=True),
    sa.Column("que_quan_tinh", sa.String(2), nullable=True),
    sa.Column("que_quan_xa", sa.String(5), nullable=True),
    sa.Column("thuong_tru_chi_tiet", sa.String(200), nullable=False),
    sa.Column("thuong_tru_xa", sa.String(5), nullable=False),
    sa.Column("thuong_tru_tinh", sa.String(2), nullable=False),
    sa.Column("noi_o_chi_tiet", sa.String(200), nullable=True),
    sa.Column("noi_o_xa", sa.String(5), nullable=True),
    sa.Column("noi_o_tinh", sa.String(2), nullable=True),
    sa.Column("ma_ho", sa.String(12), nullable=False, comment="household id"),
    sa.Column("quan_he_chu_ho", sa.SmallInteger, nullable=False, comment="relation to the head"),
    sa.Column("tinh_trang_hon_nhan", sa.SmallInteger, nullable=True, comment="marital status"),
    sa.Column("ngay_mat", sa.Date, nullable=True, comment="date of death"),
    sa.Column("ngay_cap_nhat", sa.DateTime(timezone=True), nullable=False, comment="last update, UTC"),
    sa.Index("ix_cong_dan_ho_ten_ngay_sinh", "ho_ten", "ngay_sinh"),
    sa.Index("ix_cong_dan_so_cmnd", "so_cmnd", unique=True),
    sa.Index("ix_cong_dan_ma_ho", "ma_ho"),
)

#: gioi_tinh: gender.
GENDER_CODES: Final[dict[int, str]] = {1: "male", 2: "female"}
#: quan_he_chu_ho: relation to the head of the household.
RELATION_CODES: Final[dict[int, str]] = {
    1: "head",
    2: "spouse",
    3: "child",
    4: "parent",
    5: "grandparent",
    6: "grandchild",
    7: "sibling",
    9: "other",
}
#: tinh_trang_hon_nhan: marital status.
MARITAL_STATUS_CODES: Final[dict[int, str]] = {1: "single", 2: "married", 3: "divorced", 4: "widowed"}

_BATCH: Final = 2000


def generate_citizens(
    count: int, *, seed: int = 68, today: date | None = None, defects: PopulationDefects | None = None
) -> Iterator[dict[str, Any]]:
    """Yield exactly ``count`` synthetic citizens as ``cong_dan`` rows (dicts keyed by column name).

    The rows are a deterministic function of ``(count, seed, today)``; ``today`` (default: the
    current date) bounds dates of birth, deaths and last-update timestamps.  Members of a household
    are yielded together, head first.  With ``defects``, data-quality defects are planted at those
    rates (see :mod:`simulators.defects`).
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if defects is not None and defects.any:
        clean = list(generate_citizens(count, seed=seed, today=today))
        yield from plant_population_defects(clean, defects, seed=seed, today=today)[0]
        return
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    generator = HouseholdGenerator(rng, today or vietnam_today())
    produced = 0
    while produced < count:
        for row in generator.household(min(7, count - produced)):
            produced += 1
            yield row


@lru_cache(maxsize=4)
def synthetic_citizens(count: int, seed: int, today: date) -> tuple[dict[str, Any], ...]:
    """:func:`generate_citizens` computed once per arguments: the sector systems of one demo or test derive their
    records from the same citizens without generating them again (shared rows: do not modify them)."""
    return tuple(generate_citizens(count, seed=seed, today=today))


def _async_url(url: str) -> sa.URL:
    """``url`` with its driver replaced by the asyncio one (aiosqlite, asyncpg, aiomysql) when needed."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in {"postgresql", "postgres"} and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend in {"mysql", "mariadb"} and "+" not in parsed.drivername:
        # MariaDB and MySQL (the extra axis-gateway[mysql]), in UTF-8 for the Vietnamese names.
        parsed = parsed.set(drivername=f"{backend}+aiomysql")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


async def seed_population(
    url: str,
    *,
    count: int = 20000,
    seed: int = 68,
    replace: bool = False,
    today: date | None = None,
    defects: PopulationDefects | None = None,
) -> int:
    """Create the ``cong_dan`` table at the SQLAlchemy ``url`` and fill it with ``count`` citizens.

    Plain URLs (``sqlite:///...``, ``postgresql://...``, ``mariadb://...``) are switched to their asyncio driver and
    the parent directory of a SQLite file is created.  When the table already has rows it is left
    alone (unless ``replace``, which deletes them first).  ``defects`` plants data-quality defects
    (:mod:`simulators.defects`; none by default).  Returns the number of rows in the table.
    """
    target = _async_url(url)
    database = target.database or ""
    if target.get_backend_name() == "sqlite" and database not in {"", ":memory:"} and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            existing = (await conn.execute(sa.select(sa.func.count()).select_from(CITIZENS))).scalar_one()
            if existing and not replace:
                return int(existing)
            if existing:
                await conn.execute(CITIZENS.delete())
            today = today or vietnam_today()  # one day for the citizens and their defects
            clean = synthetic_citizens(count, seed, today)
            if defects is not None and defects.any:
                rows = iter(plant_population_defects(clean, defects, seed=seed, today=today)[0])
            else:
                rows = iter(clean)
            inserted = 0
            while batch := list(itertools.islice(rows, _BATCH)):
                await conn.execute(CITIZENS.insert(), batch)
                inserted += len(batch)
            return inserted
    finally:
        await engine.dispose()


async def _start(context: SectorContext) -> dict[str, Any]:
    url = context.sqlite_url("population")
    await seed_population(url, count=context.citizens, seed=context.seed, today=context.today, defects=context.defects)
    return {"url": url}


#: The simulated national population database, served over SQL.
POPULATION = SectorSystem(
    database="population",
    connector="population",
    title="National population database",
    protocol="sql",
    start=_start,
)
