"""The conformance kit applied to the education connector on SQLite and on PostgreSQL (the local server; skipped
when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sector_sql_fixtures import (
    create_slow_view,
    locked_sqlite_copy,
    postgres_failing_configs,
    sqlite_failing_configs,
)
from support import free_port, postgres_database

from connectors.education import EducationConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.education import DiplomaQuery, EducationLevel
from simulators.education import generate_diplomas, seed_education

COUNT = 1200
TODAY = date(2026, 6, 30)
SLOW_VIEW = "van_bang_cham"


@pytest.fixture(scope="module")
def diplomas() -> list[dict[str, Any]]:
    return generate_diplomas(COUNT, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def known_ids(diplomas: list[dict[str, Any]]) -> list[str]:
    return [next(r["so_hieu"] for r in diplomas if r["cap_hoc"] == level) for level in ("THCS", "DH", "THS")] + [
        diplomas[-1]["so_hieu"]
    ]


@pytest.fixture(scope="module")
def searches(diplomas: list[dict[str, Any]]) -> list[SearchCase]:
    holders = Counter(r["so_dinh_danh"] for r in diplomas)
    learned = max(holders, key=lambda pid: (holders[pid], pid))
    mine = [r for r in diplomas if r["so_dinh_danh"] == learned]
    return [
        SearchCase(DiplomaQuery(holder_personal_id=learned), [r["so_hieu"] for r in mine]),
        SearchCase(
            DiplomaQuery(holder_personal_id=learned, level=EducationLevel.UPPER_SECONDARY),
            [r["so_hieu"] for r in mine if r["cap_hoc"] == "THPT"],
        ),
        SearchCase(DiplomaQuery(holder_personal_id="068099000000"), []),
    ]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("education") / "education.db"
    asyncio.run(seed_education(f"sqlite:///{path}", count=COUNT, seed=68, today=TODAY))
    return path


@pytest.fixture(scope="module")
def sqlite_url(database: Path) -> str:
    return f"sqlite:///{database}"


@pytest.fixture(scope="module")
def locked_sqlite_url(database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with locked_sqlite_copy(database, tmp_path_factory.mktemp("locked") / "education.db") as url:
        yield url


@pytest.fixture(scope="module")
def sqlite_failing(database: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[UpstreamFailure, Any]:
    """The database failing as the conformance kit asks (a view whose reading fails, a file that is not one)."""
    return sqlite_failing_configs(database, tmp_path_factory.mktemp("failing"), "van_bang")


@pytest.fixture(scope="module")
def missing_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('missing') / 'absent' / 'education.db'}"


TestEducationOnSqlite = connector_test_class(
    EducationConnector,
    config={"url": fixture("sqlite_url")},
    known_ids=fixture("known_ids"),
    missing_id="THPT-68-1999-999999",
    unreachable_config={"url": fixture("missing_sqlite_url")},
    slow_config={"url": fixture("locked_sqlite_url"), "timeout_seconds": 0.5},
    failing_configs=fixture("sqlite_failing"),
    searches=fixture("searches"),
    invalid_configs=[{"url": "sqlite:///x.db", "table": "van_bang; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="education",
)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database(prefix="education") as url:
        asyncio.run(seed_education(url, count=COUNT, seed=68, today=TODAY))
        create_slow_view(url, "van_bang", SLOW_VIEW)
        yield url


@pytest.fixture(scope="module")
def postgres_failing(postgres_url: str) -> Iterator[dict[UpstreamFailure, Any]]:
    """The database failing as the conformance kit asks (a view whose reading fails, accounts refused)."""
    with postgres_failing_configs(postgres_url, "van_bang") as configs:
        yield configs


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    return f"postgresql://reader:pa55word@127.0.0.1:{free_port()}/vanbang"


TestEducationOnPostgres = connector_test_class(
    EducationConnector,
    config={"url": fixture("postgres_url")},
    known_ids=fixture("known_ids"),
    missing_id="DH-TDL-1999-999999",
    unreachable_config={"url": fixture("closed_port_url"), "connect_timeout_seconds": 2},
    slow_config={"url": fixture("postgres_url"), "table": SLOW_VIEW, "timeout_seconds": 0.5},
    failing_configs=fixture("postgres_failing"),
    searches=fixture("searches"),
    entry_point="education",
)


def test_the_search_cases_find_records(searches: list[SearchCase]) -> None:
    """Guards the cases above: the first two find records (the first several), so an empty answer fails."""
    assert searches[0].expected_ids is not None and len(searches[0].expected_ids) >= 3
    assert searches[1].expected_ids
