"""The simulated national population database: determinism, realism invariants and seeding."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from vietnam_provinces import ProvinceCode, Ward

from contracts.dates import vietnam_today
from simulators.population import (
    CITIZENS,
    ETHNIC_CODES,
    GENDER_CODES,
    MARITAL_STATUS_CODES,
    OLD_TO_CURRENT_PROVINCE,
    RELATION_CODES,
    _async_url,
    generate_citizens,
    seed_population,
)

TODAY = date(2025, 11, 1)
Row = dict[str, Any]

EXPECTED_OLD_TO_NEW = {
    "068": "68",
    "067": "68",
    "060": "68",
    "066": "66",
    "056": "56",
    "058": "56",
    "075": "75",
    "070": "75",
    "079": "79",
    "040": "40",
    "038": "38",
    "001": "01",
    "036": "37",
    "034": "33",
}
FAMILY_NAMED_ETHNICITIES = {"01", "02", "04", "07", "08", "17", "21", "36"}


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return list(generate_citizens(5000, seed=68, today=TODAY))


@pytest.fixture(scope="module")
def many() -> list[Row]:
    """A larger sample for the rates of rare events."""
    return list(generate_citizens(20000, seed=2025, today=TODAY))


@pytest.fixture(scope="module")
def households(rows: list[Row]) -> dict[str, list[Row]]:
    result: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        result[row["ma_ho"]].append(row)
    return result


_WARDS: dict[str, frozenset[str]] = {}


def wards_of(province: str) -> frozenset[str]:
    """Codes of the current wards of ``province``, straight from vietnam_provinces."""
    if province not in _WARDS:
        wards = Ward.iter_by_province(ProvinceCode(int(province)))
        _WARDS[province] = frozenset(f"{int(w.code):05d}" for w in wards)
    return _WARDS[province]


def birth_year(row: Row) -> int:
    return int(row["ngay_sinh"][:4])


def age(row: Row) -> int:
    return TODAY.year - birth_year(row)


def share(rows: list[Row], predicate: Any) -> float:
    return sum(1 for row in rows if predicate(row)) / len(rows)


def alive(row: Row) -> bool:
    return row["ngay_mat"] is None


def head_and_spouse(members: list[Row]) -> tuple[Row, Row | None]:
    heads = [m for m in members if m["quan_he_chu_ho"] == 1]
    spouses = [m for m in members if m["quan_he_chu_ho"] == 2]
    assert len(heads) == 1 and len(spouses) <= 1
    return heads[0], spouses[0] if spouses else None


# -- API and determinism ----------------------------------------------------------------------


def test_code_lists() -> None:
    assert GENDER_CODES == {1: "male", 2: "female"}
    assert RELATION_CODES == {
        1: "head",
        2: "spouse",
        3: "child",
        4: "parent",
        5: "grandparent",
        6: "grandchild",
        7: "sibling",
        9: "other",
    }
    assert MARITAL_STATUS_CODES == {1: "single", 2: "married", 3: "divorced", 4: "widowed"}
    assert OLD_TO_CURRENT_PROVINCE == EXPECTED_OLD_TO_NEW
    assert ETHNIC_CODES["01"] == "Kinh"


def test_table_schema() -> None:
    assert CITIZENS.name == "cong_dan"
    assert [c.name for c in CITIZENS.columns] == [
        "so_dinh_danh",
        "so_cmnd",
        "ho_ten",
        "gioi_tinh",
        "ngay_sinh",
        "ma_dan_toc",
        "ma_quoc_tich",
        "dk_khai_sinh_tinh",
        "dk_khai_sinh_xa",
        "que_quan_tinh",
        "que_quan_xa",
        "thuong_tru_chi_tiet",
        "thuong_tru_xa",
        "thuong_tru_tinh",
        "noi_o_chi_tiet",
        "noi_o_xa",
        "noi_o_tinh",
        "ma_ho",
        "quan_he_chu_ho",
        "tinh_trang_hon_nhan",
        "ngay_mat",
        "ngay_cap_nhat",
    ]
    assert [c.name for c in CITIZENS.primary_key] == ["so_dinh_danh"]
    nullable = {c.name for c in CITIZENS.columns if c.nullable}
    assert nullable == {
        "so_cmnd",
        "dk_khai_sinh_xa",
        "que_quan_tinh",
        "que_quan_xa",
        "noi_o_chi_tiet",
        "noi_o_xa",
        "noi_o_tinh",
        "tinh_trang_hon_nhan",
        "ngay_mat",
    }
    indexes = {tuple(c.name for c in index.columns) for index in CITIZENS.indexes}
    assert indexes == {("ho_ten", "ngay_sinh"), ("so_cmnd",), ("ma_ho",)}
    updated = CITIZENS.c.ngay_cap_nhat.type
    assert isinstance(updated, sa.DateTime) and updated.timezone


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 8, 13, 100, 1234])
def test_exact_count_with_whole_households(count: int) -> None:
    generated = list(generate_citizens(count, seed=count, today=TODAY))
    assert len(generated) == count
    heads = Counter(r["ma_ho"] for r in generated if r["quan_he_chu_ho"] == 1)
    assert set(heads) == {r["ma_ho"] for r in generated}
    assert set(heads.values()) <= {1}


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        list(generate_citizens(-1))


def test_deterministic(rows: list[Row]) -> None:
    assert list(generate_citizens(5000, seed=68, today=TODAY)) == rows
    # a shorter run is a prefix of a longer one with the same seed
    assert list(generate_citizens(700, seed=68, today=TODAY))[:690] == rows[:690]
    other = list(generate_citizens(5000, seed=69, today=TODAY))
    assert other != rows
    assert not {r["so_dinh_danh"] for r in other[:500]} & {r["so_dinh_danh"] for r in rows[:500]}


def test_deterministic_across_processes() -> None:
    """No dependence on string hashing (PYTHONHASHSEED) or other per-process state."""
    script = (
        "import hashlib; from datetime import date; from simulators.population import generate_citizens; "
        "rows = list(generate_citizens(1500, seed=5, today=date(2025, 11, 1))); "
        "print(hashlib.sha256(repr(rows).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1


def test_default_today_is_the_current_date() -> None:
    generated = list(generate_citizens(300, seed=1))
    today = vietnam_today()
    assert len(generated) == 300
    assert all(r["ngay_sinh"] < today.isoformat() for r in generated)
    assert all(r["ngay_cap_nhat"] <= datetime.now(UTC) for r in generated)


def test_row_types_and_lengths(rows: list[Row]) -> None:
    names = [c.name for c in CITIZENS.columns]
    for row in rows:
        assert list(row) == names
        for column in CITIZENS.columns:
            value = row[column.name]
            if value is None:
                assert column.nullable, column.name
            elif isinstance(column.type, sa.String):
                assert isinstance(value, str) and len(value) <= (column.type.length or 0), column.name
            elif isinstance(column.type, sa.SmallInteger):
                assert type(value) is int
        assert row["ma_quoc_tich"] == "VN"
        assert row["gioi_tinh"] in GENDER_CODES
        assert row["quan_he_chu_ho"] in RELATION_CODES
        assert row["tinh_trang_hon_nhan"] in MARITAL_STATUS_CODES
        assert row["ma_dan_toc"] in ETHNIC_CODES
        assert re.fullmatch(r"\d{12}", row["ma_ho"])


# -- identity numbers ---------------------------------------------------------------------------


def test_personal_ids(rows: list[Row]) -> None:
    assert len({r["so_dinh_danh"] for r in rows}) == len(rows)
    for row in rows:
        pid = row["so_dinh_danh"]
        assert re.fullmatch(r"\d{12}", pid)
        year = birth_year(row)
        century = 0 if year < 2000 else 2
        assert 1900 <= year <= 2099
        assert int(pid[3]) == century + (0 if row["gioi_tinh"] == 1 else 1)
        assert pid[4:6] == f"{year % 100:02d}"
        assert pid[:3] in EXPECTED_OLD_TO_NEW
        assert row["dk_khai_sinh_tinh"] == EXPECTED_OLD_TO_NEW[pid[:3]]


def test_birth_provinces(many: list[Row]) -> None:
    born = Counter(r["so_dinh_danh"][:3] for r in many)
    assert 0.74 <= born["068"] / len(many) <= 0.86
    assert set(born) == set(EXPECTED_OLD_TO_NEW)  # every listed province occurs
    northern = sum(born[code] for code in ("040", "038", "001", "036", "034"))
    assert 0.005 <= northern / len(many) <= 0.06
    # the northern-born are mostly older people, and Kinh or northern minorities
    north_rows = [r for r in many if r["so_dinh_danh"][:3] in {"040", "038", "001", "036", "034"}]
    assert statistics.mean(age(r) for r in north_rows) > statistics.mean(age(r) for r in many)
    assert all(r["ma_dan_toc"] in {"01", "02", "04", "07", "08"} for r in north_rows)


def test_old_identity_cards(many: list[Row]) -> None:
    cards = [r["so_cmnd"] for r in many if r["so_cmnd"] is not None]
    assert len(set(cards)) == len(cards)
    assert all(re.fullmatch(r"\d{9}", c) for c in cards)
    assert all(birth_year(r) < 2000 for r in many if r["so_cmnd"] is not None)
    eligible = [r for r in many if birth_year(r) < 2000]
    assert 0.55 <= share(eligible, lambda r: r["so_cmnd"] is not None) <= 0.65
    assert sum(c.startswith("25") for c in cards) / len(cards) >= 0.8


# -- places ---------------------------------------------------------------------------------------


def test_birth_registration_place(rows: list[Row]) -> None:
    for row in rows:
        ward = row["dk_khai_sinh_xa"]
        if ward is not None:
            assert ward in wards_of(row["dk_khai_sinh_tinh"])
            if row["so_dinh_danh"][:3] == "068":  # former Lâm Đồng wards
                assert 24778 <= int(ward) <= 25192
    assert 0.8 <= share(rows, lambda r: r["dk_khai_sinh_xa"] is not None) < 1


def test_permanent_residence(rows: list[Row]) -> None:
    for row in rows:
        assert row["thuong_tru_xa"] in wards_of(row["thuong_tru_tinh"])
        assert row["thuong_tru_chi_tiet"].strip() == row["thuong_tru_chi_tiet"] != ""
    provinces = Counter(r["thuong_tru_tinh"] for r in rows)
    assert set(provinces) <= {"68", "66", "56", "75"}
    assert 0.92 <= provinces["68"] / len(rows) <= 0.98
    # weighted towards the towns: Đà Lạt and Bảo Lộc alone hold a good share of the people
    towns = {f"{int(w.code):05d}" for w in Ward.iter_by_province(ProvinceCode(68)) if "Đà Lạt" in w.name}
    towns |= {f"{int(w.code):05d}" for w in Ward.iter_by_province(ProvinceCode(68)) if "Bảo Lộc" in w.name}
    assert share(rows, lambda r: r["thuong_tru_xa"] in towns) > 9 / 124
    assert all(unicodedata.is_normalized("NFC", r["thuong_tru_chi_tiet"]) for r in rows)
    lines = " | ".join(r["thuong_tru_chi_tiet"] for r in rows)
    assert "Thôn " in lines and "Số " in lines and "đường " in lines


def test_current_residence(rows: list[Row]) -> None:
    fields = ("noi_o_chi_tiet", "noi_o_xa", "noi_o_tinh")
    for row in rows:
        values = [row[f] for f in fields]
        assert all(v is None for v in values) or all(v is not None for v in values)
        if row["noi_o_xa"] is not None:
            assert row["noi_o_xa"] in wards_of(row["noi_o_tinh"])
            assert row["noi_o_xa"] != row["thuong_tru_xa"]
    assert 0.8 <= share(rows, lambda r: r["noi_o_xa"] is None) <= 0.9


def test_hometown(rows: list[Row]) -> None:
    for row in rows:
        if row["que_quan_xa"] is not None:
            assert row["que_quan_tinh"] is not None
            assert row["que_quan_xa"] in wards_of(row["que_quan_tinh"])
    assert share(rows, lambda r: r["que_quan_tinh"] is not None) >= 0.9


# -- households -----------------------------------------------------------------------------------


def test_household_shape(households: dict[str, list[Row]]) -> None:
    sizes = Counter(len(members) for members in households.values())
    assert set(sizes) <= set(range(1, 8))
    assert 0.03 <= sizes[1] / len(households) <= 0.2  # a few people live alone
    assert 3.0 <= sum(k * v for k, v in sizes.items()) / len(households) <= 4.2
    three_generations = [
        members for members in households.values() if {r["quan_he_chu_ho"] for r in members} & {4, 5, 6}
    ]
    assert len(three_generations) / len(households) >= 0.05
    assert any(6 in {r["quan_he_chu_ho"] for r in members} for members in three_generations)
    assert any(5 in {r["quan_he_chu_ho"] for r in members} for members in three_generations)
    address = ("thuong_tru_chi_tiet", "thuong_tru_xa", "thuong_tru_tinh", "ma_dan_toc")
    for members in households.values():
        head_and_spouse(members)  # exactly one head, at most one spouse
        assert members[0]["quan_he_chu_ho"] == 1  # the head comes first
        assert len({tuple(r[f] for f in address) for r in members}) == 1


def test_spouses(households: dict[str, list[Row]]) -> None:
    couples = 0
    for members in households.values():
        head, spouse = head_and_spouse(members)
        if spouse is None:
            assert head["tinh_trang_hon_nhan"] != 2 or not alive(head)
            continue
        couples += 1
        assert head["gioi_tinh"] != spouse["gioi_tinh"]
        assert abs(birth_year(head) - birth_year(spouse)) <= 15
        for partner, other in ((head, spouse), (spouse, head)):
            assert age(partner) >= (20 if partner["gioi_tinh"] == 1 else 18)
            expected = 4 if alive(partner) and not alive(other) else 2
            assert partner["tinh_trang_hon_nhan"] == expected
    assert couples / len(households) > 0.5


def test_marital_status(rows: list[Row], households: dict[str, list[Row]]) -> None:
    for row in rows:
        if age(row) < 18:
            assert row["tinh_trang_hon_nhan"] == 1
        if row["tinh_trang_hon_nhan"] == 2:
            assert age(row) >= (20 if row["gioi_tinh"] == 1 else 18)
    # every living married person lives with their living spouse
    for members in households.values():
        married = [r["gioi_tinh"] for r in members if r["tinh_trang_hon_nhan"] == 2 and alive(r)]
        assert married.count(1) == married.count(2)
    statuses = Counter(r["tinh_trang_hon_nhan"] for r in rows)
    assert all(statuses[code] > 0 for code in MARITAL_STATUS_CODES)


def test_generation_gaps(households: dict[str, list[Row]]) -> None:
    checked = Counter[str]()
    for members in households.values():
        head, spouse = head_and_spouse(members)
        couple = [head] + ([spouse] if spouse else [])
        for row in members:
            relation = row["quan_he_chu_ho"]
            if relation == 3:  # children of the head (and of the spouse)
                for parent in couple:
                    assert 18 <= birth_year(row) - birth_year(parent) <= 45
                checked["child"] += 1
            elif relation == 4:  # the head's parents
                assert 18 <= birth_year(head) - birth_year(row) <= 45
                checked["parent"] += 1
            elif relation == 5:
                assert birth_year(head) - birth_year(row) >= 36
                checked["grandparent"] += 1
            elif relation == 6:
                assert birth_year(row) - birth_year(head) >= 36
                # their parents: the married child of the head and that child's spouse
                parents = [r for r in members if r["quan_he_chu_ho"] in {3, 9} and r["tinh_trang_hon_nhan"] in {2, 4}]
                assert len(parents) == 2
                for parent in parents:
                    assert 18 <= birth_year(row) - birth_year(parent) <= 45
                checked["grandchild"] += 1
    assert min(checked.values()) > 10 and len(checked) == 4


def test_children_carry_their_fathers_family_name(households: dict[str, list[Row]]) -> None:
    checked = 0
    for members in households.values():
        if members[0]["ma_dan_toc"] not in FAMILY_NAMED_ETHNICITIES:
            continue
        head, spouse = head_and_spouse(members)
        if spouse is not None:
            father = head if head["gioi_tinh"] == 1 else spouse
            for child in (r for r in members if r["quan_he_chu_ho"] == 3):
                assert child["ho_ten"].split()[0] == father["ho_ten"].split()[0]
                checked += 1
        grandchildren = [r for r in members if r["quan_he_chu_ho"] == 6]
        if grandchildren:
            parents = [r for r in members if r["quan_he_chu_ho"] in {3, 9} and r["tinh_trang_hon_nhan"] in {2, 4}]
            (father,) = (r for r in parents if r["gioi_tinh"] == 1)
            for child in grandchildren:
                assert child["ho_ten"].split()[0] == father["ho_ten"].split()[0]
                checked += 1
    assert checked > 1000


# -- people -------------------------------------------------------------------------------------


def test_names(rows: list[Row], households: dict[str, list[Row]]) -> None:
    allowed = re.compile(r"[^\W\d_]+(?:[ '-][^\W\d_]*)*")
    for row in rows:
        name = row["ho_ten"]
        assert unicodedata.is_normalized("NFC", name)
        assert allowed.fullmatch(name), name
        assert "  " not in name and name == name.strip()
        assert len(name.split()) >= 2
    for members in households.values():
        assert len({r["ho_ten"] for r in members}) == len(members)


def test_kinh_name_distribution(many: list[Row]) -> None:
    kinh = [r for r in many if r["ma_dan_toc"] == "01"]
    families = Counter(r["ho_ten"].split()[0] for r in kinh)
    expected = {"Nguyễn": 0.38, "Trần": 0.11, "Lê": 0.095, "Phạm": 0.07}
    for family, rate in expected.items():
        assert abs(families[family] / len(kinh) - rate) < 0.03, family
    for family in ("Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"):
        assert families[family] > 0, family
    women = [r for r in kinh if r["gioi_tinh"] == 2]
    men = [r for r in kinh if r["gioi_tinh"] == 1]

    def middle_rate(people: list[Row], middle: str) -> float:
        return share(people, lambda r: r["ho_ten"].split()[1] == middle)

    older_women = [r for r in women if birth_year(r) < 1970]
    younger_women = [r for r in women if birth_year(r) >= 2000]
    assert middle_rate(older_women, "Thị") > 0.7
    assert middle_rate(younger_women, "Thị") < 0.4
    assert middle_rate(men, "Văn") > 0.2
    assert middle_rate(men, "Thị") == 0 and middle_rate(women, "Văn") == 0


def test_ethnicity(many: list[Row]) -> None:
    groups = Counter(r["ma_dan_toc"] for r in many)
    assert 0.72 <= groups["01"] / len(many) <= 0.82
    minorities = [code for code, _ in groups.most_common() if code != "01"]
    assert minorities[0] == "16"  # Cơ-ho, the largest indigenous people of Lâm Đồng
    assert set(groups) == set(ETHNIC_CODES)
    for row in many:
        name, gender, group = row["ho_ten"], row["gioi_tinh"], row["ma_dan_toc"]
        if group in {"16", "28"}:  # Cơ-ho, Mạ: "K' <name>" for men, "Ka <name>" for women
            assert name.startswith("K' " if gender == 1 else "Ka "), name
        if group == "36":
            assert name.split()[0] in {"Touneh", "Ya", "Ma", "Ha"}


def test_ages(many: list[Row]) -> None:
    ages = [age(r) for r in many]
    assert 0 <= min(ages) <= 1 and max(ages) <= 100
    n = len(ages)
    assert 0.17 <= sum(a < 15 for a in ages) / n <= 0.30
    assert sum(20 <= a <= 50 for a in ages) / n >= 0.4
    assert 0.04 <= sum(a >= 65 for a in ages) / n <= 0.14
    assert sum(a >= 80 for a in ages) / n > 0.005


def test_dates_of_birth(many: list[Row]) -> None:
    year_only = month_only = 0
    before_1960 = [r for r in many if birth_year(r) < 1960]
    for row in many:
        text = row["ngay_sinh"]
        if len(text) == 10:
            born = date.fromisoformat(text)
            assert born < TODAY
        elif len(text) == 7:
            assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text)
            assert birth_year(row) < 1960
            month_only += 1
        else:
            assert re.fullmatch(r"\d{4}", text)
            assert birth_year(row) < 1960
            year_only += 1
    assert 0.015 <= year_only / len(before_1960) <= 0.05
    assert 0.002 <= month_only / len(before_1960) <= 0.025


def test_deaths(many: list[Row]) -> None:
    dead = [r for r in many if r["ngay_mat"] is not None]
    assert 0.008 <= len(dead) / len(many) <= 0.025
    assert statistics.mean(age(r) for r in dead) > statistics.mean(age(r) for r in many) + 15
    for row in dead:
        died = row["ngay_mat"]
        assert isinstance(died, date) and not isinstance(died, datetime)
        assert died < TODAY
        born = row["ngay_sinh"]
        assert died.isoformat()[: len(born)] >= born
        if len(born) == 10:
            assert died > date.fromisoformat(born)
        assert row["noi_o_xa"] is None


def test_last_update(rows: list[Row]) -> None:
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    for row in rows:
        updated = row["ngay_cap_nhat"]
        assert isinstance(updated, datetime) and updated.utcoffset() == timedelta(0)
        assert midnight - timedelta(days=3 * 366) <= updated < midnight
        assert updated.date().isoformat()[: len(row["ngay_sinh"])] >= row["ngay_sinh"]
        if row["ngay_mat"] is not None:
            assert updated.date() >= row["ngay_mat"]


# -- seeding a database ---------------------------------------------------------------------------


def test_async_url() -> None:
    assert _async_url("sqlite:///var/x.db").drivername == "sqlite+aiosqlite"
    assert _async_url("sqlite+aiosqlite:///var/x.db").drivername == "sqlite+aiosqlite"
    assert _async_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert _async_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+asyncpg"
    assert _async_url("postgresql+asyncpg://u:p@h:5433/db").render_as_string(hide_password=False) == (
        "postgresql+asyncpg://u:p@h:5433/db"
    )


def read_back(url: str) -> list[Row]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(CITIZENS).order_by(CITIZENS.c.so_dinh_danh)
            return [dict(r._mapping) for r in conn.execute(query)]
    finally:
        engine.dispose()


@pytest.mark.anyio
async def test_seed_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "population.db"  # parent directories do not exist yet
    url = f"sqlite:///{path}"
    assert await seed_population(url, count=500, seed=7) == 500
    assert path.is_file()
    stored = read_back(url)
    assert len(stored) == 500
    expected = {r["so_dinh_danh"]: r for r in generate_citizens(500, seed=7, today=vietnam_today())}
    assert {r["so_dinh_danh"] for r in stored} == set(expected)
    sample = stored[0]
    original = expected[sample["so_dinh_danh"]]
    for column in ("ho_ten", "ngay_sinh", "ma_ho", "thuong_tru_chi_tiet", "quan_he_chu_ho", "ngay_mat"):
        assert sample[column] == original[column]

    # idempotent: the table is left alone when it has rows
    assert await seed_population(f"sqlite+aiosqlite:///{path}", count=50, seed=8) == 500
    assert read_back(url) == stored

    # replace: start again
    assert await seed_population(url, count=300, seed=8, replace=True) == 300
    replaced = read_back(url)
    assert len(replaced) == 300
    assert not {r["so_dinh_danh"] for r in replaced} & set(expected)

    inspector_engine = sa.create_engine(url)
    try:
        indexes = sa.inspect(inspector_engine).get_indexes("cong_dan")
    finally:
        inspector_engine.dispose()
    by_columns = {tuple(i["column_names"]): i for i in indexes}
    assert set(by_columns) >= {("ho_ten", "ngay_sinh"), ("so_cmnd",), ("ma_ho",)}
    assert by_columns[("so_cmnd",)]["unique"]


@pytest.mark.anyio
async def test_seed_sqlite_20000_rows_is_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    assert await seed_population(f"sqlite:///{tmp_path / 'p.db'}") == 20000
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"seeding 20,000 rows took {elapsed:.1f} s"


# -- PostgreSQL -------------------------------------------------------------------------------------

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


async def _pg_admin() -> Any:
    """A connection to the server's "postgres" database, or skip (fail on CI) when unreachable."""
    import asyncpg

    try:
        return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as {PG_USER!r}: {exc!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A fresh, uniquely named database on the local server, dropped afterwards."""
    admin = await _pg_admin()
    name = f"axis_sim_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.postgres
@pytest.mark.anyio
async def test_seed_postgres(pg_database: str) -> None:
    url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_database}"
    assert await seed_population(url, count=2000, seed=11) == 2000
    assert await seed_population(url, count=10, seed=12) == 2000  # idempotent

    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=pg_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM cong_dan") == 2000
        expected = {r["so_dinh_danh"]: r for r in generate_citizens(2000, seed=11, today=vietnam_today())}
        stored = await conn.fetch("SELECT * FROM cong_dan ORDER BY so_dinh_danh")
        assert {r["so_dinh_danh"] for r in stored} == set(expected)
        for record in stored[:200]:
            original = expected[record["so_dinh_danh"]]
            assert dict(record) == original
        indexes = {
            r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'cong_dan'")
        }
        assert {"ix_cong_dan_ho_ten_ngay_sinh", "ix_cong_dan_so_cmnd", "ix_cong_dan_ma_ho"} <= indexes
        heads = await conn.fetchval(
            "SELECT count(*) FROM (SELECT ma_ho FROM cong_dan GROUP BY ma_ho "
            "HAVING count(*) FILTER (WHERE quan_he_chu_ho = 1) <> 1) AS bad"
        )
        assert heads == 0
    finally:
        await conn.close()

    assert await seed_population(url.replace("postgresql://", "postgresql+asyncpg://"), count=100, replace=True) == 100
