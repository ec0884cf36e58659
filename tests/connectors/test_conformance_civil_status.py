"""The conformance kit applied to the civil status connector on SQLite and on PostgreSQL (the local server; skipped
when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import pytest
from sector_conformance import SqlSector, postgres_test_class, sqlite_test_class

from connectors.civil_status import CivilStatusConnector
from connectors.testing import SearchCase
from contracts.civil_status import CivilStatusRegistrationQuery, RegistrationKind
from simulators.civil_status import generate_registrations, seed_civil_status

CITIZENS = 1500
TODAY = date(2025, 11, 1)


@pytest.fixture(scope="module")
def registrations() -> list[dict[str, Any]]:
    return generate_registrations(CITIZENS, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def sql_sector() -> SqlSector:
    return SqlSector(
        "civil_status", "dang_ky_ho_tich", functools.partial(seed_civil_status, count=CITIZENS, seed=68, today=TODAY)
    )


def known(registrations: list[dict[str, Any]]) -> list[str]:
    """One registration of each kind, and the last one."""
    return [next(r["ma_dang_ky"] for r in registrations if r["loai_dang_ky"] == k) for k in ("KS", "KH", "KT")] + [
        registrations[-1]["ma_dang_ky"]
    ]


def person_searches(registrations: list[dict[str, Any]]) -> list[SearchCase]:
    """A dead person's birth and death, a couple's marriage from either side, and a person without records."""
    dead = next(r for r in registrations if r["loai_dang_ky"] == "KT" and len(r["ngay_sinh"]) == 10)
    pid = dead["so_dinh_danh"]
    marriage = next(r for r in reversed(registrations) if r["loai_dang_ky"] == "KH")
    return [
        SearchCase(
            CivilStatusRegistrationQuery(personal_id=pid),
            [r["ma_dang_ky"] for r in registrations if r["so_dinh_danh"] == pid],
        ),
        SearchCase(CivilStatusRegistrationQuery(personal_id=pid, kind=RegistrationKind.DEATH), [dead["ma_dang_ky"]]),
        SearchCase(
            CivilStatusRegistrationQuery(husband_personal_id=marriage["kh_chong_so_dinh_danh"]),
            [marriage["ma_dang_ky"]],
        ),
        SearchCase(
            CivilStatusRegistrationQuery(
                wife_personal_id=marriage["kh_vo_so_dinh_danh"], kind=RegistrationKind.MARRIAGE
            ),
            [marriage["ma_dang_ky"]],
        ),
        SearchCase(CivilStatusRegistrationQuery(personal_id=pid, kind=RegistrationKind.MARRIAGE), []),
        SearchCase(CivilStatusRegistrationQuery(personal_id="068099000000"), []),
    ]


@pytest.fixture(scope="module")
def known_ids(registrations: list[dict[str, Any]]) -> list[str]:
    return known(registrations)


@pytest.fixture(scope="module")
def searches(registrations: list[dict[str, Any]]) -> list[SearchCase]:
    return person_searches(registrations)


TestCivilStatusOnSqlite = sqlite_test_class(
    CivilStatusConnector,
    missing_id="KS-24781-1985-999999",
    invalid_configs=[{"url": "sqlite:///x.db", "table": "dang_ky; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="civil_status",
)

TestCivilStatusOnPostgres = postgres_test_class(
    CivilStatusConnector, missing_id="KT-24781-2024-999999", entry_point="civil_status"
)


def test_every_search_case_finds_something_or_is_meant_to_be_empty(searches: list[SearchCase]) -> None:
    """Guards the cases above: the first four find records, so an empty answer would be a failure."""
    assert all(case.expected_ids for case in searches[:4])
