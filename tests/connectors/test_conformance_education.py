"""The conformance kit applied to the education connector on SQLite and on PostgreSQL (the local server; skipped
when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import date
from typing import Any

import pytest
from sector_conformance import SqlSector, postgres_test_class, sqlite_test_class

from connectors.education import EducationConnector
from connectors.testing import SearchCase
from contracts.education import DiplomaQuery, EducationLevel
from simulators.education import generate_diplomas, seed_education

COUNT = 1200
TODAY = date(2026, 6, 30)


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
def sql_sector() -> SqlSector:
    return SqlSector("education", "van_bang", functools.partial(seed_education, count=COUNT, seed=68, today=TODAY))


TestEducationOnSqlite = sqlite_test_class(
    EducationConnector,
    missing_id="THPT-68-1999-999999",
    invalid_configs=[{"url": "sqlite:///x.db", "table": "van_bang; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="education",
)

TestEducationOnPostgres = postgres_test_class(
    EducationConnector, missing_id="DH-TDL-1999-999999", entry_point="education"
)


def test_the_search_cases_find_records(searches: list[SearchCase]) -> None:
    """Guards the cases above: the first two find records (the first several), so an empty answer fails."""
    assert searches[0].expected_ids is not None and len(searches[0].expected_ids) >= 3
    assert searches[1].expected_ids
