"""Sampling REST and SOAP sector systems for data-quality scans, against the simulated systems of the demo served on
127.0.0.1: the preset's listing is read at random, whole when asked for more than it holds, never more than
``max_records``, and never faster than ``requests_per_second`` as the simulator measures it."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Capability, Connector
from connectors.conversions import compile_conversions
from connectors.discovery import discover_connectors
from connectors.errors import ConnectorConfigError, UpstreamError
from connectors.fields import ConversionFailed
from connectors.record_mapping import RecordMapping
from connectors.rest import RestConnector
from connectors.sampling import Pacer, SamplePolicy, raw_data, sample_pages
from contracts.dates import vietnam_today
from simulators.sectors import SectorContext, load_sector_system

CITIZENS = 800
# database -> the listing's path as the simulator sees it (the SOAP service has one path for every operation).
LISTINGS = {
    "business": "/api/dong-bo/doanh-nghiep",
    "tax": "/api/v1/danh-sach-nguoi-nop-thue",
    "social_insurance": "/api/bhxh/v2/danh-sach/nguoi-tham-gia",
    "health_insurance": "/api/bhyt/v2/danh-sach/the",
    "driving_licences": "/api/gplx/v1/danh-sach",
    "judicial_records": "/lltp/DichVuLyLichTuPhap",
}


@dataclass
class Started:
    context: SectorContext
    configs: dict[str, dict[str, Any]]

    def connector(self, database: str, **sample: Any) -> Connector[Any]:
        system = load_sector_system(database)
        config = dict(self.configs[database])
        if sample:
            preset = discover_connectors(only={system.connector}).connectors[system.connector]
            default = preset.config_model.model_validate(config).model_dump(mode="json")["sample"]
            config["sample"] = {**default, **sample}
        cls = discover_connectors(only={system.connector}).connectors[system.connector]
        return cls.from_config(config)

    def requests(self, database: str) -> list[float]:
        received = self.context.servers[database].api.middleware.received.requests()
        # The SOAP service's WSDL is fetched (GET) from the path its operations are posted to.
        method = "POST" if database == "judicial_records" else "GET"
        return [r.at for r in received if r.path == LISTINGS[database] and r.method == method]

    def clear(self, database: str) -> None:
        self.context.servers[database].api.middleware.received.clear()


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    with ExitStack() as stack:
        context = SectorContext(
            data_dir=Path(tmp_path_factory.mktemp("sampling")), citizens=CITIZENS, today=vietnam_today(), stack=stack
        )

        async def start() -> dict[str, dict[str, Any]]:
            return {database: await load_sector_system(database).start(context) for database in LISTINGS}

        yield Started(context, asyncio.run(start()))


@pytest.mark.anyio
@pytest.mark.parametrize("database", sorted(LISTINGS))
async def test_a_sample_is_random_raw_and_whole_when_asked_for_more(started: Started, database: str) -> None:
    async with started.connector(database, requests_per_second=200) as connector:
        key = connector.contract.record_key
        everything = await connector.sample(100_000)
        keys = [record[key] for record in everything]
        assert len(keys) == len(set(keys)) > 12
        first = await connector.sample(10)
        second = await connector.sample(10)
    assert len(first) == len(second) == 10
    assert {r[key] for r in first} <= set(keys)
    assert [r[key] for r in first] != [r[key] for r in second]
    # Raw contract data: contract field names, not the sector system's.
    assert all(set(record) <= set(connector.contract.model_fields) for record in everything)


@pytest.mark.anyio
@pytest.mark.parametrize("database", ["business", "judicial_records"])
async def test_a_sample_is_bounded(started: Started, database: str) -> None:
    started.clear(database)
    async with started.connector(database, requests_per_second=200, page_size=5, max_records=12) as connector:
        sample = await connector.sample(100_000)
    assert len(sample) == 12
    # The first page (for the count), then the pages drawn to hold 12 records, and one spare: 1 + 3 + 1.
    assert len(started.requests(database)) <= 1 + 3 + 1


@pytest.mark.anyio
@pytest.mark.parametrize("database", ["social_insurance", "judicial_records"])
async def test_a_scan_respects_the_rate_limit_measured_at_the_sector_system(started: Started, database: str) -> None:
    rate = 8.0
    started.clear(database)
    async with started.connector(database, requests_per_second=rate, page_size=2) as connector:
        await connector.sample(30)
        await connector.sample(10)  # the second sample shares the limit with the first
    arrivals = started.requests(database)
    assert len(arrivals) >= 20
    measured = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert measured <= rate * 1.05, measured
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1 / rate, min(gaps)


@pytest.mark.anyio
async def test_the_pacer_spaces_concurrent_callers_one_at_a_time() -> None:
    pacer = Pacer(50)
    spans: list[tuple[float, float]] = []

    async def call() -> None:
        async with pacer.slot():
            started = time.monotonic()
            await asyncio.sleep(0.005)
            spans.append((started, time.monotonic()))

    await asyncio.gather(*(call() for _ in range(11)))
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert started - ended >= 1 / 50 * 0.95


@pytest.mark.anyio
async def test_without_a_total_pages_are_read_in_order_up_to_the_bound() -> None:
    rows = list(range(230))
    asked: list[tuple[int, int]] = []

    async def fetch(index: int, size: int) -> tuple[list[int], int | None]:
        asked.append((index, size))
        return rows[index * size : (index + 1) * size], None

    policy = SamplePolicy(page_size=50, max_records=120, requests_per_second=1000)
    found = await sample_pages(fetch, 1000, policy, Pacer(1000))
    assert asked == [(0, 50), (1, 50), (2, 50)]
    assert len(found) == 120 and set(found) <= set(rows[:150])
    asked.clear()
    assert len(await sample_pages(fetch, 10, SamplePolicy(page_size=100, requests_per_second=1000), Pacer(1000))) == 10
    assert asked == [(0, 100), (1, 100), (2, 100)]  # the whole listing, 230 records, then 10 of them
    assert await sample_pages(fetch, 0, policy, Pacer(1000)) == []


@pytest.mark.parametrize(
    "listing",
    [
        {"path": "no-slash", "items": "Items"},
        {"path": "/list?page=1", "items": "Items"},
        {"path": "/list", "items": "Items[", "total": "Total"},
        {"path": "/list", "items": "Items", "paging": "cursor"},
        {"path": "/list", "items": "Items", "requests_per_second": 0},
        {"path": "/list", "items": "Items", "max_records": 0},
    ],
)
def test_a_bad_listing_is_refused_with_the_configuration(listing: dict[str, Any]) -> None:
    config = {"base_url": "http://127.0.0.1:9", "contract": "business.enterprise", "get": {"path": "/e/{record_id}"}}
    config |= {"fields": {"enterprise_code": "code"}, "sample": listing}
    with pytest.raises(ConnectorConfigError, match="sample"):
        RestConnector.from_config(config)


@pytest.mark.anyio
async def test_a_listing_whose_total_is_not_a_number_fails_as_the_sector_systems_error(started: Started) -> None:
    async with started.connector("business", total="Data.Items[0].TenTiengViet") as connector:
        with pytest.raises(UpstreamError, match="total is not a number"):
            await connector.sample(10)


def test_a_value_its_conversion_cannot_read_is_left_out_of_the_sampled_record() -> None:
    mapping = RecordMapping(
        {"enterprise_code": "ma", "charter_capital": "von", "registration_date": "ngay"},
        {},
        timestamp_fields=set(),
        naive_timezone="UTC",
        conversions=compile_conversions(
            {"charter_capital": {"type": "number"}, "registration_date": {"type": "date", "format": "dd/mm/yyyy"}}
        ),
    )
    good = {"ma": "5800123458", "von": "1000000", "ngay": "14/05/2012"}
    assert raw_data(mapping.to_data, good) == {
        "enterprise_code": "5800123458",
        "charter_capital": 1000000,
        "registration_date": "2012-05-14",
    }
    with pytest.raises(ConversionFailed):
        mapping.to_data({**good, "von": "một triệu"})
    # The rest of the record, without the unreadable value: the scan sees a record lacking it.
    assert raw_data(mapping.to_data, {**good, "von": "một triệu"}) == {
        "enterprise_code": "5800123458",
        "registration_date": "2012-05-14",
    }


@pytest.mark.anyio
async def test_every_record_has_the_same_chance_to_be_sampled() -> None:
    rows = list(range(1000))

    async def fetch(index: int, size: int) -> tuple[list[int], int | None]:
        return rows[index * size : (index + 1) * size], len(rows)

    policy = SamplePolicy(page_size=10, requests_per_second=1000)
    counts = [0] * len(rows)
    draws = 300
    for seed in range(draws):
        for row in await sample_pages(fetch, 50, policy, Pacer(1000), rng=random.Random(seed)):
            counts[row] += 1
    # Each record is sampled with probability 50 / 1000: the first page (read for the count) no more than the others.
    first_page = sum(counts[:10]) / (10 * draws)
    overall = sum(counts) / (len(rows) * draws)
    assert overall == pytest.approx(0.05)
    assert abs(first_page - 0.05) < 0.02, first_page


@pytest.mark.parametrize("database", ["driving_licences", "judicial_records"])
def test_a_connection_without_a_listing_does_not_offer_samples(started: Started, database: str) -> None:
    """REST (driving licences) and SOAP (judicial records): with ``sample`` set to null the connector does not offer
    samples, so that the scans skip it and the metrics say it cannot be scanned."""
    system = load_sector_system(database)
    cls = discover_connectors(only={system.connector}).connectors[system.connector]
    assert cls.from_config(dict(started.configs[database])).offers(Capability.SAMPLE)
    assert not cls.from_config(started.configs[database] | {"sample": None}).offers(Capability.SAMPLE)
