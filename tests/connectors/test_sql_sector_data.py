"""What a sector database may hold that the SQL connectors must not pass on as a record: a key held by two rows,
text that is not UTF-8, ``char(n)`` values padded with spaces. Real databases: a SQLite file and a fresh database
of the local PostgreSQL server (skipped when it is down, failed under CI=true)."""

from __future__ import annotations

import asyncio
import sqlite3
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from support import postgres_database

from connectors.base import (
    ContractViolation,
    OperationKind,
    Page,
    SubmissionRejected,
    SubmitOperation,
    UpstreamError,
)
from connectors.population import PopulationConnector, PopulationConnectorConfig
from connectors.spellings import spellings
from contracts.population import CitizenQuery
from simulators.population import seed_population

pytestmark = pytest.mark.anyio

COLUMNS = (
    "so_dinh_danh, so_cmnd, ho_ten, gioi_tinh, ngay_sinh, ma_dan_toc, ma_quoc_tich, dk_khai_sinh_tinh, "
    "dk_khai_sinh_xa, que_quan_tinh, que_quan_xa, thuong_tru_chi_tiet, thuong_tru_xa, thuong_tru_tinh, "
    "noi_o_chi_tiet, noi_o_xa, noi_o_tinh, ma_ho, quan_he_chu_ho, tinh_trang_hon_nhan, ngay_mat, ngay_cap_nhat"
)
REPEATED = "more than one row of the sector database has this key"


@dataclass(frozen=True)
class Sector:
    backend: str
    url: str
    ids: tuple[str, ...]
    old_ids: dict[str, str]

    def run(self, *statements: str) -> None:
        """Run ``statements`` on the sector database, committed."""
        self.fetch(*statements)

    def fetch(self, *statements: str) -> list[tuple[Any, ...]]:
        """Run ``statements`` on the sector database, committed; the rows of the last."""
        if self.backend == "sqlite":
            database = sqlite3.connect(make_url(self.url).database or "")
            try:
                rows: list[tuple[Any, ...]] = []
                for statement in statements:
                    rows = database.execute(statement).fetchall()
                database.commit()
            finally:
                database.close()
            return rows

        async def run() -> list[tuple[Any, ...]]:
            dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
            connection = await asyncpg.connect(dsn)
            try:
                found: list[tuple[Any, ...]] = []
                for statement in statements:
                    found = [tuple(r) for r in await connection.fetch(statement)]
                return found
            finally:
                await connection.close()

        with ThreadPoolExecutor(1) as thread:  # the tests call it from their own event loop
            return thread.submit(asyncio.run, run()).result()

    def copy(self, *changes: str, columns: str = COLUMNS) -> str:
        """A new table holding the citizens (``columns`` of them), without a unique key, changed by ``changes``
        (statements in which ``{t}`` is the table); its name."""
        name = f"cd_{uuid.uuid4().hex[:10]}"
        self.run(f"CREATE TABLE {name} AS SELECT {columns} FROM cong_dan", *(c.format(t=name) for c in changes))
        return name


def _sector(backend: str, url: str) -> Sector:
    asyncio.run(seed_population(url, count=40, seed=21))
    rows: list[tuple[str, str | None]] = []
    if backend == "sqlite":
        database = sqlite3.connect(make_url(url).database or "")
        rows = database.execute("SELECT so_dinh_danh, so_cmnd FROM cong_dan ORDER BY 1").fetchall()
        database.close()
    else:

        async def read() -> None:
            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            connection = await asyncpg.connect(dsn)
            try:
                rows.extend(tuple(r) for r in await connection.fetch("SELECT so_dinh_danh, so_cmnd FROM cong_dan"))
            finally:
                await connection.close()

        asyncio.run(read())
    rows.sort()
    return Sector(backend, url, tuple(r[0] for r in rows), {r[0]: r[1] for r in rows if r[1] is not None})


@pytest.fixture(scope="module")
def sqlite_sector(tmp_path_factory: pytest.TempPathFactory) -> Sector:
    return _sector("sqlite", f"sqlite:///{tmp_path_factory.mktemp('sector') / 'population.db'}")


@pytest.fixture(scope="module")
def postgres_sector() -> Iterator[Sector]:
    with postgres_database(prefix="sqlsector") as url:
        yield _sector("postgresql", url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sector(request: pytest.FixtureRequest) -> Sector:
    return request.getfixturevalue(f"{'postgres' if request.param == 'postgresql' else 'sqlite'}_sector")  # type: ignore[no-any-return]


async def _connector(sector: Sector, table: str) -> AsyncIterator[PopulationConnector]:
    connector = PopulationConnector(PopulationConnectorConfig(url=sector.url, table=table, timeout_seconds=5))
    await connector.start()
    try:
        yield connector
    finally:
        await connector.close()


def _with_old_id(sector: Sector) -> str:
    return next(i for i in sector.ids[3:] if i in sector.old_ids)


async def _walk(connector: PopulationConnector, query: CitizenQuery, limit: int) -> list[Page]:
    pages = [await connector.search(query, limit=limit)]
    while pages[-1].next_cursor is not None and len(pages) < 10:
        pages.append(await connector.search(query, limit=limit, cursor=pages[-1].next_cursor))
    return pages


async def test_a_key_held_by_two_rows_is_served_by_neither(sector: Sector) -> None:
    twice = _with_old_id(sector)
    table = sector.copy(f"INSERT INTO {{t}} SELECT {COLUMNS} FROM cong_dan WHERE so_dinh_danh = '{twice}'")
    async for connector in _connector(sector, table):
        with pytest.raises(ContractViolation) as raised:
            await connector.get(twice)
        assert raised.value.record_id == twice
        assert raised.value.errors == [f"personal_id: {REPEATED}"]
        other = next(i for i in sector.ids if i != twice)
        assert (await connector.get(other)).record_id() == other


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_a_search_reports_a_repeated_key_once_whatever_the_page_size(sector: Sector, limit: int) -> None:
    twice = _with_old_id(sector)
    table = sector.copy(
        *[f"INSERT INTO {{t}} SELECT {COLUMNS} FROM cong_dan WHERE so_dinh_danh = '{twice}'"] * 2,
    )
    async for connector in _connector(sector, table):
        pages = await _walk(connector, CitizenQuery(old_id_number=sector.old_ids[twice]), limit)
        assert [r.record_id() for p in pages for r in p.items] == []
        assert [(v.record_id, v.errors) for p in pages for v in p.skipped] == [(twice, [f"personal_id: {REPEATED}"])]


async def test_text_that_is_not_utf8_breaks_its_record_only(sqlite_sector: Sector) -> None:
    broken = _with_old_id(sqlite_sector)
    table = sqlite_sector.copy(f"UPDATE {{t}} SET ho_ten = CAST(x'4e6775ff6e' AS TEXT) WHERE so_dinh_danh = '{broken}'")
    async for connector in _connector(sqlite_sector, table):
        with pytest.raises(ContractViolation) as raised:
            await connector.get(broken)
        assert [e.split(":")[0] for e in raised.value.errors] == ["full_name"]
        page = await connector.search(CitizenQuery(old_id_number=sqlite_sector.old_ids[broken]), limit=5)
        assert page.items == []
        assert [v.record_id for v in page.skipped] == [broken]
        other = next(i for i in sqlite_sector.ids if i != broken)
        assert (await connector.get(other)).record_id() == other


async def test_char_columns_are_read_without_their_padding(postgres_sector: Sector) -> None:
    padded = COLUMNS.replace("so_dinh_danh,", "so_dinh_danh::char(20) AS so_dinh_danh,", 1).replace(
        "ho_ten,", "ho_ten::char(120) AS ho_ten,", 1
    )
    table = postgres_sector.copy(columns=padded)
    one = _with_old_id(postgres_sector)
    async for connector in _connector(postgres_sector, table):
        record = await connector.get(one)
        assert record.record_id() == one
        assert record.model_dump()["full_name"] == record.model_dump()["full_name"].strip()
        page = await connector.search(CitizenQuery(old_id_number=postgres_sector.old_ids[one]), limit=5)
        assert [r.record_id() for r in page.items] == [one]
        assert page.skipped == []
        assert await connector.search(CitizenQuery(old_id_number=postgres_sector.old_ids[one]), limit=5) == page


@pytest.mark.parametrize("kind", [OperationKind.UPDATE, OperationKind.DELETE])
async def test_a_write_to_a_key_held_by_two_rows_changes_nothing_and_says_why(
    sector: Sector, kind: OperationKind
) -> None:
    twice = _with_old_id(sector)
    table = sector.copy(f"INSERT INTO {{t}} SELECT {COLUMNS} FROM cong_dan WHERE so_dinh_danh = '{twice}'")
    connector = PopulationConnector(
        PopulationConnectorConfig(url=sector.url, table=table, timeout_seconds=5, writes={"ledger_table": table + "_l"})
    )
    await connector.start()
    try:
        fields = {"marital_status": "widowed"} if kind is OperationKind.UPDATE else {}
        with pytest.raises(SubmissionRejected, match="2 rows of the sector database have that key; nothing was"):
            await connector.submit(SubmitOperation(kind, twice, f"k-{uuid.uuid4().hex}", fields))
    finally:
        await connector.close()
    async for reader in _connector(sector, table):
        with pytest.raises(ContractViolation, match="violates"):  # both rows are still there
            await reader.get(twice)
        page = await reader.search(CitizenQuery(old_id_number=sector.old_ids[twice]), limit=5)
        assert [v.errors for v in page.skipped] == [[f"personal_id: {REPEATED}"]]


def test_a_read_only_database_refusing_a_delivery_says_so() -> None:
    async def deliver(url: str) -> None:
        connector = PopulationConnector(PopulationConnectorConfig(url=url, timeout_seconds=5, writes={}))
        await connector.start()
        try:
            operation = SubmitOperation(OperationKind.DELETE, "001200000001", "k-read-only")
            with pytest.raises(UpstreamError, match="accepts no writes") as raised:
                await connector.submit(operation)
            assert not isinstance(raised.value, SubmissionRejected)  # retried: a failover can end it
        finally:
            await connector.close()

    with postgres_database(prefix="sqlsector") as url:
        asyncio.run(seed_population(url, count=5, seed=3))
        Sector("postgresql", url, (), {}).run(
            f'ALTER DATABASE "{make_url(url).database}" SET default_transaction_read_only = on'
        )
        asyncio.run(deliver(url))


async def _written_in_local_time(sector: Sector, table: str, key: str, instant: str) -> datetime:
    """Submit ``instant`` as the record's ``last_updated`` through a connector whose naive timestamps are Vietnam's
    local time; the instant it reads back."""
    config = PopulationConnectorConfig(
        url=sector.url,
        table=table,
        timeout_seconds=5,
        naive_datetime_timezone="Asia/Ho_Chi_Minh",
        writes={"ledger_table": table + "_l"},
    )
    connector = PopulationConnector(config)
    await connector.start()
    try:
        fields = {"last_updated": instant}
        await connector.submit(SubmitOperation(OperationKind.UPDATE, key, f"k-{uuid.uuid4().hex}", fields))
        read: datetime = (await connector.get(key)).model_dump()["last_updated"]
        return read
    finally:
        await connector.close()


@pytest.mark.parametrize("column_type", ["timestamp", "timestamptz"])
async def test_an_instant_is_written_as_the_wall_time_of_the_zone_of_naive_timestamps(
    postgres_sector: Sector, column_type: str
) -> None:
    """A database keeping local time in zone-less ``timestamp`` columns (``naive_datetime_timezone``) is written the
    wall time it reads back as the same instant; a ``timestamptz`` column keeps the instant as it is."""
    table = postgres_sector.copy(
        f"ALTER TABLE {{t}} ALTER COLUMN ngay_cap_nhat TYPE {column_type}",
        columns=COLUMNS.replace("ngay_cap_nhat", "ngay_cap_nhat::timestamp AS ngay_cap_nhat"),
    )
    one = postgres_sector.ids[7]
    read = await _written_in_local_time(postgres_sector, table, one, "2025-10-01T08:30:00+07:00")
    assert read == datetime(2025, 10, 1, 1, 30, tzinfo=UTC)
    stored = postgres_sector.fetch(f"SELECT ngay_cap_nhat::text FROM {table} WHERE so_dinh_danh = '{one}'")
    assert stored == [("2025-10-01 08:30:00" if column_type == "timestamp" else "2025-10-01 01:30:00+00",)]


async def test_sqlite_is_written_the_wall_time_of_the_zone_of_naive_timestamps(sqlite_sector: Sector) -> None:
    """SQLite keeps timestamps as zone-less text: an instant is written as the wall time of
    ``naive_datetime_timezone`` in SQLite's own form, like the rows beside it, and read back as the same instant."""
    table = sqlite_sector.copy()
    one = sqlite_sector.ids[8]
    read = await _written_in_local_time(sqlite_sector, table, one, "2025-10-01T01:30:00.250000Z")
    assert read == datetime(2025, 10, 1, 1, 30, 0, 250000, tzinfo=UTC)
    stored = sqlite_sector.fetch(f"SELECT ngay_cap_nhat FROM {table} WHERE so_dinh_danh = '{one}'")
    assert stored == [("2025-10-01 08:30:00.250000",)]


async def test_names_stored_decomposed_or_with_tone_marks_apart_are_found(sector: Sector) -> None:
    """Vietnamese text may be stored precomposed, decomposed (NFD) or as "Unicode tổ hợp" (tone marks apart, as
    Windows-1258 and the converters from TCVN3 write it): a search finds all three whichever way it is typed, and
    serves the names precomposed."""
    name = "Nguyễn Thị Ệ"
    forms = spellings(name)
    assert len(set(forms)) == 3
    keys = sector.ids[10:13]
    table = sector.copy(
        *(
            f"UPDATE {{t}} SET ho_ten = '{form}' WHERE so_dinh_danh = '{key}'"
            for form, key in zip(forms, keys, strict=True)
        )
    )
    born = dict(sector.fetch(f"SELECT so_dinh_danh, ngay_sinh FROM {table} WHERE so_dinh_danh IN {keys!r}"))
    async for connector in _connector(sector, table):
        for key in keys:
            for typed in (name, "nguyễn thị ệ", unicodedata.normalize("NFD", "NGUYỄN THỊ Ệ"), forms[2]):
                query = CitizenQuery(full_name=typed, date_of_birth=str(born[key]))
                page = await connector.search(query, limit=10)
                assert [r.record_id() for r in page.items] == [key], (key, ascii(typed))
                assert page.items[0].model_dump()["full_name"] == name
