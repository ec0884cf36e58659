"""The population connector (a configuration of the generic SQL connector) against real sector databases.

Every test that takes ``sector`` runs twice: on a SQLite file and on a fresh database of the local PostgreSQL
server (skipped when it is down, failed under CI=true), whatever ``GATEWAY_TEST_DATABASE_URL`` says. Nothing is
mocked: the rows are the simulator's, read through the connector's own pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from support import free_port, postgres_database

from connectors.base import (
    ConnectorConfigError,
    ContractViolation,
    HealthState,
    OperationKind,
    Page,
    RecordNotFound,
    SubmissionRejected,
    SubmitOperation,
    SubmitResult,
    SubmitStatus,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.population import PopulationConnector
from connectors.population import mapping as population_mapping
from connectors.sql.executors import sqlite_threads
from connectors.sql.urls import to_async_url
from contracts import ContractQuery
from contracts.population import Citizen, CitizenQuery
from simulators.population import CITIZENS, MARITAL_STATUS_CODES, RELATION_CODES, seed_population

pytestmark = pytest.mark.anyio

CITIZEN_COUNT = 2000
PLANTED_NAME = "Trần Thị Mẫu"
PLANTED_COUNT = 25
BAD_TABLE = "cong_dan_loi"
Row = dict[str, Any]


@dataclass(frozen=True)
class BadRow:
    """A row of the bad table and what is wrong with it."""

    personal_id: str
    field: str  # the contract field the error must name
    value: str  # the offending stored value, which must never appear in an error
    row: Row


@dataclass(frozen=True)
class Sector:
    """A seeded sector database and everything the tests know about it."""

    backend: str
    url: str  # asyncio SQLAlchemy URL
    rows: dict[str, Row]  # raw rows by personal id
    planted_year: int
    planted_ids: tuple[str, ...]
    bad: dict[str, BadRow]  # what is wrong -> the row in BAD_TABLE
    good_in_bad_table: str  # a valid row of BAD_TABLE

    @cached_property
    def citizens(self) -> dict[str, Citizen]:
        """The expected record of every row, by personal id."""
        return {pid: expected_citizen(row) for pid, row in self.rows.items()}

    def connector(self, **config: Any) -> PopulationConnector:
        return PopulationConnector.from_config({"url": self.url, **config})

    @property
    def path(self) -> Path:
        """The SQLite file (SQLite only)."""
        database = make_url(self.url).database
        assert self.backend == "sqlite" and database
        return Path(database)

    def asyncpg_dsn(self) -> str:
        """A plain asyncpg DSN of the database (PostgreSQL only)."""
        assert self.backend == "postgresql"
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _read_rows(url: str, table: sa.Table = CITIZENS) -> dict[str, Row]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.select(table).order_by(table.c.so_dinh_danh))
            return {row["so_dinh_danh"]: dict(row) for row in result.mappings()}
    finally:
        await engine.dispose()


def _bad_table() -> sa.Table:
    """A copy of the citizen table's columns (without its indexes, whose names would clash on PostgreSQL)."""
    return sa.Table(
        BAD_TABLE,
        sa.MetaData(),
        *(sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in CITIZENS.columns),
    )


async def _prepare(url: str) -> tuple[int, tuple[str, ...], dict[str, BadRow], str]:
    """Seed the database, plant a popular name, and fill the bad table; return what was planted."""
    await seed_population(url, count=CITIZEN_COUNT, seed=68)
    rows = await _read_rows(url)
    females_by_year = Counter(r["ngay_sinh"][:4] for r in rows.values() if r["gioi_tinh"] == 2)
    year = max(sorted(females_by_year), key=lambda y: females_by_year[y])
    women_born_then = sorted(pid for pid, r in rows.items() if r["gioi_tinh"] == 2 and r["ngay_sinh"].startswith(year))
    planted = tuple(women_born_then[:PLANTED_COUNT])
    assert len(planted) == PLANTED_COUNT

    # Rows for the bad table, made from real rows that have an old id card (so that they can be searched).
    sources = [r for pid, r in rows.items() if r["so_cmnd"] and pid not in planted][:5]
    good, invalid_id, bad_ethnicity, bad_gender, mismatch = (dict(r) for r in sources)
    invalid_id["so_dinh_danh"] = invalid_id["so_dinh_danh"][:11] + "X"
    bad_ethnicity["ma_dan_toc"] = "99"
    bad_gender["gioi_tinh"] = 7
    mismatch["gioi_tinh"] = 3 - mismatch["gioi_tinh"]  # valid code, but contradicts the personal id
    bad = {
        "invalid personal id": BadRow(
            invalid_id["so_dinh_danh"], "personal_id", invalid_id["so_dinh_danh"], invalid_id
        ),
        "ethnicity 99": BadRow(bad_ethnicity["so_dinh_danh"], "ethnicity", "99", bad_ethnicity),
        "gender 7": BadRow(bad_gender["so_dinh_danh"], "gender", "7", bad_gender),
        "gender contradicts id": BadRow(mismatch["so_dinh_danh"], "gender", mismatch["so_dinh_danh"], mismatch),
    }

    bad_table = _bad_table()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(CITIZENS).where(CITIZENS.c.so_dinh_danh.in_(planted)).values(ho_ten=PLANTED_NAME)
            )
            await conn.run_sync(bad_table.metadata.create_all)
            await conn.execute(bad_table.insert(), [good, *(b.row for b in bad.values())])
    finally:
        await engine.dispose()
    return int(year), planted, bad, good["so_dinh_danh"]


def _sector(backend: str, url: str) -> Sector:
    year, planted, bad, good = asyncio.run(_prepare(url))
    rows = asyncio.run(_read_rows(url))
    return Sector(backend, url, rows, year, planted, bad, good)


@pytest.fixture(scope="module")
def sqlite_sector(tmp_path_factory: pytest.TempPathFactory) -> Sector:
    path = tmp_path_factory.mktemp("sql-connector") / "population.db"
    return _sector("sqlite", str(to_async_url(f"sqlite:///{path}")))


@pytest.fixture(scope="module")
def postgres_sector() -> Iterator[Sector]:
    with postgres_database(prefix="conntest") as url:
        yield _sector("postgresql", url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sector(request: pytest.FixtureRequest) -> Sector:
    """Both backends, in every session (PostgreSQL is the local server, whatever GATEWAY_TEST_DATABASE_URL says)."""
    return request.getfixturevalue(f"{'postgres' if request.param == 'postgresql' else 'sqlite'}_sector")  # type: ignore[no-any-return]


# -- the expected record of a row, built independently of the connector's mapping ------------------------------


def _area(row: Row, columns: Mapping[str, str]) -> dict[str, Any] | None:
    values = {name: row[column] for name, column in columns.items() if row[column] is not None}
    return values or None


def expected_citizen(row: Row) -> Citizen:
    """What the population contract says ``row`` is, from the sector system's documented code lists."""
    updated: datetime = row["ngay_cap_nhat"]
    if updated.tzinfo is None:  # SQLite keeps no zone; the sector system writes UTC
        updated = updated.replace(tzinfo=UTC)
    return Citizen.model_validate(
        {
            "personal_id": row["so_dinh_danh"],
            "old_id_number": row["so_cmnd"],
            "full_name": row["ho_ten"],
            "gender": {1: "male", 2: "female"}[row["gioi_tinh"]],
            "date_of_birth": row["ngay_sinh"],
            "ethnicity": row["ma_dan_toc"],
            "nationality": row["ma_quoc_tich"],
            "place_of_birth_registration": _area(
                row, {"province_code": "dk_khai_sinh_tinh", "ward_code": "dk_khai_sinh_xa"}
            ),
            "hometown": _area(row, {"province_code": "que_quan_tinh", "ward_code": "que_quan_xa"}),
            "permanent_address": _area(
                row, {"province_code": "thuong_tru_tinh", "ward_code": "thuong_tru_xa", "line": "thuong_tru_chi_tiet"}
            ),
            "current_address": _area(
                row, {"province_code": "noi_o_tinh", "ward_code": "noi_o_xa", "line": "noi_o_chi_tiet"}
            ),
            "household_id": row["ma_ho"],
            "relation_to_head": RELATION_CODES[row["quan_he_chu_ho"]],
            "marital_status": MARITAL_STATUS_CODES[row["tinh_trang_hon_nhan"]],
            "date_of_death": row["ngay_mat"],
            "last_updated": updated,
        }
    )


def _first(sector: Sector, predicate: Any) -> Row:
    return next(r for r in sector.rows.values() if predicate(r))


def _matching_ids(sector: Sector, query: CitizenQuery) -> list[str]:
    """The oracle: every row the contract's own ``CitizenQuery.matches`` accepts, in key order."""
    return sorted(pid for pid, citizen in sector.citizens.items() if query.matches(citizen))


MAX_PAGES = 500


async def _walk(connector: PopulationConnector, query: ContractQuery, limit: int) -> list[Page]:
    pages = [await connector.search(query, limit=limit)]
    while pages[-1].next_cursor is not None:
        assert len(pages) <= MAX_PAGES, "the cursor does not advance"
        pages.append(await connector.search(query, limit=limit, cursor=pages[-1].next_cursor))
    return pages


def connector_ids(pages: list[Page]) -> list[str]:
    return [item.record_id() for page in pages for item in page.items]


# -- reading one record ----------------------------------------------------------------------------------------


async def test_get_returns_the_row_as_a_citizen(sector: Sector) -> None:
    row = _first(sector, lambda r: r["so_cmnd"] and r["noi_o_xa"] and r["que_quan_tinh"])
    async with sector.connector() as connector:
        record = await connector.get(row["so_dinh_danh"])
    assert isinstance(record, Citizen)
    assert record == expected_citizen(row)
    assert record.personal_id == row["so_dinh_danh"]
    assert record.old_id_number == row["so_cmnd"]
    assert record.full_name == row["ho_ten"]
    assert str(record.date_of_birth) == row["ngay_sinh"]
    assert record.ethnicity == row["ma_dan_toc"]
    assert record.household_id == row["ma_ho"]
    assert record.place_of_birth_registration.province_code == row["dk_khai_sinh_tinh"]
    assert record.permanent_address.ward_code == row["thuong_tru_xa"]
    assert record.permanent_address.line == row["thuong_tru_chi_tiet"]
    assert record.permanent_address.province_name  # derived by the contract from the code
    assert record.current_address is not None
    assert record.current_address.ward_code == row["noi_o_xa"]


@pytest.mark.parametrize(("code", "gender"), [(1, "male"), (2, "female")])
async def test_gender_codes_map_to_the_contract(sector: Sector, code: int, gender: str) -> None:
    row = _first(sector, lambda r: r["gioi_tinh"] == code)
    async with sector.connector() as connector:
        record = await connector.get(row["so_dinh_danh"])
    assert record.gender == gender  # type: ignore[attr-defined]


async def test_every_relation_and_marital_status_code_maps(sector: Sector) -> None:
    relations = {r["quan_he_chu_ho"]: r for r in sector.rows.values()}
    statuses = {r["tinh_trang_hon_nhan"]: r for r in sector.rows.values()}
    assert len(relations) >= 5 and len(statuses) >= 3  # the seed is varied enough to mean something
    async with sector.connector() as connector:
        for code, row in relations.items():
            record = await connector.get(row["so_dinh_danh"])
            assert record.relation_to_head == RELATION_CODES[code]  # type: ignore[attr-defined]
        for code, row in statuses.items():
            record = await connector.get(row["so_dinh_danh"])
            assert record.marital_status == MARITAL_STATUS_CODES[code]  # type: ignore[attr-defined]


async def test_null_current_address_is_none(sector: Sector) -> None:
    row = _first(sector, lambda r: r["noi_o_xa"] is None and r["noi_o_chi_tiet"] is None and r["noi_o_tinh"] is None)
    async with sector.connector() as connector:
        record = await connector.get(row["so_dinh_danh"])
    assert record.current_address is None  # type: ignore[attr-defined]
    assert "current_address" not in record.model_dump(exclude_none=True)


async def test_date_of_death(sector: Sector) -> None:
    row = _first(sector, lambda r: r["ngay_mat"] is not None)
    async with sector.connector() as connector:
        record = await connector.get(row["so_dinh_danh"])
    assert record.date_of_death == row["ngay_mat"]  # type: ignore[attr-defined]


async def test_timestamps_are_timezone_aware_utc(sector: Sector) -> None:
    row = next(iter(sector.rows.values()))
    async with sector.connector() as connector:
        record = await connector.get(row["so_dinh_danh"])
    updated: datetime = record.last_updated  # type: ignore[attr-defined]
    assert updated.tzinfo is not None
    assert updated.utcoffset() == timedelta(0)
    stored: datetime = row["ngay_cap_nhat"]
    assert updated == (stored if stored.tzinfo else stored.replace(tzinfo=UTC))


async def test_unknown_key_is_record_not_found(sector: Sector) -> None:
    missing = "068099000000"
    assert missing not in sector.rows
    async with sector.connector() as connector:
        with pytest.raises(RecordNotFound) as info:
            await connector.get(missing)
    assert missing not in str(info.value)


async def test_every_row_maps_to_a_valid_record(sector: Sector) -> None:
    ids = list(sector.rows)
    async with sector.connector() as connector:
        records: list[Any] = []
        for start in range(0, len(ids), 100):
            records += await asyncio.gather(*(connector.get(pid) for pid in ids[start : start + 100]))
    assert len(records) == CITIZEN_COUNT
    for pid, record in zip(ids, records, strict=True):
        assert record == sector.citizens[pid], pid


# -- search ----------------------------------------------------------------------------------------------------


def _queries(sector: Sector) -> dict[str, CitizenQuery]:
    dated = _first(sector, lambda r: len(r["ngay_sinh"]) == 10 and r["so_cmnd"])
    planted = sector.rows[sector.planted_ids[3]]
    return {
        "name + exact date": CitizenQuery(full_name=dated["ho_ten"], date_of_birth=dated["ngay_sinh"]),
        "name + year": CitizenQuery(full_name=PLANTED_NAME, date_of_birth=str(sector.planted_year)),
        "name + month": CitizenQuery(full_name=PLANTED_NAME, date_of_birth=planted["ngay_sinh"][:7]),
        "name + Vietnamese date": CitizenQuery(
            full_name=PLANTED_NAME, date_of_birth="/".join(reversed(planted["ngay_sinh"].split("-")))
        ),
        "old id": CitizenQuery(old_id_number=dated["so_cmnd"]),
        "name + date + old id": CitizenQuery(
            full_name=dated["ho_ten"], date_of_birth=dated["ngay_sinh"], old_id_number=dated["so_cmnd"]
        ),
        "name + date + another's old id": CitizenQuery(
            full_name=PLANTED_NAME, date_of_birth=str(sector.planted_year), old_id_number=dated["so_cmnd"]
        ),
        "no such name": CitizenQuery(full_name="Không Có Ai", date_of_birth="1990"),
        "no such old id": CitizenQuery(old_id_number="999999999"),
    }


QUERY_NAMES = [
    "name + exact date",
    "name + year",
    "name + month",
    "name + Vietnamese date",
    "old id",
    "name + date + old id",
    "name + date + another's old id",
    "no such name",
    "no such old id",
]


@pytest.mark.parametrize("name", QUERY_NAMES)
async def test_search_finds_exactly_what_the_contract_says(sector: Sector, name: str) -> None:
    query = _queries(sector)[name]
    expected = _matching_ids(sector, query)
    async with sector.connector() as connector:
        page = await connector.search(query, limit=100)
    assert [item.record_id() for item in page.items] == expected
    assert all(isinstance(item, Citizen) for item in page.items)
    assert all(item == sector.citizens[item.record_id()] for item in page.items)
    assert page.next_cursor is None


def test_the_search_oracle_is_not_trivial(sector: Sector) -> None:
    """Guards the test above: its queries find one, several or no records, as intended."""
    sizes = {name: len(_matching_ids(sector, query)) for name, query in _queries(sector).items()}
    assert sizes["name + year"] == PLANTED_COUNT
    assert 1 <= sizes["name + month"] < PLANTED_COUNT
    assert sizes["name + Vietnamese date"] >= 1
    assert sizes["old id"] == 1
    assert sizes["name + date + old id"] == 1
    assert sizes["name + date + another's old id"] == 0
    assert sizes["no such name"] == sizes["no such old id"] == 0


async def test_no_match_is_an_empty_last_page(sector: Sector) -> None:
    async with sector.connector() as connector:
        page = await connector.search(CitizenQuery(old_id_number="999999999"), limit=10)
    assert page.items == []
    assert page.next_cursor is None


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 24, 25, 26, 100])
async def test_pages_walk_every_match_once_in_key_order(sector: Sector, limit: int) -> None:
    query = CitizenQuery(full_name=PLANTED_NAME, date_of_birth=str(sector.planted_year))
    async with sector.connector() as connector:
        pages = await _walk(connector, query, limit)
    ids = connector_ids(pages)
    assert ids == list(sector.planted_ids)  # every match, once, in key order
    assert all(len(page.items) == limit for page in pages[:-1])
    assert 1 <= len(pages[-1].items) <= limit
    assert len(pages) == -(-PLANTED_COUNT // limit)  # no empty trailing page, even when 25 divides evenly
    assert pages[-1].next_cursor is None
    assert all(page.next_cursor is not None for page in pages[:-1])


async def test_wildcards_in_prefix_values_are_literal(sector: Sector) -> None:
    # The contract's types refuse "%" and "_" in a name or a date, so the gateway can never pass them; a
    # connector must not rely on that, so the queries are built with model_construct, which skips validation.
    # ``date_of_birth`` is matched with LIKE (prefix): unescaped, "19%" would find everyone born in 19xx.
    born_in_1900s = CitizenQuery.model_construct(full_name=PLANTED_NAME, date_of_birth="19%", old_id_number=None)
    any_single_digit = CitizenQuery.model_construct(
        full_name=PLANTED_NAME, date_of_birth=f"{str(sector.planted_year)[:3]}_", old_id_number=None
    )
    async with sector.connector() as connector:
        assert (await connector.search(born_in_1900s, limit=100)).items == []
        assert (await connector.search(any_single_digit, limit=100)).items == []
        # the same query with a real value does find them: the empty pages above are not an accident
        real = CitizenQuery(full_name=PLANTED_NAME, date_of_birth=str(sector.planted_year))
        assert len((await connector.search(real, limit=100)).items) == PLANTED_COUNT


async def test_wildcards_in_a_name_matched_by_prefix_are_literal(sector: Sector) -> None:
    # A differently configured copy matches full names by prefix (LIKE): "_" and "%" must stay literal.
    # FullName refuses both characters, hence model_construct (see the test above).
    filters = {**population_mapping.SEARCH_FILTERS, "full_name": {"column": "ho_ten", "match": "prefix"}}
    year = str(sector.planted_year)

    def query(name: str) -> CitizenQuery:
        return CitizenQuery.model_construct(full_name=name, date_of_birth=year, old_id_number=None)

    async with sector.connector(search_filters=filters) as connector:
        found = await connector.search(query(PLANTED_NAME[:-2]), limit=100)  # "Trần Thị M" (a real prefix)
        assert [i.record_id() for i in found.items] == sorted(
            pid
            for pid, r in sector.rows.items()
            if r["ho_ten"].startswith(PLANTED_NAME[:-2]) and r["ngay_sinh"].startswith(year)
        )
        assert len(found.items) >= PLANTED_COUNT
        for pattern in ("%", "_", "Tr_n Thị Mẫu", "Trần%", "%Mẫu"):
            page = await connector.search(query(pattern), limit=100)
            assert page.items == [], pattern


async def test_name_search_ignores_letter_case_as_the_contract_says(sector: Sector) -> None:
    # Names are registered in title case; the filter puts the query in that case, so the index still serves it.
    for spelling in (PLANTED_NAME.upper(), PLANTED_NAME.lower(), PLANTED_NAME):
        query = CitizenQuery(full_name=spelling, date_of_birth=str(sector.planted_year))
        assert len(_matching_ids(sector, query)) == PLANTED_COUNT
        async with sector.connector() as connector:
            page = await connector.search(query, limit=100)
        assert len(page.items) == PLANTED_COUNT, spelling


# -- checks ----------------------------------------------------------------------------------------------------


async def test_check_and_health_when_up(sector: Sector) -> None:
    async with sector.connector() as connector:
        result = await connector.check()
        health = await connector.health()
    assert result.ok is True
    assert result.latency_seconds is not None and 0 < result.latency_seconds < 5
    assert health.state is HealthState.UP and health.message == ""
    assert health.latency_seconds is None  # the caller times the probe: check() above, the axis


async def test_missing_table_is_an_upstream_error(sector: Sector) -> None:
    async with sector.connector(table="khong_co_bang") as connector:
        result = await connector.check()
        with pytest.raises(UpstreamError) as info:
            await connector.get(next(iter(sector.rows)))
        with pytest.raises(UpstreamError):
            await connector.search(CitizenQuery(old_id_number="123456789"), limit=5)
    assert result.ok is False
    assert not isinstance(info.value, UpstreamUnavailable)  # the database answered: it is not a connect error
    assert info.value.reason == "protocol"
    assert "khong_co_bang" not in result.message and "SELECT" not in result.message.upper()
    assert "khong_co_bang" not in info.value.message


# -- rows that violate the contract ----------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["invalid personal id", "ethnicity 99", "gender 7", "gender contradicts id"])
async def test_row_violating_the_contract(sector: Sector, problem: str) -> None:
    bad = sector.bad[problem]
    async with sector.connector(table=BAD_TABLE) as connector:
        assert (await connector.get(sector.good_in_bad_table)).record_id() == sector.good_in_bad_table
        with pytest.raises(ContractViolation) as info:
            await connector.get(bad.personal_id)
        # The search page is served without the broken row, which is reported with its key.
        page = await connector.search(CitizenQuery(old_id_number=bad.row["so_cmnd"]), limit=5)
    assert [record.record_id() for record in page.items] == [] and len(page.skipped) == 1
    (by_search,) = page.skipped
    assert by_search.record_id == bad.personal_id
    for exc in (info.value, by_search):
        assert exc.reason == "contract_violation"
        assert exc.errors, "the violated rules are listed"
        assert any(error.split(":")[0] == bad.field for error in exc.errors), exc.errors
        text = " ".join([str(exc), exc.message, *exc.errors])
        for secret in {bad.value, bad.personal_id, bad.row["ho_ten"], bad.row["so_cmnd"]}:
            assert secret not in text, (secret, exc.errors)
    assert info.value.record_id == bad.personal_id


# -- an unreachable database -----------------------------------------------------------------------------------


async def _assert_unreachable(connector: PopulationConnector, *hidden: str) -> None:
    result = await connector.check()
    assert result.ok is False
    assert result.message
    with pytest.raises(UpstreamUnavailable) as probed:  # the probe raises: the axis records its reason
        await connector.health()
    assert probed.value.reason == "connect"
    with pytest.raises(UpstreamUnavailable) as got:
        await connector.get("068185000123")
    with pytest.raises(UpstreamUnavailable) as searched:
        await connector.search(CitizenQuery(old_id_number="123456789"), limit=5)
    for exc in (got.value, searched.value):
        assert exc.reason == "connect"
    for text in (result.message, got.value.message, searched.value.message):
        for secret in hidden:
            assert secret not in text


async def test_postgresql_on_a_closed_port() -> None:
    port = free_port()  # bound then released: nothing listens there
    url = f"postgresql://reader:pa55word@127.0.0.1:{port}/population"
    async with PopulationConnector.from_config({"url": url, "connect_timeout_seconds": 2}) as connector:
        started = time.perf_counter()
        await _assert_unreachable(connector, "pa55word", str(port), url)
    assert time.perf_counter() - started < 5


async def _aiosqlite_threads_finished() -> None:
    """Wait for the worker threads of failed aiosqlite connections to stop.

    When opening the file fails, aiosqlite stops its worker thread by queueing a last call that reports to the
    event loop; the test must not close its loop before that (aiosqlite would raise in the thread).
    """
    deadline = time.monotonic() + 5
    while any(t.is_alive() and t.name.endswith("(_connection_worker_thread)") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "aiosqlite worker threads did not stop"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("where", ["missing.db", "missing-dir/missing.db"])
async def test_missing_sqlite_file(tmp_path: Path, where: str) -> None:
    path = tmp_path / where
    async with PopulationConnector.from_config({"url": f"sqlite:///{path}"}) as connector:
        await _assert_unreachable(connector, str(path), where)
    await _aiosqlite_threads_finished()
    assert not path.exists(), "a read-only connector must not create the database file"
    assert not path.parent.exists() or list(path.parent.iterdir()) == []


# -- deadlines -------------------------------------------------------------------------------------------------


async def test_timeout_on_a_locked_postgresql_table(postgres_sector: Sector) -> None:
    sector = postgres_sector
    pid = next(iter(sector.rows))
    holder = await asyncpg.connect(sector.asyncpg_dsn(), timeout=5)
    try:
        async with sector.connector(timeout_seconds=0.5, pool_size=2, max_overflow=0) as connector:
            # The pool has a live connection before the lock (its first may take longer than 0.5 s to open on a
            # busy machine: that is not what this test is about).
            async with asyncio.timeout(30):
                while True:
                    with contextlib.suppress(UpstreamTimeout):
                        await connector.get(pid)
                        break
            lock = holder.transaction()
            await lock.start()
            try:
                await holder.execute(f"LOCK TABLE {CITIZENS.name} IN ACCESS EXCLUSIVE MODE")
                started = time.perf_counter()
                with pytest.raises(UpstreamTimeout) as info:
                    await connector.get(pid)
                elapsed = time.perf_counter() - started
                with pytest.raises(UpstreamTimeout):
                    await connector.search(CitizenQuery(old_id_number="123456789"), limit=5)
                assert (await connector.check()).ok is False
            finally:
                await lock.rollback()
            assert 0.4 < elapsed < 2.0
            assert info.value.reason == "timeout"
            # the pool is not poisoned: more calls than pooled connections all succeed, concurrently too
            for _ in range(5):
                assert (await connector.get(pid)).record_id() == pid
            assert len(await asyncio.gather(*(connector.get(pid) for _ in range(10)))) == 10
            assert (await connector.check()).ok is True
    finally:
        await holder.close()


async def test_timeout_on_a_locked_sqlite_database(sqlite_sector: Sector, tmp_path: Path) -> None:
    sector = sqlite_sector
    path = tmp_path / "locked.db"
    shutil.copyfile(sector.path, path)
    pid = next(iter(sector.rows))
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        assert holder.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
        # SQLite waits for a lock up to its busy timeout; the connector's deadline is shorter.
        config = {"url": f"sqlite:///{path}", "timeout_seconds": 0.5, "connect_timeout_seconds": 5}
        async with PopulationConnector.from_config(config) as connector:
            await connector.get(pid)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                started = time.perf_counter()
                with pytest.raises(UpstreamTimeout) as info:
                    await connector.get(pid)
                elapsed = time.perf_counter() - started
                with pytest.raises(UpstreamTimeout):
                    await connector.search(CitizenQuery(old_id_number="123456789"), limit=5)
                assert (await connector.check()).ok is False
            finally:
                holder.execute("ROLLBACK")
            assert 0.4 < elapsed < 2.0
            assert info.value.reason == "timeout"
            for _ in range(5):
                assert (await connector.get(pid)).record_id() == pid
            assert (await connector.check()).ok is True
    finally:
        holder.close()


# -- concurrency -----------------------------------------------------------------------------------------------


def _open_files(path: Path) -> int:
    """How many descriptors of this process are open on ``path``."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            count += fd.readlink() == path
    return count


async def test_concurrent_reads_share_a_small_pool(sector: Sector) -> None:
    ids = list(sector.rows)[:200]
    before = _open_files(sector.path) if sector.backend == "sqlite" else 0
    async with sector.connector(pool_size=5, max_overflow=0) as connector:
        records = await asyncio.gather(*(connector.get(pid) for pid in ids))
        if sector.backend == "sqlite":
            # One connection per thread, as many threads as CPUs (at least two): more would add memory, not speed.
            cpus = len(os.sched_getaffinity(0))
            assert sqlite_threads(5) == min(5, max(2, cpus))
            assert 1 <= _open_files(sector.path) - before <= sqlite_threads(5)
        if sector.backend == "postgresql":
            # The pool never opened more than its size: its connections are still there, idle.
            monitor = await asyncpg.connect(sector.asyncpg_dsn(), timeout=5)
            try:
                opened = await monitor.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            finally:
                await monitor.close()
            assert 1 <= opened <= 5
    assert [r.record_id() for r in records] == ids
    assert all(r == sector.citizens[r.record_id()] for r in records)


# -- searching a column of integer codes -----------------------------------------------------------------------


class ByGenderAndYear(ContractQuery):
    """A query on a code list stored as integers (gioi_tinh: 1, 2) and a year prefix."""

    gender: Literal["male", "female"]
    date_of_birth: str


class ByGenderConnector(PopulationConnector):
    query_model = ByGenderAndYear


def _by_gender(sector: Sector, value_type: str) -> ByGenderConnector:
    filters = {
        "gender": {"column": "gioi_tinh", "value_type": value_type},
        "date_of_birth": {"column": "ngay_sinh", "match": "prefix"},
    }
    return ByGenderConnector.from_config({"url": sector.url, "search_filters": filters})


async def test_an_integer_coded_column_is_searched_with_its_codes(sector: Sector) -> None:
    year = str(sector.planted_year)
    expected = sorted(
        pid for pid, row in sector.rows.items() if row["gioi_tinh"] == 2 and str(row["ngay_sinh"]).startswith(year)
    )
    assert len(expected) > 5
    async with _by_gender(sector, "integer") as connector:
        pages = await _walk(connector, ByGenderAndYear(gender="female", date_of_birth=year), limit=4)
    assert connector_ids(pages) == expected
    assert all(item.gender == "female" for page in pages for item in page.items)


async def test_an_integer_column_compared_as_text_fails_on_postgresql(postgres_sector: Sector) -> None:
    """Why ``value_type`` exists: PostgreSQL refuses a text parameter for an integer column."""
    async with _by_gender(postgres_sector, "text") as connector:
        with pytest.raises(UpstreamError):
            await connector.search(ByGenderAndYear(gender="female", date_of_birth="1990"), limit=5)


def test_an_integer_filter_matches_exactly() -> None:
    with pytest.raises(ConnectorConfigError, match="an integer search filter matches exactly"):
        PopulationConnector.from_config(
            {
                "url": "sqlite:///x.db",
                "search_filters": {"full_name": {"column": "ho_ten", "match": "prefix", "value_type": "integer"}},
            }
        )


# -- submissions: a batch in one transaction, each operation on its own ----------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_sector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A sector database with an empty citizen table, of its own (the tests write to it)."""
    if request.param == "sqlite":
        url = str(to_async_url(f"sqlite:///{tmp_path / 'population.db'}"))
        asyncio.run(seed_population(url, count=0))
        yield url
        return
    with postgres_database(prefix="conwrite") as url:
        asyncio.run(seed_population(url, count=0))
        yield url


def _new_citizen() -> dict[str, Any]:
    fields = dict(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    for name in ("personal_id", "old_id_number"):
        fields.pop(name)
    fields["household_id"] = "HK068000123"  # the simulated table's column is shorter than the example's
    return fields


async def _ledger(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(
                (await conn.execute(sa.text("SELECT idempotency_key FROM gateway_applied_operations"))).scalars()
            )
    finally:
        await engine.dispose()


async def test_a_batch_applies_whole_and_a_failing_operation_fails_alone(empty_sector: str) -> None:
    """A batch without a failure goes in at once; one with failures keeps every other operation, each failure
    answered as a single submission would be, and a repeated idempotency key changes nothing."""
    a1, a2, a3, new, missing = (f"068190{serial:06d}" for serial in range(5))
    create = OperationKind.CREATE
    connector = PopulationConnector.from_config({"url": empty_sector, "writes": {}})
    await connector.start()
    try:
        first = [
            SubmitOperation(create, rid, idempotency_key=f"k-{rid}", fields=_new_citizen()) for rid in (a1, a2, a3)
        ]
        assert await connector.submit_many(first) == [
            SubmitResult(SubmitStatus.APPLIED, f"k-{rid}") for rid in (a1, a2, a3)
        ]
        outcomes = await connector.submit_many(
            [
                SubmitOperation(create, new, idempotency_key="k-new", fields=_new_citizen()),
                SubmitOperation(create, a1, idempotency_key="k-a1-again", fields=_new_citizen()),  # exists
                first[1],  # delivered again: same key
                SubmitOperation(
                    OperationKind.UPDATE, missing, idempotency_key="k-missing", fields={"full_name": "Lê Văn Tám"}
                ),
                SubmitOperation(OperationKind.DELETE, a3, idempotency_key="k-del"),
                SubmitOperation(OperationKind.UPDATE, a2, idempotency_key="k-upd", fields={"full_name": "Lê Văn Tám"}),
            ]
        )
    finally:
        await connector.close()
    applied, conflict, duplicate, no_record, deleted, updated = outcomes
    assert applied == SubmitResult(SubmitStatus.APPLIED, "k-new")
    assert isinstance(conflict, SubmissionRejected) and "conflicts" in conflict.message
    assert duplicate == SubmitResult(SubmitStatus.DUPLICATE, f"k-{a2}")
    assert isinstance(no_record, SubmissionRejected) and "no record" in no_record.message
    assert deleted == SubmitResult(SubmitStatus.APPLIED, "k-del")
    assert updated == SubmitResult(SubmitStatus.APPLIED, "k-upd")
    rows = await _read_rows(empty_sector)
    assert sorted(rows) == [a1, a2, new]
    assert rows[a2]["ho_ten"] == "Lê Văn Tám" and rows[a1]["ho_ten"] != "Lê Văn Tám"
    assert await _ledger(empty_sector) == {f"k-{a1}", f"k-{a2}", f"k-{a3}", "k-new", "k-del", "k-upd"}
