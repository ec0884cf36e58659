"""The simulated diplomas database agrees with the population: holders are its citizens, old enough for each
level, with nothing issued after their death or after today; every row maps to a valid contract record."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from connectors.education import mapping
from contracts.dates import PartialDate
from contracts.education import Diploma
from simulators.education import DIPLOMAS, LEVEL_CODES, generate_diplomas, seed_education
from simulators.population import generate_citizens

COUNT = 1200
TODAY = date(2026, 6, 30)
CITIZENS = {row["so_dinh_danh"]: row for row in generate_citizens(COUNT, seed=68, today=TODAY)}
ROWS = generate_diplomas(COUNT, seed=68, today=TODAY)
ORDER = ["THCS", "THPT", "CD", "DH", "THS", "TS"]


def test_holders_are_citizens_as_registered() -> None:
    assert ROWS
    for row in ROWS:
        citizen = CITIZENS[row["so_dinh_danh"]]
        assert (row["ho_ten"], row["ngay_sinh"], row["gioi_tinh"]) == (
            citizen["ho_ten"],
            citizen["ngay_sinh"],
            citizen["gioi_tinh"],
        )


def test_ages_deaths_and_today() -> None:
    minimum = {"THCS": 15, "THPT": 18, "CD": 21, "DH": 22, "THS": 24, "TS": 27}
    dead_holders = 0
    for row in ROWS:
        citizen = CITIZENS[row["so_dinh_danh"]]
        born = PartialDate.parse(citizen["ngay_sinh"]).latest().year
        assert row["nam_tot_nghiep"] - born >= minimum[row["cap_hoc"]]
        assert row["ngay_cap"].year == row["nam_tot_nghiep"]
        assert row["ngay_cap"] < TODAY
        if citizen["ngay_mat"] is not None:
            dead_holders += 1
            assert row["ngay_cap"] < citizen["ngay_mat"]
    assert dead_holders, "some holders have died since, which the rule above checks"
    minors = [c for c in CITIZENS.values() if TODAY.year - PartialDate.parse(c["ngay_sinh"]).latest().year < 15]
    held = {row["so_dinh_danh"] for row in ROWS}
    assert minors and not any(c["so_dinh_danh"] in held for c in minors)


def test_levels_follow_each_other() -> None:
    by_holder: defaultdict[str, list[str]] = defaultdict(list)
    for row in sorted(ROWS, key=lambda r: r["ngay_cap"]):
        by_holder[row["so_dinh_danh"]].append(row["cap_hoc"])
    for levels in by_holder.values():
        assert levels[:2] == ["THCS", "THPT"][: len(levels[:2])]
        assert levels == sorted(levels, key=ORDER.index)
        assert not ({"CD", "DH"} <= set(levels))
    assert Counter(row["cap_hoc"] for row in ROWS).keys() >= {"THCS", "THPT", "CD", "DH", "THS"}


def test_numbers_issuers_and_majors() -> None:
    numbers = [row["so_hieu"] for row in ROWS]
    assert len(set(numbers)) == len(numbers)
    for row in ROWS:
        level, issuer, year, serial = row["so_hieu"].split("-")
        assert (level, int(year)) == (row["cap_hoc"], row["nam_tot_nghiep"]) and len(serial) == 6
        secondary = level in {"THCS", "THPT"}
        assert issuer == CITIZENS[row["so_dinh_danh"]]["dk_khai_sinh_tinh"] if secondary else issuer.isalpha()
        assert (row["nganh"] is None) == secondary
        assert (row["xep_loai"] is not None) == (level in {"CD", "DH"})


def test_every_row_is_a_valid_record() -> None:
    for row in ROWS:
        data: dict[str, object] = {}
        for path, column in mapping.FIELDS.items():
            value = row[column]
            if value is None:
                continue
            value = mapping.VALUE_MAPS.get(path, {}).get(str(value), value)
            target = data
            *parents, leaf = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})  # type: ignore[assignment]
            target[leaf] = value
        diploma = Diploma.model_validate(data)
        assert diploma.level == LEVEL_CODES[row["cap_hoc"]]
        assert diploma.problems(TODAY) == []


def test_deterministic_and_seeded(tmp_path: Path) -> None:
    assert generate_diplomas(COUNT, seed=68, today=TODAY) == ROWS
    url = f"sqlite:///{tmp_path / 'education.db'}"
    assert asyncio.run(seed_education(url, count=COUNT, seed=68, today=TODAY)) == len(ROWS)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(DIPLOMAS.c.so_hieu).order_by(DIPLOMAS.c.so_hieu)).scalars().all()
    engine.dispose()
    assert stored == sorted(row["so_hieu"] for row in ROWS)
