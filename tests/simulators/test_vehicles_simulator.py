"""The simulated vehicle registration database agrees with the population data of the same (count, seed, today)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from simulators.citizen_links import adult_from
from simulators.population import generate_citizens
from simulators.vehicles import VEHICLES, generate_vehicles, plate_code, seed_vehicles

COUNT = 2000
TODAY = date(2025, 11, 1)
Row = dict[str, Any]


@pytest.fixture(scope="module")
def citizens() -> dict[str, Row]:
    return {c["so_dinh_danh"]: c for c in generate_citizens(COUNT, seed=68, today=TODAY)}


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return generate_vehicles(COUNT, seed=68, today=TODAY)


def test_deterministic_and_seed_dependent(rows: list[Row]) -> None:
    assert generate_vehicles(COUNT, seed=68, today=TODAY) == rows
    assert generate_vehicles(COUNT, seed=69, today=TODAY) != rows


def test_plates_engines_and_frames_are_unique(rows: list[Row]) -> None:
    for column in ("bien_so", "so_may", "so_khung"):
        assert len({r[column] for r in rows}) == len(rows), column
    for r in rows:
        assert re.fullmatch(r"[0-9]{2}([A-Z][0-9]|[A-Z]{1,2})-[0-9]{3}\.[0-9]{2}", r["bien_so"]), r["bien_so"]
        assert re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", r["so_khung"]), r["so_khung"]


def test_owners_are_adult_citizens_alive_at_registration(rows: list[Row], citizens: dict[str, Row]) -> None:
    for r in rows:
        owner = citizens[r["chu_xe_so_dinh_danh"]]
        assert (r["chu_xe_ho_ten"], r["chu_xe_ngay_sinh"], r["chu_xe_gioi_tinh"]) == (
            owner["ho_ten"],
            owner["ngay_sinh"],
            owner["gioi_tinh"],
        )
        assert adult_from(owner) <= r["ngay_dang_ky"] <= TODAY
        assert owner["ngay_mat"] is None or r["ngay_dang_ky"] <= owner["ngay_mat"]
        assert r["nam_san_xuat"] <= r["ngay_dang_ky"].year
        assert (r["trang_thai"] == 2) == (r["ngay_thu_hoi"] is not None)
        if r["ngay_thu_hoi"] is not None:
            assert r["ngay_dang_ky"] <= r["ngay_thu_hoi"] <= TODAY


def test_plates_carry_the_locality_of_the_owners_residence(rows: list[Row], citizens: dict[str, Row]) -> None:
    for r in rows:
        assert r["bien_so"][:2] == plate_code(citizens[r["chu_xe_so_dinh_danh"]])
    codes = Counter(r["bien_so"][:2] for r in rows)
    assert codes.most_common(1)[0][0] == "49"  # Lâm Đồng
    assert {"48", "86"} <= set(codes)  # Đắk Nông and Bình Thuận, merged into Lâm Đồng in 2025


def test_most_adults_own_a_two_wheeler_and_no_minor_owns_anything(rows: list[Row], citizens: dict[str, Row]) -> None:
    owners = {r["chu_xe_so_dinh_danh"] for r in rows if r["loai_xe"] in (5, 6)}
    adults = [pid for pid, c in citizens.items() if adult_from(c) <= TODAY and c["ngay_mat"] is None]
    assert 0.4 < len(owners & set(adults)) / len(adults) < 0.9
    minors = {pid for pid, c in citizens.items() if adult_from(c) > TODAY}
    assert minors and not minors & {r["chu_xe_so_dinh_danh"] for r in rows}


def test_seeding_sqlite(tmp_path: Path, rows: list[Row]) -> None:
    url = f"sqlite:///{tmp_path / 'vehicles.db'}"
    assert asyncio.run(seed_vehicles(url, count=COUNT, seed=68, today=TODAY)) == len(rows)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(VEHICLES.c.bien_so)).scalars().all()
    engine.dispose()
    assert sorted(stored) == sorted(r["bien_so"] for r in rows)
