"""The conformance kit applied to the population connector on a SQLite database."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sector_sql_fixtures import sqlite_failing_configs

from connectors.population import PopulationConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.population import Citizen, CitizenQuery

FLAWED_NAME = "Lê Văn Hỏng"


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
def locked_sqlite_url(population_sector: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A copy of the database that another connection holds an exclusive lock on, for the whole module."""
    path = tmp_path_factory.mktemp("locked") / "population.db"
    shutil.copyfile(population_sector.path, path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=DELETE")
        holder.execute("BEGIN EXCLUSIVE")
        yield f"sqlite:///{path}"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture(scope="module")
def sqlite_failing(population_sector: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[UpstreamFailure, Any]:
    """The database failing as the conformance kit asks (a view whose reading fails, a file that is not one)."""
    return sqlite_failing_configs(population_sector.path, tmp_path_factory.mktemp("failing"), "cong_dan")


@pytest.fixture(scope="module")
def missing_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('missing') / 'absent' / 'population.db'}"


@pytest.fixture(scope="module")
def writable_sqlite_url(population_sector: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the database that the write-path checks may change."""
    path = tmp_path_factory.mktemp("writable") / "population.db"
    shutil.copyfile(population_sector.path, path)
    return f"sqlite:///{path}"


NEW_CITIZEN = {**Citizen.model_config["json_schema_extra"]["examples"][0], "household_id": "HK068000123"}  # type: ignore[index]
CHANGES = {"marital_status": "married", "current_address": {"province_code": "68", "ward_code": "24820", "line": "1"}}

TestPopulationOnSqlite = connector_test_class(
    PopulationConnector,
    config={"url": fixture("sqlite_url")},
    known_ids=fixture("known_ids"),
    missing_id="068099000000",
    unreachable_config={"url": fixture("missing_sqlite_url")},
    slow_config={"url": fixture("locked_sqlite_url"), "timeout_seconds": 0.5},
    failing_configs=fixture("sqlite_failing"),
    searches=fixture("searches"),
    invalid_configs=[{"url": "sqlite:///x.db", "table": "cong dan; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="population",
    writable_config={"url": fixture("writable_sqlite_url"), "writes": {}},
    new_record=NEW_CITIZEN,
    update=CHANGES,
)


def test_the_missing_file_was_not_created(missing_sqlite_url: str) -> None:
    """Guards the unreachable case above: a read-only connector must not have created the database."""
    assert not Path(missing_sqlite_url.removeprefix("sqlite:///")).exists()
