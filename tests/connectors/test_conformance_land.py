"""The conformance kit applied to the land connector on SQLite and on PostgreSQL (the local server; skipped when it
is down, failed under CI=true), both seeded by its simulator. A few parcels are planted so that one woman holds
land alone, as first holder with her husband, and as second holder: a search by holder merges both columns."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sector_conformance import SqlSector, postgres_test_class, sqlite_test_class
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.land import LandConnector
from connectors.sql.urls import to_async_url
from connectors.testing import SearchCase
from contracts.land import LandParcelQuery
from simulators.land import PARCELS, generate_parcels, seed_land

CITIZENS = 1500
TODAY = date(2025, 11, 1)
Row = dict[str, Any]


def _swap(row: Row) -> Row:
    swapped = dict(row)
    for column in ("so_dinh_danh", "ho_ten", "ngay_sinh", "gioi_tinh"):
        swapped[f"chu_1_{column}"], swapped[f"chu_2_{column}"] = row[f"chu_2_{column}"], row[f"chu_1_{column}"]
    return swapped


def planted_parcels(parcels: list[Row]) -> list[Row]:
    """Four more parcels of the wife of a couple's parcel, in the same ward on sheet 99 (the simulator draws sheets
    1-80): one hers alone, two with her as first holder, one with her as second holder."""
    base = next(r for r in parcels if r["chu_2_so_dinh_danh"] and r["chu_2_gioi_tinh"] == 2)
    rows: list[Row] = []
    for number, shape in enumerate(("alone", "first", "first", "second"), start=1):
        row = dict(base) if shape == "second" else _swap(base)
        if shape == "alone":
            row.update(dict.fromkeys(("chu_2_so_dinh_danh", "chu_2_ho_ten", "chu_2_ngay_sinh", "chu_2_gioi_tinh")))
        row.update(
            ma_thua=f"{base['ma_xa']}-99-{number}",
            so_to_ban_do=99,
            so_thua=number,
            so_phat_hanh_gcn=f"ZZ {number:08d}",
        )
        rows.append(row)
    return rows


async def _insert(url: str, rows: list[Row]) -> None:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.execute(PARCELS.insert(), rows)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def parcels() -> list[Row]:
    generated = generate_parcels(CITIZENS, seed=68, today=TODAY)
    return generated + planted_parcels(generated)


@pytest.fixture(scope="module")
def sql_sector(parcels: list[Row]) -> SqlSector:
    """The simulator's parcels, and the planted ones."""

    async def seed(url: str) -> None:
        await seed_land(url, count=CITIZENS, seed=68, today=TODAY)
        await _insert(url, parcels[-4:])

    return SqlSector("land", "thua_dat", seed)


@pytest.fixture(scope="module")
def known_ids(parcels: list[Row]) -> list[str]:
    """A parcel of one holder, one of a couple, a mixed-use one and a planted one."""
    return [
        next(r["ma_thua"] for r in parcels if r["chu_2_so_dinh_danh"] is None),
        next(r["ma_thua"] for r in parcels if r["chu_2_so_dinh_danh"] is not None),
        next(r["ma_thua"] for r in parcels if "+" in r["muc_dich_su_dung"]),
        parcels[-1]["ma_thua"],
    ]


@pytest.fixture(scope="module")
def searches(parcels: list[Row]) -> list[SearchCase]:
    wife = parcels[-1]["chu_2_so_dinh_danh"]
    husband = parcels[-1]["chu_1_so_dinh_danh"]
    held = sorted(r["ma_thua"] for r in parcels if wife in (r["chu_1_so_dinh_danh"], r["chu_2_so_dinh_danh"]))
    assert len(held) >= 5
    serial = parcels[10]["so_phat_hanh_gcn"]
    return [
        SearchCase(LandParcelQuery(owner_personal_id=wife), held),
        SearchCase(
            LandParcelQuery(owner_personal_id=husband),
            sorted(r["ma_thua"] for r in parcels if husband in (r["chu_1_so_dinh_danh"], r["chu_2_so_dinh_danh"])),
        ),
        SearchCase(LandParcelQuery(certificate_serial=serial), [parcels[10]["ma_thua"]]),
        SearchCase(LandParcelQuery(owner_personal_id=wife, certificate_serial="ZZ 00001111"), []),
        SearchCase(LandParcelQuery(owner_personal_id=wife, certificate_serial="ZZ 00000004"), [parcels[-1]["ma_thua"]]),
        SearchCase(LandParcelQuery(owner_personal_id="068099000000"), []),
    ]


TestLandOnSqlite = sqlite_test_class(
    LandConnector,
    missing_id="24781-99-99",
    invalid_configs=[{"url": "sqlite:///x.db", "co_owner_column": "chu_2; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="land",
)

TestLandOnPostgres = postgres_test_class(LandConnector, missing_id="24781-99-98", entry_point="land")


@pytest.mark.anyio
async def test_without_the_co_owner_column_only_first_holders_are_found(
    sql_sector_sqlite_url: str, parcels: list[Row]
) -> None:
    wife = parcels[-1]["chu_2_so_dinh_danh"]
    connector = LandConnector(
        LandConnector.config_model.model_validate({"url": sql_sector_sqlite_url, "co_owner_column": None})
    )
    await connector.start()
    try:
        page = await connector.search(LandParcelQuery(owner_personal_id=wife), limit=50)
    finally:
        await connector.close()
    assert [p.parcel_id for p in page.items] == sorted(r["ma_thua"] for r in parcels if r["chu_1_so_dinh_danh"] == wife)
