"""The REST connector against the simulated population API over real sockets: the records it serves, not-found
semantics, records that violate the contract, and every misbehaviour (slow, 5xx, 429, malformed, reset, hang)
with its retries and deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support import garbage_in_cycles

from connectors.base import ContractViolation, RecordNotFound, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from connectors.population import PopulationConnector
from connectors.rest import RestConnector
from contracts.population import Citizen, CitizenQuery
from simulators.population_api import ApiServer, Misbehaviour, PopulationApi, rest_connector_config

pytestmark = pytest.mark.anyio

FAST_RETRIES = {"max_attempts": 3, "backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05}


def rest(server: ApiServer, **options: Any) -> RestConnector:
    options.setdefault("retry", FAST_RETRIES)
    return RestConnector.from_config(rest_connector_config(server.url, **options))


def first_id(sector: Any) -> str:
    return str(sector.rows[0]["so_dinh_danh"])


def assert_quotes_nothing_from_upstream(error: UpstreamError, pid: str) -> None:
    text = str(error) + error.message
    for fragment in (pid, "Lỗi", "html", "ma_loi", "127.0.0.1"):
        assert fragment not in text, fragment


# -- the records served ----------------------------------------------------------------------------------------


async def test_every_row_is_the_same_record_as_through_the_sql_connector(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    ids = [row["so_dinh_danh"] for row in population_sector.rows]
    async with rest(api_server) as via_rest, PopulationConnector.from_config({"url": population_sector.url}) as via_sql:
        for start in range(0, len(ids), 150):
            batch = ids[start : start + 150]
            from_rest = await asyncio.gather(*(via_rest.get(pid) for pid in batch))
            from_sql = await asyncio.gather(*(via_sql.get(pid) for pid in batch))
            for pid, a, b in zip(batch, from_rest, from_sql, strict=True):
                assert isinstance(a, Citizen)
                assert a == b, pid
                assert a.model_dump(mode="json") == b.model_dump(mode="json"), pid
    assert api.count("citizen") == len(ids)


async def test_the_api_really_speaks_its_own_dialect(population_sector: Any, api: PopulationApi) -> None:
    """Guards the test above: the API's JSON differs from the contract, so the mapping did real work."""
    row = next(r for r in population_sector.rows if len(r["ngay_sinh"]) == 4 and r["gioi_tinh"] == 2)
    from simulators.population_api.records import to_api

    published = to_api(row)
    assert published["gioi_tinh"] == "NU"
    assert published["ngay_sinh"] == f"00/00/{row['ngay_sinh']}"
    assert published["tinh_trang_hon_nhan"] in {"CHUA_KET_HON", "DA_KET_HON", "LY_HON", "GOA"}
    assert "full_name" not in published and "ho_va_ten" in published


async def test_unknown_id_is_not_found_without_retries(api: PopulationApi, api_server: ApiServer) -> None:
    async with rest(api_server) as connector:
        with pytest.raises(RecordNotFound) as info:
            await connector.get("068099000000")
    assert "068099000000" not in info.value.message
    assert api.count("requests") == 1


async def test_not_found_told_in_the_body(population_sector: Any) -> None:
    """Some platforms answer 200 with an error code; ``not_found_when`` reads it."""
    api = PopulationApi(population_sector.rows, not_found="body")
    with ApiServer(api) as server:
        async with rest(server, not_found="body") as connector:
            with pytest.raises(RecordNotFound):
                await connector.get("068099000000")
            assert (await connector.get(first_id(population_sector))).record_id() == first_id(population_sector)
        # Without the condition, the empty answer is not passed on as a record.
        async with rest(server, not_found="status") as connector:
            with pytest.raises(ContractViolation):
                await connector.get("068099000000")


@pytest.mark.parametrize("key", ["../trang-thai", "..", ".", "a/b", "068099000000?x=1", ""])
async def test_keys_cannot_reach_other_routes(key: str, api: PopulationApi, api_server: ApiServer) -> None:
    async with rest(api_server) as connector:
        with pytest.raises(RecordNotFound):
            await connector.get(key)
    assert api.count("status") == 0
    assert api.count("requests") <= 1


async def test_an_answer_about_another_record_is_refused(population_sector: Any) -> None:
    asked, other = population_sector.rows[0], population_sector.rows[1]
    api = PopulationApi(population_sector.rows)
    api.index.rows[asked["so_dinh_danh"]] = other  # the sector system answers with the wrong citizen
    with ApiServer(api) as server:
        async with rest(server) as connector:
            with pytest.raises(ContractViolation) as info:
                await connector.get(asked["so_dinh_danh"])
    assert info.value.errors == ["personal_id: not the requested key"]
    assert other["so_dinh_danh"] not in str(info.value.errors) + info.value.message


async def test_records_that_violate_the_contract(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    """A read of a broken record fails; a search page holding broken records is served without them, each one
    reported with its key (the search rules of Connector.search)."""
    api.misbehave(mode="violation")
    pid = first_id(population_sector)
    planted = CitizenQuery(full_name=population_sector.planted_name, date_of_birth=str(population_sector.planted_year))
    async with rest(api_server) as connector:
        with pytest.raises(ContractViolation) as got:
            await connector.get(pid)
        page = await connector.search(planted, limit=5)
    assert page.items == [] and page.skipped, "every record of the answer is broken: none served, all reported"
    for error in (got.value, *page.skipped):
        assert error.reason == "contract_violation"
        assert any(e.startswith("ethnicity:") for e in error.errors), error.errors
        assert "99" not in " ".join(error.errors) and pid not in error.message
    assert got.value.record_id == pid
    assert all(error.record_id for error in page.skipped), "each skipped record is reported with its key"
    assert api.count("requests") == 2  # never retried


# -- misbehaviour, retries and deadlines -----------------------------------------------------------------------


async def test_slow_but_within_the_deadline(population_sector: Any, api: PopulationApi, api_server: ApiServer) -> None:
    api.misbehave(mode="slow", delay_ms=300)
    async with rest(api_server, timeout_seconds=3) as connector:
        started = time.perf_counter()
        record = await connector.get(first_id(population_sector))
    assert record.record_id() == first_id(population_sector)
    assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize(("mode", "options"), [("slow", {"delay_ms": 3000}), ("hang", {})])
async def test_too_slow_is_a_timeout_at_the_deadline(
    population_sector: Any, api: PopulationApi, api_server: ApiServer, mode: str, options: dict[str, Any]
) -> None:
    api.misbehave(mode=mode, **options)
    async with rest(api_server, timeout_seconds=0.5) as connector:
        started = time.perf_counter()
        with pytest.raises(UpstreamTimeout) as info:
            await connector.get(first_id(population_sector))
        elapsed = time.perf_counter() - started
        assert (await connector.check()).ok is False
    assert 0.45 < elapsed < 1.0
    assert info.value.reason == "timeout"
    assert api.count("requests") == 2  # the get and the check: no time was left for another attempt


@pytest.mark.parametrize("mode", ["error", "reset"])
async def test_transient_failures_are_retried(
    population_sector: Any, api: PopulationApi, api_server: ApiServer, mode: str
) -> None:
    api.misbehave(mode=mode, times=2)
    async with rest(api_server) as connector:
        record = await connector.get(first_id(population_sector))
    assert record.record_id() == first_id(population_sector)
    assert api.count("requests") == 3
    assert api.count("citizen") == 1  # only the third attempt reached the route


@pytest.mark.parametrize(
    ("misbehaviour", "error_class", "reason"),
    [
        (Misbehaviour(mode="error", status=500), UpstreamError, "status_5xx"),
        (Misbehaviour(mode="error", status=503), UpstreamUnavailable, "status_5xx"),
        (Misbehaviour(mode="reset"), UpstreamUnavailable, "connect"),
        (Misbehaviour(mode="rate_limit"), UpstreamUnavailable, "rate_limited"),
    ],
)
async def test_persistent_failures_stop_after_the_attempts(
    population_sector: Any,
    api: PopulationApi,
    api_server: ApiServer,
    misbehaviour: Misbehaviour,
    error_class: type[UpstreamError],
    reason: str,
) -> None:
    api.misbehave(misbehaviour)
    pid = first_id(population_sector)
    async with rest(api_server) as connector:
        with pytest.raises(error_class) as info:
            await connector.get(pid)
    assert type(info.value) is error_class
    assert info.value.reason == reason
    if misbehaviour.mode == "reset":
        # aiohttp resends a request once when a reused connection is closed under it (RFC 9112 §9.3.1).
        assert 3 <= api.count("requests") <= 6
    else:
        assert api.count("requests") == 3
    assert_quotes_nothing_from_upstream(info.value, pid)


@pytest.mark.parametrize("misbehaviour", [Misbehaviour(mode="malformed"), Misbehaviour(mode="error", status=501)])
async def test_failures_that_are_not_transient_are_not_retried(
    population_sector: Any, api: PopulationApi, api_server: ApiServer, misbehaviour: Misbehaviour
) -> None:
    api.misbehave(misbehaviour)
    pid = first_id(population_sector)
    async with rest(api_server) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.get(pid)
    assert info.value.reason == ("protocol" if misbehaviour.mode == "malformed" else "status_5xx")
    assert api.count("requests") == 1
    assert_quotes_nothing_from_upstream(info.value, pid)


async def test_retry_after_is_honoured(population_sector: Any, api: PopulationApi, api_server: ApiServer) -> None:
    api.misbehave(mode="rate_limit", retry_after=1, times=1)
    async with rest(api_server, timeout_seconds=3) as connector:
        started = time.perf_counter()
        await connector.get(first_id(population_sector))
    assert time.perf_counter() - started >= 1.0
    assert api.count("requests") == 2


async def test_a_retry_after_beyond_the_deadline_fails_at_once(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    api.misbehave(mode="rate_limit", retry_after=30)
    async with rest(api_server, timeout_seconds=2) as connector:
        started = time.perf_counter()
        with pytest.raises(UpstreamUnavailable):
            await connector.get(first_id(population_sector))
    assert time.perf_counter() - started < 0.5
    assert api.count("requests") == 1


async def test_retries_never_overrun_the_deadline(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    api.misbehave(mode="error", status=502, delay_ms=300)  # every attempt fails after 0.3 s
    slow_retries = {"max_attempts": 10, "backoff_base_seconds": 0.3, "backoff_max_seconds": 0.3}
    async with rest(api_server, timeout_seconds=1.0, retry=slow_retries) as connector:
        started = time.perf_counter()
        with pytest.raises(UpstreamError) as info:
            await connector.get(first_id(population_sector))
    assert time.perf_counter() - started < 1.15
    assert info.value.reason in {"status_5xx", "timeout"}
    assert 2 <= api.count("requests") <= 4  # the deadline, not the ten attempts allowed, stopped the retries


async def test_one_attempt_when_retries_are_off(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    api.misbehave(mode="error", status=502)
    async with rest(api_server, retry={"max_attempts": 1}) as connector:
        with pytest.raises(UpstreamError):
            await connector.get(first_id(population_sector))
    assert api.count("requests") == 1


async def test_posted_searches_are_never_retried(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    planted = CitizenQuery(full_name=population_sector.planted_name, date_of_birth=str(population_sector.planted_year))
    async with rest(api_server, pagination="post") as posted, rest(api_server, pagination="page") as got:
        api.misbehave(mode="error", status=503, times=1)
        with pytest.raises(UpstreamUnavailable):
            await posted.search(planted, limit=5)
        assert api.count("requests") == 1
        api.misbehave(mode="error", status=503, times=1)
        page = await got.search(planted, limit=5)
    assert [item.record_id() for item in page.items] == list(population_sector.planted_ids[:5])
    assert api.count("requests") == 3


async def test_many_concurrent_calls_share_one_pool(population_sector: Any) -> None:
    api = PopulationApi(population_sector.rows, misbehaviour=Misbehaviour(mode="slow", delay_ms=100))
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:60]]
    with ApiServer(api) as server:
        async with rest(server, max_connections=8, timeout_seconds=5) as connector:
            started = time.perf_counter()
            records = await asyncio.gather(*(connector.get(pid) for pid in ids))
            elapsed = time.perf_counter() - started
            open_connections = len(server.server.server_state.connections)
    assert [r.record_id() for r in records] == ids
    assert open_connections <= 8  # never more than the pool's size...
    assert elapsed >= 60 / 8 * 0.1 * 0.9  # ...so 60 calls of 0.1 s took at least 7.5 rounds


async def test_an_unreachable_api(api: PopulationApi) -> None:
    from support import free_port

    config = rest_connector_config(f"http://127.0.0.1:{free_port()}", retry=FAST_RETRIES, timeout_seconds=2)
    async with RestConnector.from_config(config) as connector:
        started = time.perf_counter()
        with pytest.raises(UpstreamUnavailable) as info:
            await connector.get("068185000123")
        assert (await connector.check()).ok is False
    assert time.perf_counter() - started < 2
    assert info.value.reason == "connect"
    assert "068185000123" not in info.value.message


@pytest.fixture
def quiet_api(population_sector: Any) -> Iterator[ApiServer]:
    with ApiServer(PopulationApi(population_sector.rows)) as server:
        yield server


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_both_transports_serve_the_same_records(
    population_sector: Any, quiet_api: ApiServer, transport: str
) -> None:
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:40]]
    async with (
        rest(quiet_api, http_transport=transport, timeout_seconds=1) as connector,
        PopulationConnector.from_config({"url": population_sector.url}) as sql,
    ):
        got = await asyncio.gather(*(connector.get(pid) for pid in ids))
        expected = [await sql.get(pid) for pid in ids]
        quiet_api.api.misbehave(mode="reset", times=1)
        assert (await connector.get(ids[0])) == expected[0]  # a reset is retried on either transport
        quiet_api.api.misbehave(mode="hang")
        with pytest.raises(UpstreamTimeout):
            await connector.get(ids[0])
    assert got == expected


CLIENT_MODULES = ("httpx", "httpcore", "aiohttp", "yarl", "multidict", "jmespath", "connectors")


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_reads_leave_nothing_of_the_client_in_reference_cycles(
    population_sector: Any, quiet_api: ApiServer, transport: str
) -> None:
    """Every read's objects are freed when it ends, by reference counting: none is left for the cyclic garbage
    collector (whose passes walk the requests in flight). The simulated API runs in this process: only the
    client's side is counted."""
    ids = [row["so_dinh_danh"] for row in population_sector.rows[:20]]
    async with rest(quiet_api, http_transport=transport, timeout_seconds=5) as connector:
        for pid in ids:
            await connector.get(pid)
        with garbage_in_cycles(*CLIENT_MODULES) as left:
            for pid in ids * 2:
                await connector.get(pid)
    assert left == []
