"""The simulated land database agrees with the population and civil status data of the same (count, seed, today)."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.admin_units import ward_name, ward_province
from simulators.citizen_links import adult_from
from simulators.civil_status import generate_registrations
from simulators.land import PARCELS, generate_parcels, seed_land
from simulators.population import generate_citizens

COUNT = 2000
TODAY = date(2025, 11, 1)
Row = dict[str, Any]


@pytest.fixture(scope="module")
def citizens() -> dict[str, Row]:
    return {c["so_dinh_danh"]: c for c in generate_citizens(COUNT, seed=68, today=TODAY)}


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return generate_parcels(COUNT, seed=68, today=TODAY)


def test_deterministic_and_seed_dependent(rows: list[Row]) -> None:
    assert generate_parcels(COUNT, seed=68, today=TODAY) == rows
    assert generate_parcels(COUNT, seed=69, today=TODAY) != rows


def test_ids_serials_and_uses(rows: list[Row]) -> None:
    assert len({r["ma_thua"] for r in rows}) == len(rows)
    assert len({r["so_phat_hanh_gcn"] for r in rows}) == len(rows)
    for r in rows:
        assert r["ma_thua"] == f"{r['ma_xa']}-{r['so_to_ban_do']}-{r['so_thua']}"
        assert ward_province(r["ma_xa"]) == r["ma_tinh"]
        assert re.fullmatch(r"[A-Z]{2} [0-9]{8}", r["so_phat_hanh_gcn"])
        assert r["dien_tich"] > 0
        if "ODT" in r["muc_dich_su_dung"]:
            assert ward_name(r["ma_xa"]).startswith("Phường")  # urban residential land lies in wards
    uses = {u for r in rows for u in r["muc_dich_su_dung"].split("+")}
    assert {"ONT", "ODT", "CLN", "LUC"} <= uses


def test_holders_are_household_heads_and_their_registered_spouses(rows: list[Row], citizens: dict[str, Row]) -> None:
    married = {
        (r["kh_chong_so_dinh_danh"], r["kh_vo_so_dinh_danh"]): r["ngay_dang_ky"]
        for r in generate_registrations(COUNT, seed=68, today=TODAY)
        if r["loai_dang_ky"] == "KH"
    }
    couples = 0
    for r in rows:
        owner = citizens[r["chu_1_so_dinh_danh"]]
        assert owner["quan_he_chu_ho"] == 1
        assert (r["chu_1_ho_ten"], r["chu_1_ngay_sinh"]) == (owner["ho_ten"], owner["ngay_sinh"])
        holders = [owner]
        if r["chu_2_so_dinh_danh"] is not None:
            couples += 1
            spouse = citizens[r["chu_2_so_dinh_danh"]]
            assert spouse["ma_ho"] == owner["ma_ho"]
            pair = (owner, spouse) if owner["gioi_tinh"] == 1 else (spouse, owner)
            wedding = married[(pair[0]["so_dinh_danh"], pair[1]["so_dinh_danh"])]
            assert wedding <= r["ngay_cap_gcn"]
            holders.append(spouse)
        for holder in holders:
            assert adult_from(holder) <= r["ngay_cap_gcn"] <= TODAY
            assert holder["ngay_mat"] is None or r["ngay_cap_gcn"] <= holder["ngay_mat"]
    assert 0.3 < couples / len(rows) < 0.95


def test_homes_lie_where_the_household_lives(rows: list[Row], citizens: dict[str, Row]) -> None:
    homes = [r for r in rows if r["muc_dich_su_dung"] in {"ONT", "ODT", "ONT+CLN"}]
    assert homes
    for r in homes:
        owner = citizens[r["chu_1_so_dinh_danh"]]
        assert (r["ma_xa"], r["dia_chi"]) == (owner["thuong_tru_xa"], owner["thuong_tru_chi_tiet"])
    households = {c["ma_ho"] for c in citizens.values()}
    assert len({citizens[r["chu_1_so_dinh_danh"]]["ma_ho"] for r in homes}) > 0.6 * len(households)


def test_seeding_sqlite(tmp_path: Path, rows: list[Row]) -> None:
    url = f"sqlite:///{tmp_path / 'land.db'}"
    assert asyncio.run(seed_land(url, count=COUNT, seed=68, today=TODAY)) == len(rows)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(PARCELS.c.ma_thua)).scalars().all()
    engine.dispose()
    assert sorted(stored) == sorted(r["ma_thua"] for r in rows)
