"""Per-client rate limits through the real HTTP gateway: in memory (one process, its own budget) and in Redis
(two gateways sharing one budget), with their 429 problems and RateLimit headers.

Each gateway is a uvicorn server on 127.0.0.1; Redis is the local server (a unique key prefix per run, removed at
the end). Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import astuple, dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from prometheus_client.parser import text_string_to_metric_families
from support import (
    STATED,
    ClientCredentials,
    LiveServer,
    PlantedSearch,
    fetch_token,
    free_port,
    need_service,
    port_open,
)

from gateway.core.db import standalone_session
from gateway.core.settings import PRODUCTION_RATE_LIMITS, Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.ratelimits import DAY, limit_item, storage_uri

RECORDS = "/v1/databases/population/records"
PROBLEM = "application/problem+json"
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy")

# Gateways whose clients are unlimited unless they have limits of their own.
UNLIMITED = {"rate_limit_per_second": 0, "rate_limit_per_day": 0}


@dataclass
class Gateway:
    url: str
    record: str  # the path of an existing record

    @contextmanager
    def client(self, credentials: ClientCredentials) -> Iterator[httpx.Client]:
        """An HTTP client of the gateway holding a token of ``credentials``."""
        with httpx.Client(base_url=self.url, timeout=30) as http:
            token = fetch_token(http, credentials)
            http.headers.update({"Authorization": f"Bearer {token}", **STATED})
            yield http


@pytest.fixture(scope="module")
def new_client(gateway_database_url: str) -> Callable[..., ClientCredentials]:
    """A new client allowed to read the population database, with its own limits (None: the defaults)."""

    def make(*, per_second: int | None = None, per_day: int | None = None) -> ClientCredentials:
        async def run() -> ClientCredentials:
            async with standalone_session(gateway_database_url) as session:
                client, secret = await create_client(
                    session,
                    name="Rate-limited client",
                    scopes=("population:read",),
                    client_id=f"rl-{uuid.uuid4().hex[:12]}",
                    rate_limit_per_second=per_second,
                    rate_limit_per_day=per_day,
                )
                return ClientCredentials(client.client_id, secret)

        return asyncio.run(run())

    return make


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    """A key prefix of this run in the local Redis; every key under it is deleted at the end."""
    parts = urlsplit(REDIS_URL)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        need_service(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"gwtest-{uuid.uuid4().hex[:12]}"
    yield prefix
    asyncio.run(RedisStorage(storage_uri(REDIS_URL), key_prefix=prefix).reset())


@pytest.fixture(scope="module")
def serve(make_settings: Callable[..., Settings], planted: PlantedSearch) -> Iterator[Callable[..., Gateway]]:
    """Start gateways with the given settings (stopped at the end of the module)."""
    with ExitStack() as stack:

        def start(**overrides: object) -> Gateway:
            live = stack.enter_context(LiveServer(create_app(make_settings(**overrides))))
            return Gateway(live.url, f"{RECORDS}/{planted.personal_ids[0]}")

        yield start


@pytest.fixture(scope="module")
def memory_gateway(serve: Callable[..., Gateway]) -> Gateway:
    return serve(**UNLIMITED)


@pytest.fixture(scope="module")
def redis_gateways(serve: Callable[..., Gateway], redis_prefix: str) -> tuple[Gateway, Gateway]:
    """Two gateways, each with its own process state, counting in the same Redis. Their Redis replies may take
    seconds: these tests count what Redis admits (a reply timed out on a loaded machine, after its script has
    counted the request, answers 503 and the count comes out one short); timeouts are tested below."""
    settings = {
        "redis_url": REDIS_URL,
        "rate_limit_key_prefix": redis_prefix,
        "redis_timeout_seconds": 10,
        **UNLIMITED,
    }
    return serve(**settings), serve(**settings)


def refused_total(url: str, client_id: str) -> float:
    """gateway_rate_limited_total{client=...} (one registry per test process, shared by its gateways)."""
    return _metric(url, "gateway_rate_limited", {"client": client_id})


def _metric(url: str, family_name: str, labels: dict[str, str]) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        if family.name == family_name:
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels == labels:
                    return sample.value
    return 0.0


def assert_rate_limited(response: httpx.Response) -> int:
    """A 429 rate-limited problem with its headers; returns Retry-After."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "/problems/rate-limited"
    assert body["status"] == 429
    assert response.headers["x-request-id"]
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["ratelimit-reset"] == str(retry_after)
    return retry_after


async def _burst(urls: list[str], headers: list[dict[str, str]], path: str) -> tuple[list[httpx.Response], float]:
    """Send one request to each URL at once; the responses in order and how long the burst took."""
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(http.get(f"{url}{path}", headers=h) for url, h in zip(urls, headers, strict=True))
        )
        return list(responses), time.monotonic() - started


def _early_in_a_second() -> None:
    """Wait for the start of a wall-clock second: in memory, windows are aligned on the clock."""
    fraction = time.time() % 1
    if fraction > 0.2:
        time.sleep(1.01 - fraction)


# -- in memory -------------------------------------------------------------------------------------------------


def test_in_memory_a_client_gets_its_per_second_limit(
    memory_gateway: Gateway, new_client: Callable[..., ClientCredentials]
) -> None:
    for _attempt in range(3):
        credentials = new_client(per_second=5)
        with memory_gateway.client(credentials) as http:
            before = refused_total(memory_gateway.url, credentials.client_id)
            _early_in_a_second()
            started = time.time()
            responses = [http.get(memory_gateway.record) for _ in range(8)]
            if math.floor(time.time()) != math.floor(started):
                continue  # the burst crossed a window; the count is exact within one
            assert [r.status_code for r in responses] == [200] * 5 + [429] * 3, [r.text for r in responses]
            assert [r.headers["ratelimit-remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]
            for response in responses:
                assert response.headers["ratelimit-limit"] == "5"
                assert response.headers["ratelimit-policy"] == "5;w=1"
                assert response.headers["ratelimit-reset"] == "1"
            for response in responses[5:]:
                assert assert_rate_limited(response) == 1
            assert refused_total(memory_gateway.url, credentials.client_id) == before + 3
            # Retry-After holds its promise
            time.sleep(1.05)
            assert http.get(memory_gateway.record).status_code == 200
            return
    pytest.fail("three bursts of 8 requests each crossed a second: the machine is too slow for this test")


def test_in_memory_the_day_budget_belongs_to_each_process(
    serve: Callable[..., Gateway], new_client: Callable[..., ClientCredentials]
) -> None:
    first, second = serve(**UNLIMITED), serve(**UNLIMITED)
    credentials = new_client(per_day=3)
    with first.client(credentials) as a, second.client(credentials) as b:
        answers = [a.get(first.record) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
        assert all(r.headers["ratelimit-policy"] == "3;w=86400" for r in answers)
        to_midnight = DAY - time.time() % DAY  # in memory, days are UTC days
        assert abs(assert_rate_limited(answers[3]) - to_midnight) <= 2
        # the other process counts on its own
        assert [b.get(second.record).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_headers_describe_the_window_closest_to_refusing(
    memory_gateway: Gateway, new_client: Callable[..., ClientCredentials]
) -> None:
    with memory_gateway.client(new_client(per_second=50, per_day=1000)) as http:
        response = http.get(memory_gateway.record)
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == "50;w=1, 1000;w=86400"
        assert (response.headers["ratelimit-limit"], response.headers["ratelimit-remaining"]) == ("50", "49")
        assert response.headers["ratelimit-reset"] == "1"
        assert "retry-after" not in response.headers
    with memory_gateway.client(new_client(per_second=50, per_day=3)) as http:
        response = http.get(memory_gateway.record)
        assert (response.headers["ratelimit-limit"], response.headers["ratelimit-remaining"]) == ("3", "2")
        assert abs(int(response.headers["ratelimit-reset"]) - (DAY - time.time() % DAY)) <= 2
        # every answer after authentication carries them, errors too
        missing = http.get(f"{RECORDS}/001099000001")
        assert missing.status_code == 404
        assert missing.headers["ratelimit-remaining"] == "1"


def test_the_gateway_defaults_apply_to_a_client_without_limits(
    serve: Callable[..., Gateway], new_client: Callable[..., ClientCredentials]
) -> None:
    gateway = serve(rate_limit_per_second=0, rate_limit_per_day=2)
    with gateway.client(new_client()) as http:
        answers = [http.get(gateway.record) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert answers[0].headers["ratelimit-policy"] == "2;w=86400"
    # its own limit wins over the default
    with gateway.client(new_client(per_day=4)) as http:
        assert [http.get(gateway.record).status_code for _ in range(5)] == [200] * 4 + [429]


def test_default_limits_bind_in_production_and_not_in_development(make_settings: Callable[..., Settings]) -> None:
    production = make_settings(environment="production")
    assert (production.rate_limit_per_second, production.rate_limit_per_day) == PRODUCTION_RATE_LIMITS
    assert min(PRODUCTION_RATE_LIMITS) > 0
    development = make_settings()
    assert (development.rate_limit_per_second, development.rate_limit_per_day) == (0, 0)
    chosen = make_settings(environment="production", rate_limit_per_second=0)
    assert (chosen.rate_limit_per_second, chosen.rate_limit_per_day) == (0, PRODUCTION_RATE_LIMITS[1])


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/0", "127.0.0.1:6379", "memcached://127.0.0.1:11211"])
def test_a_redis_url_that_is_not_redis_stops_the_start(make_settings: Callable[..., Settings], url: str) -> None:
    with pytest.raises(ValueError, match="GATEWAY_REDIS_URL"):
        create_app(make_settings(redis_url=url))


def test_an_unlimited_client_gets_no_headers(
    memory_gateway: Gateway, new_client: Callable[..., ClientCredentials]
) -> None:
    with memory_gateway.client(new_client()) as http:
        for _ in range(3):
            response = http.get(memory_gateway.record)
            assert response.status_code == 200
            assert not any(name in response.headers for name in RATE_HEADERS)


def test_unauthenticated_requests_are_not_counted(
    memory_gateway: Gateway, new_client: Callable[..., ClientCredentials]
) -> None:
    credentials = new_client(per_day=2)
    with memory_gateway.client(credentials) as http:
        token = http.headers["Authorization"]
        for _ in range(4):
            refused = http.get(memory_gateway.record, headers={"Authorization": token[:-4] + "AAAA"})
            assert refused.status_code == 401
            assert "ratelimit-remaining" not in refused.headers
        assert [http.get(memory_gateway.record).status_code for _ in range(3)] == [200, 200, 429]


# -- Redis -----------------------------------------------------------------------------------------------------


def test_two_gateways_share_one_per_second_budget_in_redis(
    redis_gateways: tuple[Gateway, Gateway], new_client: Callable[..., ClientCredentials]
) -> None:
    first, second = redis_gateways
    for _attempt in range(3):
        credentials = new_client(per_second=8)
        with first.client(credentials) as a, second.client(credentials) as b:
            urls = [first.url, second.url] * 12
            headers = [dict(a.headers), dict(b.headers)] * 12
            responses, took = asyncio.run(_burst(urls, headers, first.record))
            if took >= 0.9:
                continue  # the count is exact only within one window
            statuses = [r.status_code for r in responses]
            shown = " ".join(map(str, statuses))
            assert statuses.count(200) == 8, shown
            assert statuses.count(429) == 16, shown
            # a shared budget: each gateway alone would have admitted 8 of its 12
            assert statuses[0::2].count(429) >= 4 and statuses[1::2].count(429) >= 4
            for response in responses:
                assert response.headers["ratelimit-policy"] == "8;w=1"
                if response.status_code == 429:
                    assert assert_rate_limited(response) == 1
            assert refused_total(first.url, credentials.client_id) == 16
            time.sleep(1.05)
            assert b.get(second.record).status_code == 200
            return
    pytest.fail("three bursts of 24 requests each took most of a second: the machine is too slow for this test")


def test_two_gateways_share_one_day_budget_in_redis(
    redis_gateways: tuple[Gateway, Gateway], new_client: Callable[..., ClientCredentials], redis_prefix: str
) -> None:
    first, second = redis_gateways
    credentials = new_client(per_day=6)
    with first.client(credentials) as a, second.client(credentials) as b:
        answers = []
        for i in range(8):
            http, gateway = (a, first) if i % 2 == 0 else (b, second)
            answers.append(http.get(gateway.record))
        assert [r.status_code for r in answers] == [200] * 6 + [429] * 2
        assert [r.headers["ratelimit-remaining"] for r in answers[:6]] == ["5", "4", "3", "2", "1", "0"]
        for response in answers:
            assert response.headers["ratelimit-limit"] == "6"
            assert response.headers["ratelimit-policy"] == "6;w=86400"
        for response in answers[6:]:
            assert DAY - 120 < assert_rate_limited(response) <= DAY
    # The counters are the library's own: its limiter reads them.
    storage = RedisStorage(storage_uri(REDIS_URL), key_prefix=redis_prefix)
    stats = asyncio.run(
        SlidingWindowCounterRateLimiter(storage).get_window_stats(limit_item(6, DAY), credentials.client_id)
    )
    assert stats.remaining == 0


def test_a_refused_request_counts_in_no_window(
    redis_gateways: tuple[Gateway, Gateway], new_client: Callable[..., ClientCredentials], redis_prefix: str
) -> None:
    first, _ = redis_gateways
    credentials = new_client(per_second=2, per_day=50)
    with first.client(credentials) as http:
        statuses = [http.get(first.record).status_code for _ in range(6)]
    assert statuses.count(200) in (2, 3, 4), statuses  # 2 per second, and the burst may span a second
    storage = RedisStorage(storage_uri(REDIS_URL), key_prefix=redis_prefix)
    stats = asyncio.run(
        SlidingWindowCounterRateLimiter(storage).get_window_stats(limit_item(50, DAY), credentials.client_id)
    )
    assert stats.remaining == 50 - statuses.count(200)


async def _monitor(redis: str, stop: asyncio.Event) -> list[str]:
    """The commands Redis runs until ``stop`` is set (MONITOR)."""
    parts = urlsplit(redis)
    reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 6379)
    lines: list[str] = []
    try:
        writer.write(b"MONITOR\r\n")
        await writer.drain()
        assert await reader.readline() == b"+OK\r\n"
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=0.2)
            except TimeoutError:
                continue
            lines.append(line.decode(errors="replace"))
    finally:
        writer.close()
    return lines


@pytest.mark.anyio
async def test_one_redis_round_trip_per_request(
    redis_gateways: tuple[Gateway, Gateway], new_client: Callable[..., ClientCredentials], redis_prefix: str
) -> None:
    first, _ = redis_gateways
    credentials = await asyncio.to_thread(new_client, per_second=1000, per_day=100_000)
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
        token = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=astuple(credentials))
        headers = {"Authorization": f"Bearer {token.json()['access_token']}", **STATED}
    async with httpx.AsyncClient(base_url=first.url, headers=headers, timeout=30) as http:
        assert (await http.get(first.record)).status_code == 200  # connects and loads the script
        stop = asyncio.Event()
        monitor = asyncio.create_task(_monitor(REDIS_URL, stop))
        await asyncio.sleep(0.3)
        for _ in range(5):
            response = await http.get(first.record)
            assert response.status_code == 200
            assert response.headers["ratelimit-policy"] == "1000;w=1, 100000;w=86400"
        await asyncio.sleep(0.3)
        stop.set()
        lines = await monitor
    # (commands run inside the script show too, from "lua": only the gateway's own commands count)
    ours = [
        line for line in lines if f"{redis_prefix}:{{client/{credentials.client_id}/" in line and "lua]" not in line
    ]
    assert len(ours) == 5, lines
    assert all('"EVALSHA"' in line.upper() for line in ours), ours
    # nothing else from the gateway's connections: one command, one round trip, per request
    addresses = {line.split("[", 1)[1].split("]", 1)[0] for line in ours}
    assert len([line for line in lines if any(f"[{address}]" in line for address in addresses)]) == 5


# -- Redis cannot be reached -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def closed_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def fail_closed_gateway(serve: Callable[..., Gateway], closed_redis: str) -> Gateway:
    """A gateway whose Redis is down, with the default failure mode (started before the test, so that the test
    captures its logs)."""
    return serve(redis_url=closed_redis, **UNLIMITED)


def test_unreachable_redis_fails_closed_by_default(
    fail_closed_gateway: Gateway,
    new_client: Callable[..., ClientCredentials],
    closed_redis: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert Settings.model_fields["rate_limit_fail_open"].default is False
    gateway = fail_closed_gateway
    credentials = new_client(per_second=10)
    before = _metric(gateway.url, "gateway_rate_limit_store_errors", {})
    with caplog.at_level(logging.ERROR), gateway.client(credentials) as http:
        for _ in range(3):
            response = http.get(gateway.record)
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["type"] == "/problems/rate-limit-unavailable"
            assert int(response.headers["retry-after"]) > 0
            assert closed_redis.rsplit(":", 1)[1].split("/", maxsplit=1)[0] not in response.text
        # what is not counted per client still works
        assert http.get("/healthz").status_code == 200
        assert fetch_token(http, credentials)
    assert _metric(gateway.url, "gateway_rate_limit_store_errors", {}) == before + 3
    logged = [r for r in caplog.records if "rate-limit store unreachable" in str(r.msg)]
    assert len(logged) == 1  # once per outage, not per request


def test_unreachable_redis_fails_open_when_configured(
    serve: Callable[..., Gateway], new_client: Callable[..., ClientCredentials], closed_redis: str
) -> None:
    gateway = serve(redis_url=closed_redis, rate_limit_fail_open=True, **UNLIMITED)
    with gateway.client(new_client(per_second=1, per_day=1)) as http:
        for _ in range(3):
            response = http.get(gateway.record)
            assert response.status_code == 200, response.text
            assert "ratelimit-remaining" not in response.headers


def test_an_unlimited_client_never_calls_redis(
    serve: Callable[..., Gateway], new_client: Callable[..., ClientCredentials], closed_redis: str
) -> None:
    """Fail-closed and Redis down, yet served: no Redis call is made for a client without limits."""
    gateway = serve(redis_url=closed_redis, **UNLIMITED)
    with gateway.client(new_client()) as http:
        assert [http.get(gateway.record).status_code for _ in range(3)] == [200] * 3


def test_readyz_is_not_ready_while_the_redis_of_a_limiter_failing_closed_is_unreachable(
    serve: Callable[..., Gateway], closed_redis: str, redis_prefix: str
) -> None:
    closed = serve(redis_url=closed_redis, **UNLIMITED)
    answer = httpx.get(f"{closed.url}/readyz", timeout=10)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["type"] == "/problems/not-ready"
    assert re.fullmatch(r"unreachable \(\w*Error\)", body["checks"]["redis"]), body["checks"]  # what failed
    assert body["checks"]["database"] == "ok"
    assert "redis" in body["detail"]
    assert closed_redis.rsplit(":", 1)[1].split("/", maxsplit=1)[0] not in answer.text
    failing_open = serve(redis_url=closed_redis, rate_limit_fail_open=True, **UNLIMITED)
    ready = httpx.get(f"{failing_open.url}/readyz", timeout=10)
    assert ready.status_code == 200 and "redis" not in ready.json()["checks"]
    reachable = serve(redis_url=REDIS_URL, rate_limit_key_prefix=redis_prefix, **UNLIMITED)
    ready = httpx.get(f"{reachable.url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "ok"
