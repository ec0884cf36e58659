"""The simulated civil status database agrees with the population data generated with the same (count, seed, today)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from simulators.citizen_links import add_years, birth_latest, couples, households
from simulators.civil_status import REGISTRATIONS, generate_registrations, seed_civil_status
from simulators.population import generate_citizens

COUNT = 2000
TODAY = date(2025, 11, 1)
Row = dict[str, Any]


@pytest.fixture(scope="module")
def citizens() -> dict[str, Row]:
    return {c["so_dinh_danh"]: c for c in generate_citizens(COUNT, seed=68, today=TODAY)}


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return generate_registrations(COUNT, seed=68, today=TODAY)


def of_kind(rows: list[Row], kind: str) -> list[Row]:
    return [r for r in rows if r["loai_dang_ky"] == kind]


def test_deterministic_and_seed_dependent(rows: list[Row]) -> None:
    assert generate_registrations(COUNT, seed=68, today=TODAY) == rows
    assert generate_registrations(COUNT, seed=69, today=TODAY) != rows


def test_ids_are_unique_and_numbered_within_kind_ward_and_year(rows: list[Row]) -> None:
    assert len({r["ma_dang_ky"] for r in rows}) == len(rows)
    for r in rows:
        year = r["ngay_dang_ky"].year
        assert r["ma_dang_ky"] == f"{r['loai_dang_ky']}-{r['ma_xa_dang_ky']}-{year}-{r['so_dang_ky']:06d}"
        assert r["quyen_so"].endswith(f"/{year}")
        assert r["ngay_dang_ky"] <= TODAY


def test_every_death_is_registered_once_with_its_date(rows: list[Row], citizens: dict[str, Row]) -> None:
    deaths = of_kind(rows, "KT")
    dead = {pid: c["ngay_mat"] for pid, c in citizens.items() if c["ngay_mat"] is not None}
    assert dead, "the population has deaths"
    assert Counter(r["so_dinh_danh"] for r in deaths) == Counter(dead.keys())
    for r in deaths:
        assert r["kt_ngay_mat"] == dead[r["so_dinh_danh"]]
        assert r["kt_ngay_mat"] <= r["ngay_dang_ky"] <= r["kt_ngay_mat"] + timedelta(days=15)
        assert r["ma_xa_dang_ky"] == citizens[r["so_dinh_danh"]]["thuong_tru_xa"]


def test_every_complete_birth_date_is_registered_once(rows: list[Row], citizens: dict[str, Row]) -> None:
    births = of_kind(rows, "KS")
    complete = {pid for pid, c in citizens.items() if len(c["ngay_sinh"]) == 10}
    assert len(complete) < len(citizens), "some dates of birth are partial"
    assert Counter(r["so_dinh_danh"] for r in births) == Counter(complete)
    for r in births:
        citizen = citizens[r["so_dinh_danh"]]
        assert r["ks_ngay_sinh"].isoformat() == citizen["ngay_sinh"] == r["ngay_sinh"]
        assert r["ho_ten"] == citizen["ho_ten"] and r["gioi_tinh"] == citizen["gioi_tinh"]
        assert r["ma_tinh_dang_ky"] == citizen["dk_khai_sinh_tinh"]
        assert r["ks_ngay_sinh"] <= r["ngay_dang_ky"] <= r["ks_ngay_sinh"] + timedelta(days=60)


def test_parents_are_older_members_of_the_household(rows: list[Row], citizens: dict[str, Row]) -> None:
    with_parents = 0
    for r in of_kind(rows, "KS"):
        child = citizens[r["so_dinh_danh"]]
        for column, gender in (("ks_dinh_danh_cha", 1), ("ks_dinh_danh_me", 2)):
            if r[column] is None:
                continue
            with_parents += 1
            parent = citizens[r[column]]
            assert parent["ma_ho"] == child["ma_ho"] and parent["gioi_tinh"] == gender
            assert add_years(birth_latest(parent), 15) <= r["ks_ngay_sinh"]
    assert with_parents > COUNT // 3


def test_marriages_are_the_couples_of_the_households(rows: list[Row], citizens: dict[str, Row]) -> None:
    expected = {
        (c.husband["so_dinh_danh"], c.wife["so_dinh_danh"])
        for household in households(citizens.values())
        for c in couples(household)
    }
    marriages = of_kind(rows, "KH")
    assert len(expected) > COUNT // 10
    assert Counter((r["kh_chong_so_dinh_danh"], r["kh_vo_so_dinh_danh"]) for r in marriages) == Counter(expected)
    of_age = 0
    for r in marriages:
        husband, wife = citizens[r["kh_chong_so_dinh_danh"]], citizens[r["kh_vo_so_dinh_danh"]]
        assert husband["ma_ho"] == wife["ma_ho"]
        assert (husband["gioi_tinh"], wife["gioi_tinh"]) == (1, 2)
        assert {husband["tinh_trang_hon_nhan"], wife["tinh_trang_hon_nhan"]} <= {2, 4}
        for spouse in (husband, wife):
            assert birth_latest(spouse) < r["ngay_dang_ky"]
            assert spouse["ngay_mat"] is None or r["ngay_dang_ky"] <= spouse["ngay_mat"]
        of_age += add_years(birth_latest(husband), 20) <= r["ngay_dang_ky"] >= add_years(birth_latest(wife), 18)
    assert of_age >= 0.95 * len(marriages)


def test_seeding_sqlite(tmp_path: Path, rows: list[Row]) -> None:
    url = f"sqlite:///{tmp_path / 'civil_status.db'}"
    assert asyncio.run(seed_civil_status(url, count=COUNT, seed=68, today=TODAY)) == len(rows)
    assert asyncio.run(seed_civil_status(url, count=10, seed=1, today=TODAY)) == len(rows)  # kept
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(REGISTRATIONS.c.ma_dang_ky)).scalars().all()
    engine.dispose()
    assert sorted(stored) == sorted(r["ma_dang_ky"] for r in rows)
