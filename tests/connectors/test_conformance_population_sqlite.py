"""The conformance kit applied to the population connector on a SQLite database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sector_conformance import NEW_CITIZEN, SqlSector, sqlite_test_class

from connectors.population import PopulationConnector
from connectors.testing import SearchCase, fixture
from contracts.population import CitizenQuery

FLAWED_NAME = "Lê Văn Hỏng"


@pytest.fixture(scope="module")
def sql_sector() -> SqlSector:
    return SqlSector("population", "cong_dan")


@pytest.fixture(scope="module")
def sql_sector_file(population_sector: Any) -> Path:
    """The shared population database (``population_sector``: read only, the flawed and writable ones are copies)."""
    return population_sector.path


@pytest.fixture(scope="module")
def known_ids(population_sector: Any) -> list[str]:
    rows = population_sector.rows
    return [rows[0]["so_dinh_danh"], rows[len(rows) // 2]["so_dinh_danh"], population_sector.planted_ids[0]]


@pytest.fixture(scope="module")
def with_card(population_sector: Any) -> dict[str, Any]:
    return dict(next(r for r in population_sector.rows if r["so_cmnd"]))


@pytest.fixture(scope="module")
def namesakes(population_sector: Any, known_ids: list[str], with_card: dict[str, Any]) -> tuple[str, list[str]]:
    """Men born in one year, outside the other searches, who will share a name: (the year, their ids)."""
    taken = {*known_ids, *population_sector.planted_ids, with_card["so_dinh_danh"]}
    men = [r for r in population_sector.rows if r["gioi_tinh"] == 1 and r["so_dinh_danh"] not in taken]
    year = max({r["ngay_sinh"][:4] for r in men}, key=lambda y: sum(r["ngay_sinh"].startswith(y) for r in men))
    ids = sorted(r["so_dinh_danh"] for r in men if r["ngay_sinh"].startswith(year))[:7]
    assert len(ids) >= 5
    return year, ids


@pytest.fixture(scope="module")
def sqlite_url(
    population_sector: Any, namesakes: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A copy of the sector database where some namesakes' rows break the contract (an ethnic group code that does
    not exist), as real sector data may: a search finding them serves the others (the kit's search rules)."""
    path = tmp_path_factory.mktemp("flawed") / "population.db"
    shutil.copyfile(population_sector.path, path)
    _, ids = namesakes
    with sqlite3.connect(path) as database:
        for n, pid in enumerate(ids):
            ethnicity = "99" if n % 3 == 1 else "01"
            database.execute(
                "UPDATE cong_dan SET ho_ten = ?, ma_dan_toc = ? WHERE so_dinh_danh = ?", (FLAWED_NAME, ethnicity, pid)
            )
    database.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def searches(population_sector: Any, with_card: dict[str, Any], namesakes: tuple[str, list[str]]) -> list[SearchCase]:
    year, ids = namesakes
    broken = ids[1::3]
    return [
        SearchCase(
            CitizenQuery(full_name=FLAWED_NAME, date_of_birth=year),
            expected_ids=[pid for pid in ids if pid not in broken],
            invalid_ids=broken,
        ),
        SearchCase(
            CitizenQuery(full_name=population_sector.planted_name, date_of_birth=str(population_sector.planted_year)),
            expected_ids=population_sector.planted_ids,
        ),
        SearchCase(CitizenQuery(old_id_number=with_card["so_cmnd"]), expected_ids=[with_card["so_dinh_danh"]]),
        SearchCase(CitizenQuery(full_name="Không Có Ai", date_of_birth="1990"), expected_ids=[]),
    ]


@pytest.fixture(scope="module")
def writable_sqlite_url(population_sector: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the database that the write-path checks may change."""
    path = tmp_path_factory.mktemp("writable") / "population.db"
    shutil.copyfile(population_sector.path, path)
    return f"sqlite:///{path}"


CHANGES = {"marital_status": "married", "current_address": {"province_code": "68", "ward_code": "24820", "line": "1"}}

TestPopulationOnSqlite = sqlite_test_class(
    PopulationConnector,
    config={"url": fixture("sqlite_url")},
    missing_id="068099000000",
    invalid_configs=[{"url": "sqlite:///x.db", "table": "cong dan; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="population",
    writable_config={"url": fixture("writable_sqlite_url"), "writes": {}},
    new_record=NEW_CITIZEN,
    update=CHANGES,
)


def test_the_missing_file_was_not_created(sql_sector_missing_url: str) -> None:
    """Guards the unreachable case above: a read-only connector must not have created the database."""
    assert not Path(sql_sector_missing_url.removeprefix("sqlite:///")).exists()
