"""The generic ``sql`` adapter on MariaDB, beyond the conformance kit: text compared as stored whatever the
columns' collation, Vietnamese text whole, a statement past its deadline killed on the server, pooled connections
the server closed, and the exchange's writes (values refused one by one, read-only refusals, idempotency keys).
A fresh database of the local server (skipped when it is down or the driver is not installed, failed under
CI=true)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sector_sql_fixtures import mariadb_database, mariadb_run, mariadb_slow_view
from sqlalchemy.engine import make_url

from connectors.base import (
    OperationKind,
    SubmissionRejected,
    SubmitOperation,
    SubmitStatus,
    UpstreamError,
    UpstreamTimeout,
)
from connectors.population import PopulationConnector, PopulationConnectorConfig
from connectors.spellings import spellings
from contracts.population import CitizenQuery
from simulators.population import seed_population


@pytest.fixture(scope="module")
def sector() -> Iterator[str]:
    """A seeded population database on MariaDB (``utf8mb4_general_ci`` columns, the server's default)."""
    with mariadb_database(prefix="sqlmaria") as url:
        asyncio.run(seed_population(url, count=40, seed=5))
        yield url


def _run(url: str, *statements: str) -> list[Any]:
    return mariadb_run(*statements, database=make_url(url).database)


def _connector(url: str, **options: Any) -> PopulationConnector:
    return PopulationConnector(PopulationConnectorConfig(url=url, **options))


async def _with(connector: PopulationConnector, work: Any) -> Any:
    await connector.start()
    try:
        return await work(connector)
    finally:
        await connector.close()


def _ids(url: str, count: int, offset: int = 0) -> list[str]:
    """Keys of the seeded rows, each test its own (``offset``): the tests change the rows they read."""
    statement = f"SELECT so_dinh_danh FROM cong_dan ORDER BY so_dinh_danh LIMIT {count} OFFSET {offset}"
    return [row[0] for row in _run(url, statement)]


def test_names_match_as_stored_not_under_the_collation_of_the_column(sector: str) -> None:
    """``utf8mb4_general_ci`` finds ``Lê Văn An`` for ``Le Van An``: different names in Vietnamese, told apart as
    PostgreSQL and SQLite tell them apart; the letter case of the query still does not matter."""
    ((year, pair),) = _run(
        sector,
        "SELECT LEFT(ngay_sinh, 4) AS y, GROUP_CONCAT(so_dinh_danh ORDER BY so_dinh_danh) FROM cong_dan "
        "GROUP BY y HAVING count(*) >= 2 ORDER BY y LIMIT 1",
    )
    accented, plain = pair.split(",")[:2]
    _run(
        sector,
        f"UPDATE cong_dan SET ho_ten = 'Lê Văn An' WHERE so_dinh_danh = '{accented}'",
        f"UPDATE cong_dan SET ho_ten = 'Le Van An' WHERE so_dinh_danh = '{plain}'",
    )

    async def search(connector: PopulationConnector) -> dict[str, list[str]]:
        found = {}
        for name in ("lê văn an", "LE VAN AN", "Lê Van An"):
            page = await connector.search(CitizenQuery(full_name=name, date_of_birth=year), limit=10)
            found[name] = [r.record_id() for r in page.items]
        return found

    found = asyncio.run(_with(_connector(sector), search))
    assert found == {"lê văn an": [accented], "LE VAN AN": [plain], "Lê Van An": []}


def test_names_stored_decomposed_or_with_tone_marks_apart_are_found(sector: str) -> None:
    """Precomposed, decomposed (NFD) and "Unicode tổ hợp" (tone marks apart) forms of one name: each found by a
    search typed precomposed, still told apart from the name without its marks."""
    name = "Trần Thị Ệ"
    keys = _ids(sector, 4, offset=24)
    forms = [*spellings(name), "Tran Thi E"]
    _run(
        sector,
        *(f"UPDATE cong_dan SET ho_ten = '{f}' WHERE so_dinh_danh = '{k}'" for f, k in zip(forms, keys, strict=True)),
    )
    born = dict(_run(sector, f"SELECT so_dinh_danh, ngay_sinh FROM cong_dan WHERE so_dinh_danh IN {tuple(keys)!r}"))

    async def search(connector: PopulationConnector) -> list[list[str]]:
        found = []
        for key in keys:
            page = await connector.search(CitizenQuery(full_name=name, date_of_birth=str(born[key])), limit=10)
            found.append([r.record_id() for r in page.items])
        return found

    assert asyncio.run(_with(_connector(sector), search)) == [[k] for k in keys[:3]] + [[]]


def test_vietnamese_text_arrives_whole(sector: str) -> None:
    """utf8mb4 end to end: the tones of Vietnamese, and a character beyond the BMP (Chữ Nôm) in an address."""
    (key,) = _ids(sector, 1, offset=5)
    line = "Số 7, ngõ Nguyễn Thị Định, tổ dân phố 𡨸 Ỷ Lan"
    _run(
        sector,
        f"UPDATE cong_dan SET ho_ten = 'Hoàng Thị Thuỷ Tiên', thuong_tru_chi_tiet = '{line}' "
        f"WHERE so_dinh_danh = '{key}'",
    )
    record = asyncio.run(_with(_connector(sector), lambda c: c.get(key)))
    assert record.full_name == "Hoàng Thị Thuỷ Tiên"
    assert record.permanent_address.line == line


def _running(database: str) -> list[Any]:
    return mariadb_run(
        "SELECT id, info FROM information_schema.PROCESSLIST "
        f"WHERE db = '{database}' AND command = 'Query' AND info LIKE '%cong_dan_cham%' "
        "AND info NOT LIKE '%PROCESSLIST%'"
    )


def test_a_query_past_its_deadline_is_killed_on_the_server(sector: str) -> None:
    """The caller gives up at the deadline, and so does the server: the statement is not left running (holding
    a connection and its locks) for the rest of its 20 seconds."""
    view = f"cong_dan_cham_{uuid.uuid4().hex[:6]}"
    mariadb_slow_view(sector, "cong_dan", view, seconds=20)
    database = make_url(sector).database or ""

    connector = _connector(sector, table=view, timeout_seconds=0.5)

    async def scenario() -> float:
        await connector.start()
        try:
            started = time.perf_counter()
            task = asyncio.create_task(connector.get(_ids(sector, 1, offset=7)[0]))
            await asyncio.sleep(0.3)
            assert _running(database), "the slow statement should be running while the caller waits"
            with pytest.raises(UpstreamTimeout):
                await task
            return time.perf_counter() - started
        finally:
            await connector.close()

    elapsed = asyncio.run(scenario())
    assert elapsed < 2
    deadline = time.monotonic() + 3
    while _running(database) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(database) == [], "the statement given up on is still running on the server"


def test_the_pool_survives_connections_the_server_closed(sector: str) -> None:
    """Pooled connections closed by the server while idle (``wait_timeout``, a restart): the next read opens
    another and answers, instead of failing as if the database were down."""
    (key,) = _ids(sector, 1, offset=6)
    database = make_url(sector).database or ""

    async def scenario(connector: PopulationConnector) -> list[str]:
        await asyncio.gather(*(connector.get(key) for _ in range(3)))  # a few pooled connections
        threads = mariadb_run(
            f"SELECT id FROM information_schema.PROCESSLIST WHERE db = '{database}' AND command = 'Sleep'"
        )
        assert threads
        mariadb_run(*(f"KILL {thread}" for (thread,) in threads))
        await asyncio.sleep(0.2)
        return [(await connector.get(key)).record_id() for _ in range(3)]

    assert asyncio.run(_with(_connector(sector, pool_size=3), scenario)) == [key] * 3
    left = mariadb_run(
        f"SELECT count(*) FROM information_schema.PROCESSLIST WHERE db = '{database}' AND command = 'Sleep'"
    )
    assert left == [(0,)], "close() leaves no connection open"


def test_a_missing_column_is_a_failure_of_the_database_not_an_outage(sector: str) -> None:
    async def read(connector: PopulationConnector) -> None:
        await connector.get(_ids(sector, 1)[0])

    fields = dict(PopulationConnectorConfig(url=sector).fields, full_name="ho_va_ten")
    with pytest.raises(UpstreamError) as raised:
        asyncio.run(_with(_connector(sector, fields=fields), read))
    assert "cannot be reached" not in str(raised.value)
    assert raised.value.reason == "protocol"


def _operation(kind: OperationKind, key: str, idempotency: str, **fields: Any) -> SubmitOperation:
    return SubmitOperation(kind, key, idempotency, fields)


def test_values_the_database_refuses_fail_alone_and_idempotency_keys_keep_their_case(sector: str) -> None:
    """In one batch: an update too long for its column is refused for good and the others are applied; an
    update that changes nothing is applied (rows matched, not rows changed); two idempotency keys that differ by
    case are two deliveries."""
    first, second, third = _ids(sector, 3, offset=10)
    connector = _connector(sector, writes={"ledger_table": f"so_cai_{uuid.uuid4().hex[:6]}"}, timeout_seconds=10)
    same_status = _run(sector, f"SELECT tinh_trang_hon_nhan FROM cong_dan WHERE so_dinh_danh = '{second}'")[0][0]
    status = {1: "single", 2: "married", 3: "divorced", 4: "widowed"}.get(same_status, "single")

    async def deliver(connector: PopulationConnector) -> list[Any]:
        return await connector.submit_many(
            [
                _operation(OperationKind.UPDATE, first, "Key-1", household_id="9" * 40),
                _operation(OperationKind.UPDATE, second, "key-1", marital_status=status),
                _operation(OperationKind.UPDATE, third, "KEY-1", household_id="HK068000999"),
            ]
        )

    outcomes = asyncio.run(_with(connector, deliver))
    assert isinstance(outcomes[0], SubmissionRejected)
    assert [o.status for o in outcomes[1:]] == [SubmitStatus.APPLIED, SubmitStatus.APPLIED]
    assert _run(sector, f"SELECT ma_ho FROM cong_dan WHERE so_dinh_danh = '{third}'") == [("HK068000999",)]


def test_a_read_only_database_refusing_a_delivery_says_so(sector: str) -> None:
    """A session the server keeps read only (a replica's account, ``SET SESSION TRANSACTION READ ONLY``): worth
    retrying, and said so, not taken for values refused or a database down."""
    url = make_url(sector).update_query_dict({"init_command": "SET SESSION TRANSACTION READ ONLY"})
    connector = _connector(
        url.render_as_string(hide_password=False), writes={"create_ledger": False}, timeout_seconds=5
    )
    (key,) = _ids(sector, 1, offset=15)

    async def deliver(connector: PopulationConnector) -> None:
        await connector.submit(_operation(OperationKind.DELETE, key, "k-read-only"))

    _run(
        sector,
        "CREATE TABLE IF NOT EXISTS gateway_applied_operations (idempotency_key VARCHAR(200) PRIMARY KEY, "
        "record_id VARCHAR(200) NOT NULL, kind VARCHAR(8) NOT NULL, applied_at VARCHAR(40) NOT NULL)",
    )
    with pytest.raises(UpstreamError, match="accepts no writes") as raised:
        asyncio.run(_with(connector, deliver))
    assert not isinstance(raised.value, SubmissionRejected)
    assert _ids(sector, 1, offset=15) == [key]


def test_an_instant_is_written_as_the_wall_time_of_the_zone_of_naive_timestamps(sector: str) -> None:
    """``DATETIME`` keeps no zone: a database keeping Vietnam's local time there (``naive_datetime_timezone``) is
    written the local wall time of an instant, and reads it back as the same instant."""
    (key,) = _ids(sector, 1, offset=20)
    connector = _connector(
        sector,
        naive_datetime_timezone="Asia/Ho_Chi_Minh",
        writes={"ledger_table": f"so_cai_{uuid.uuid4().hex[:6]}"},
        timeout_seconds=10,
    )

    async def deliver_and_read(connector: PopulationConnector) -> Any:
        update = _operation(OperationKind.UPDATE, key, "k-local-time", last_updated="2025-10-01T08:30:00+07:00")
        await connector.submit(update)
        return await connector.get(key)

    record = asyncio.run(_with(connector, deliver_and_read))
    assert record.last_updated == datetime(2025, 10, 1, 1, 30, tzinfo=UTC)
    stored = _run(sector, f"SELECT CAST(ngay_cap_nhat AS CHAR) FROM cong_dan WHERE so_dinh_danh = '{key}'")
    assert stored == [("2025-10-01 08:30:00",)]


def test_text_that_looks_like_an_instant_is_written_as_it_is(sector: str) -> None:
    """Only the contract's timestamps are turned into wall times: an address line that reads like an ISO instant
    is text, written to its ``VARCHAR`` as given."""
    (key,) = _ids(sector, 1, offset=21)
    connector = _connector(sector, writes={"ledger_table": f"so_cai_{uuid.uuid4().hex[:6]}"}, timeout_seconds=10)
    line = "2025-10-01T08:30:00+07:00"

    async def deliver(connector: PopulationConnector) -> None:
        address = (await connector.get(key)).model_dump(mode="json")["permanent_address"]
        await connector.submit(
            _operation(OperationKind.UPDATE, key, "k-line", permanent_address={**address, "line": line})
        )

    asyncio.run(_with(connector, deliver))
    assert _run(sector, f"SELECT thuong_tru_chi_tiet FROM cong_dan WHERE so_dinh_danh = '{key}'") == [(line,)]


def test_samples_are_random_rows(sector: str) -> None:
    rows = asyncio.run(_with(_connector(sector), lambda c: c.sample(5)))
    assert len(rows) == 5
    assert len({r["personal_id"] for r in rows}) == 5
