"""The conformance kit applied to the civil status connector on SQLite and on PostgreSQL (the local server; skipped
when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import asyncio
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

from connectors.civil_status import CivilStatusConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.civil_status import CivilStatusRegistrationQuery, RegistrationKind
from simulators.civil_status import generate_registrations, seed_civil_status

CITIZENS = 1500
TODAY = date(2025, 11, 1)


@pytest.fixture(scope="module")
def registrations() -> list[dict[str, Any]]:
    return generate_registrations(CITIZENS, seed=68, today=TODAY)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("civil-status") / "civil_status.db"
    asyncio.run(seed_civil_status(f"sqlite:///{path}", count=CITIZENS, seed=68, today=TODAY))
    return path


@pytest.fixture(scope="module")
def sqlite_url(database: Path) -> str:
    return f"sqlite:///{database}"


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


@pytest.fixture(scope="module")
def locked_sqlite_url(database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with locked_sqlite_copy(database, tmp_path_factory.mktemp("locked") / "civil_status.db") as url:
        yield url


@pytest.fixture(scope="module")
def sqlite_failing(database: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[UpstreamFailure, Any]:
    """The database failing as the conformance kit asks (a view whose reading fails, a file that is not one)."""
    return sqlite_failing_configs(database, tmp_path_factory.mktemp("failing"), "dang_ky_ho_tich")


@pytest.fixture(scope="module")
def missing_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('missing') / 'absent' / 'civil_status.db'}"


TestCivilStatusOnSqlite = connector_test_class(
    CivilStatusConnector,
    config={"url": fixture("sqlite_url")},
    known_ids=fixture("known_ids"),
    missing_id="KS-24781-1985-999999",
    unreachable_config={"url": fixture("missing_sqlite_url")},
    slow_config={"url": fixture("locked_sqlite_url"), "timeout_seconds": 0.5},
    failing_configs=fixture("sqlite_failing"),
    searches=fixture("searches"),
    invalid_configs=[{"url": "sqlite:///x.db", "table": "dang_ky; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="civil_status",
)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database(prefix="civilstatus") as url:
        asyncio.run(seed_civil_status(url, count=CITIZENS, seed=68, today=TODAY))
        create_slow_view(url, "dang_ky_ho_tich", SLOW_VIEW)
        yield url


@pytest.fixture(scope="module")
def postgres_failing(postgres_url: str) -> Iterator[dict[UpstreamFailure, Any]]:
    """The database failing as the conformance kit asks (a view whose reading fails, accounts refused)."""
    with postgres_failing_configs(postgres_url, "dang_ky_ho_tich") as configs:
        yield configs


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    return f"postgresql://reader:pa55word@127.0.0.1:{free_port()}/hotich"


SLOW_VIEW = "dang_ky_ho_tich_cham"

TestCivilStatusOnPostgres = connector_test_class(
    CivilStatusConnector,
    config={"url": fixture("postgres_url")},
    known_ids=fixture("known_ids"),
    missing_id="KT-24781-2024-999999",
    unreachable_config={"url": fixture("closed_port_url"), "connect_timeout_seconds": 2},
    slow_config={"url": fixture("postgres_url"), "table": SLOW_VIEW, "timeout_seconds": 0.5},
    failing_configs=fixture("postgres_failing"),
    searches=fixture("searches"),
    entry_point="civil_status",
)


def test_every_search_case_finds_something_or_is_meant_to_be_empty(searches: list[SearchCase]) -> None:
    """Guards the cases above: the first four find records, so an empty answer would be a failure."""
    assert all(case.expected_ids for case in searches[:4])
