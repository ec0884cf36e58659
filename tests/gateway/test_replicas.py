"""Three ``gateway serve`` processes (replicas, not workers) behind nginx on loopback, in production mode, sharing
one PostgreSQL database, one Redis and one data directory, stay correct together:

* a client's rate limit is one budget, whichever replica nginx hands each request to;
* their audit events form one chain, which ``gateway audit verify`` accepts after concurrent traffic to all three;
* each accepted operation is applied exactly once by the sector system (its ledger of idempotency keys) when a
  replica is killed (SIGKILL) while its delivery transaction is open in the sector database;
* ``gateway keys rotate`` and ``gateway clients suspend`` take effect on every replica within 2 s;
* one replica, the lease holder, runs the axis health checks: one set of checks, not three.

Runs with the PostgreSQL suite (``GATEWAY_TEST_DATABASE_URL``) and needs Redis and nginx (the Debian package; run
as a plain process on a free loopback port). Throughput with 1, 2 and 3 replicas is measured by
``bench/replicas.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import jwt
import orjson
import pytest
import sqlalchemy as sa
from exchange_fixtures import gapless_but_at_starts
from limits.aio.storage import RedisStorage
from prometheus_client.parser import text_string_to_metric_families
from replica_cluster import Cluster, LogLine, Replica, gateway_env, make_client, nginx_binary
from sqlalchemy.engine import make_url
from support import STATED, TEST_PEPPER, empty_databases, need_service, port_open

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import create_engine
from gateway.identity.ratelimits import storage_uri
from simulators.population import seed_population

pytestmark = pytest.mark.postgres

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPLICAS = 3
#: What the issue asks of a rotation and a suspension: in force on every replica within this.
PROPAGATION_SECONDS = 2.0
HEALTH_INTERVAL = 0.25
RECORDS = "/v1/databases/population/records"
SERVICES = "/v1/services"
EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


@dataclass
class Setup:
    cluster: Cluster
    gateway_url: str
    population_url: str
    clients: Iterator[int] = field(default_factory=lambda: iter(range(1_000_000)))

    def client(self, *scopes: str, per_second: int | None = 100_000, per_day: int | None = None) -> tuple[str, str]:
        return make_client(
            self.gateway_url,
            TEST_PEPPER,
            *scopes,
            client_id=f"replicated-{next(self.clients)}",
            per_second=per_second,
            per_day=per_day,
        )


def _redis_reachable() -> None:
    parts = urlsplit(REDIS_URL)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        need_service(f"Redis is not reachable at {REDIS_URL}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if not os.environ.get("GATEWAY_TEST_DATABASE_URL"):
        pytest.skip("runs with the PostgreSQL suite (GATEWAY_TEST_DATABASE_URL): replicas share a PostgreSQL database")
    if nginx_binary() is None:
        need_service("nginx is not installed (the Debian package nginx-light; .ci/run installs it)")
    _redis_reachable()
    directory = tmp_path_factory.mktemp("replicas")
    prefix = f"gwreplicas-{uuid.uuid4().hex[:12]}"  # this run's keys in the shared Redis, deleted at the end
    with empty_databases(directory, "gwreplicas", "popreplicas") as (gateway_url, population_url):
        migrations.upgrade(gateway_url)
        asyncio.run(seed_population(population_url, count=0))
        health = {"interval_seconds": HEALTH_INTERVAL, "jitter": 0}
        connectors = {
            "population": {
                "config": {"url": population_url, "writes": {}, "timeout_seconds": 5},
                "health": health,
            }
        }
        env = gateway_env(
            data_dir=directory / "var",
            database_url=gateway_url,
            population_url=population_url,
            pepper=TEST_PEPPER,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            extra={
                "GATEWAY_CONNECTORS": orjson.dumps(connectors).decode(),
                "GATEWAY_AXIS_LEASE_SECONDS": "2",
                "GATEWAY_EXCHANGE_CLAIM_SECONDS": "3",
                "GATEWAY_EXCHANGE_BACKOFF_SECONDS": "0.2",
                "GATEWAY_EXCHANGE_BACKOFF_MAX_SECONDS": "1",
                "GATEWAY_EXCHANGE_MAX_ATTEMPTS": "1000",
                "GATEWAY_EXCHANGE_POLL_SECONDS": "0.1",
                "GATEWAY_EXCHANGE_DISPATCH_BATCH": "40",
                "GATEWAY_EXCHANGE_DELIVERY_BATCH": "20",
            },
        )
        cluster = Cluster(env, directory, REPLICAS)
        try:
            cluster.start()
            yield Setup(cluster, gateway_url, population_url)
        finally:
            cluster.stop()
            asyncio.run(RedisStorage(storage_uri(REDIS_URL), key_prefix=prefix).reset())


def _token(base_url: str, credentials: tuple[str, str]) -> str:
    response = httpx.post(
        f"{base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials, timeout=30
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **STATED}


async def _scalar(url: str, query: str, **params: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(query), params)).scalar()
    finally:
        await engine.dispose()


def scalar(url: str, query: str, **params: Any) -> Any:
    return asyncio.run(_scalar(url, query, **params))


async def _positions(url: str) -> list[int]:
    """The positions of the population feed, in order."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = "SELECT position FROM exchange_changes WHERE database_id = 'population' ORDER BY position"
            return [int(position) for position in (await conn.execute(sa.text(query))).scalars()]
    finally:
        await engine.dispose()


def _logged(cluster: Cluster, tag: str, count: int) -> list[LogLine]:
    """The ``count`` requests nginx logged with an ``X-Request-Id`` starting with ``tag`` (a line is written once
    the answer has left: it may come a moment after the client has it)."""
    assert cluster.nginx is not None
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in cluster.nginx.lines() if line.request_id.startswith(tag)]
        if len(lines) >= count or time.monotonic() > deadline:
            assert len(lines) == count, lines
            return lines
        time.sleep(0.05)


# -- rate limits --------------------------------------------------------------------------------------------------


def test_a_clients_rate_limit_is_one_budget_across_the_replicas(setup: Setup) -> None:
    budget = 60
    credentials = setup.client("population:read", per_day=budget)
    base = setup.cluster.url
    headers = _bearer(_token(base, credentials))
    tag = f"limit-{uuid.uuid4().hex[:8]}"
    statuses: list[int] = []

    async def send() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def one(n: int) -> None:
                response = await http.get(SERVICES, headers={**headers, "X-Request-Id": f"{tag}-{n}"})
                statuses.append(response.status_code)
                if response.status_code == 429:
                    assert response.json()["type"] == "/problems/rate-limited"

            for start in range(0, 3 * budget, 12):  # 12 at a time, 180 in all
                await asyncio.gather(*(one(n) for n in range(start, start + 12)))

    asyncio.run(send())
    assert Counter(statuses) == {200: budget, 429: 2 * budget}
    served = _logged(setup.cluster, tag, 3 * budget)
    admitted = Counter(line.upstream for line in served if line.status == 200)
    refused = Counter(line.upstream for line in served if line.status == 429)
    replicas = {replica.address for replica in setup.cluster.replicas}
    # Every replica admitted part of the budget and refused once it was spent: no replica had a budget of its own.
    assert set(admitted) == replicas, admitted
    assert set(refused) == replicas, refused
    assert sum(admitted.values()) == budget


# -- the exchange, with a replica killed mid-delivery -------------------------------------------------------------


@dataclass
class Job:
    key: str
    operations: list[dict[str, Any]]
    accepted: int = 0
    tries: int = 0


def _jobs(count: int, size: int) -> list[Job]:
    jobs = []
    serial = 0
    for number in range(count):
        operations: list[dict[str, Any]] = []
        while len(operations) < size:
            serial += 1
            record = f"068185{serial:06d}"
            fields = {**EXAMPLE, "household_id": "HK068000123", "full_name": "Nguyễn Thị Mai"}
            fields.pop("personal_id")
            fields.pop("old_id_number")
            meta = {"changed_at": "2026-11-20T08:00:00+07:00", "source_reference": f"KS-{serial:06d}"}
            operations.append({"op": "create", "record_id": record, "fields": fields, "metadata": meta})
            if serial % 4 == 0 and len(operations) < size:  # an update right behind its create: order matters
                update = {"marital_status": "married", "full_name": "Trần Thị Lan"}
                operations.append({"op": "update", "record_id": record, "fields": update, "metadata": meta})
        jobs.append(Job(key=f"replicas-{number:03d}-{uuid.uuid4().hex[:8]}", operations=operations))
    return jobs


async def _submit(base_url: str, headers: dict[str, str], jobs: list[Job], clients: int, on_done: Any) -> None:
    """Send every job from concurrent clients through nginx; a lost answer (the replica died with the request)
    or a 5xx is sent again with the same key."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            while not queue.empty():
                job = queue.get_nowait()
                while True:
                    job.tries += 1
                    try:
                        response = await http.post(
                            RECORDS,
                            content=orjson.dumps({"operations": job.operations}),
                            headers={**headers, "Idempotency-Key": job.key, "Content-Type": "application/json"},
                        )
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                        continue
                    if response.status_code in (502, 503, 504):
                        await asyncio.sleep(0.1)
                        continue
                    break
                assert response.status_code == 202, response.text
                job.accepted = len(response.json()["accepted"])
                await on_done()

    await asyncio.gather(*(client() for _ in range(clients)))


async def _writing_ports(population_url: str) -> list[int]:
    """The client ports of the connections with a write transaction open in the sector database: deliveries
    under way."""
    dsn = population_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT client_port FROM pg_stat_activity WHERE datname = $1 AND backend_xid IS NOT NULL "
            "AND pid <> pg_backend_pid() AND client_port > 0",
            dsn.rsplit("/", 1)[1],
        )
        return [int(row[0]) for row in rows]
    finally:
        await conn.close()


async def _slow_sector(population_url: str) -> None:
    """The sector system takes 10 ms per row written: deliveries last long enough to be interrupted, even on a
    loaded machine where a look at the sector database's transactions takes as long as a short delivery."""
    conn = await asyncpg.connect(population_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            "CREATE OR REPLACE FUNCTION slow_sector() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$"
        )
        await conn.execute(
            "CREATE OR REPLACE TRIGGER slow_sector BEFORE INSERT OR UPDATE ON cong_dan "
            "FOR EACH ROW EXECUTE FUNCTION slow_sector()"
        )
    finally:
        await conn.close()


async def _outcomes(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = "SELECT attempts, outcome, count(*) FROM exchange_operations GROUP BY attempts, outcome"
            return [tuple(row) for row in (await conn.execute(sa.text(query))).all()]
    finally:
        await engine.dispose()


async def _drained(url: str, seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    engine = create_engine(url)
    try:
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(sa.text("SELECT state, count(*) FROM exchange_operations GROUP BY state"))
                ).all()
            counts = {state: int(count) for state, count in rows}
            if not counts.get("pending") and not counts.get("delivering"):
                return counts
            assert time.monotonic() < deadline, f"operations still waiting: {counts}"
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


def test_each_accepted_operation_is_applied_once_with_a_replica_killed_mid_delivery(setup: Setup) -> None:
    cluster = setup.cluster
    asyncio.run(_slow_sector(setup.population_url))
    credentials = setup.client("population:read", "population:submit")
    headers = _bearer(_token(cluster.url, credentials))
    jobs = _jobs(count=40, size=20)
    killed: list[Replica] = []
    caught: list[int] = []
    done = 0

    async def watch_and_kill() -> None:
        # Once a third of the submissions are answered, SIGKILL the first replica seen inside a delivery (while
        # the others are submitted, or while the backlog is delivered). The replica is frozen first and its
        # transaction looked for again: a delivery that committed between the look and the kill was not
        # interrupted, and a frozen process cannot commit.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if done >= len(jobs) // 3:
                server_port = make_url(setup.population_url).port or 5432
                for port in await _writing_ports(setup.population_url):
                    replica = next((r for r in cluster.replicas if r.owns_connection(port, server_port)), None)
                    if replica is None:
                        continue
                    replica.freeze()
                    if port in await _writing_ports(setup.population_url):
                        caught.append(port)
                        replica.kill()
                        killed.append(replica)
                        return
                    replica.thaw()
            await asyncio.sleep(0.01)

    async def run() -> None:
        async def on_done() -> None:
            nonlocal done
            done += 1

        watcher = asyncio.create_task(watch_and_kill())
        await _submit(cluster.url, headers, jobs, clients=6, on_done=on_done)
        await watcher

    asyncio.run(run())
    assert killed, "no replica was caught delivering"
    killed[0].launch()  # back for the tests that follow; the others deliver what it held meanwhile
    killed[0].wait()

    accepted = sum(job.accepted for job in jobs)
    assert accepted == sum(len(job.operations) for job in jobs)
    counts = asyncio.run(_drained(setup.gateway_url, seconds=60))
    assert counts == {"delivered": accepted}, counts
    # The killed replica's claim lapsed and another replica delivered those operations again, with their keys.
    retaken = scalar(setup.gateway_url, "SELECT count(*) FROM exchange_operations WHERE attempts > 1")
    assert retaken > 0, (killed[0].name, caught, asyncio.run(_outcomes(setup.gateway_url)))
    # The sector system's ledger of idempotency keys: each accepted operation applied once, none twice.
    ledger = scalar(setup.population_url, "SELECT count(*) FROM gateway_applied_operations")
    distinct = scalar(setup.population_url, "SELECT count(DISTINCT idempotency_key) FROM gateway_applied_operations")
    assert ledger == distinct == accepted
    creates = {op["record_id"] for job in jobs for op in job.operations if op["op"] == "create"}
    assert scalar(setup.population_url, "SELECT count(*) FROM cong_dan") == len(creates)
    updated = {op["record_id"] for job in jobs for op in job.operations if op["op"] == "update"}
    married = scalar(setup.population_url, "SELECT count(*) FROM cong_dan WHERE ho_ten = 'Trần Thị Lan'")
    assert married == len(updated)  # every update applied after its create
    # One change per operation in the feed, without repeat, nor gap but where a replica started.
    feed = "FROM exchange_changes WHERE database_id = 'population'"
    assert scalar(setup.gateway_url, f"SELECT count(*) {feed}") == accepted
    assert scalar(setup.gateway_url, f"SELECT count(DISTINCT operation_id) {feed}") == accepted
    positions = asyncio.run(_positions(setup.gateway_url))
    assert len(positions) == accepted and gapless_but_at_starts(positions)
    served = Counter(line.upstream for line in cluster.nginx.lines() if line.path == RECORDS and line.status == 202)  # type: ignore[union-attr]
    assert set(served) == {replica.address for replica in cluster.replicas}, served


# -- the audit chain ----------------------------------------------------------------------------------------------


def test_the_replicas_write_one_audit_chain_that_verifies(setup: Setup) -> None:
    cluster = setup.cluster
    tag = f"audit-{uuid.uuid4().hex[:8]}"
    clients = [setup.client("population:read") for _ in range(3)]

    async def traffic() -> None:
        async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:

            async def session(number: int, credentials: tuple[str, str]) -> None:
                for round_ in range(4):
                    issued = await http.post(
                        "/oauth/token",
                        data={"grant_type": "client_credentials"},
                        auth=credentials,
                        headers={"X-Request-Id": f"{tag}-{number}-{round_}-token"},
                    )
                    assert issued.status_code == 200, issued.text
                    headers = _bearer(issued.json()["access_token"])
                    for n in range(10):
                        request_id = f"{tag}-{number}-{round_}-{n}"
                        answer = await http.get(
                            f"{RECORDS}/068199{n:06d}", headers={**headers, "X-Request-Id": request_id}
                        )
                        assert answer.status_code == 404, answer.text

            await asyncio.gather(*(session(number, credentials) for number, credentials in enumerate(clients)))

    asyncio.run(traffic())
    lines = _logged(cluster, tag, 3 * 4 * 11)
    assert {line.upstream for line in lines} == {replica.address for replica in cluster.replicas}
    recorded = scalar(setup.gateway_url, "SELECT count(*) FROM audit_events WHERE request_id LIKE :tag", tag=f"{tag}-%")
    assert recorded == len(lines)  # every request, whichever replica served it, is in the trail
    # The chain is one: verified from its first event to its head, seals of every replica included.
    result = cluster.cli("audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("audit trail intact"), result.stdout
    events = scalar(setup.gateway_url, "SELECT count(*) FROM audit_events")
    last = scalar(setup.gateway_url, "SELECT max(seq) FROM audit_events")
    assert events == last  # one sequence, no gap, no fork


# -- changes that every replica must see --------------------------------------------------------------------------


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _until(check: Any, seconds: float) -> float:
    """Poll ``check`` (returns True when done) until it holds; the time it took."""
    started = time.monotonic()
    while not check():
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"still not so after {elapsed:.1f} s"
        time.sleep(0.05)
    return time.monotonic() - started


def _in_force(replicas: list[Replica], change: Any, probe: Any) -> dict[str, float]:
    """Ask every replica, each on its own connection and all at once, until ``probe(http)`` holds, while
    ``change()`` (a coroutine function) makes the change and returns the moment it was made (``time.time()``);
    for each replica, the seconds from that moment to the answer that showed the change in force. (Asking the
    replicas one after the other would count one replica's slow answer against the others; asking only once the
    change has returned would count its own slowness, the command's exit for instance, as theirs.)"""

    async def run() -> list[float]:
        clients = [httpx.AsyncClient(base_url=replica.url, timeout=5) for replica in replicas]
        try:
            for http in clients:
                assert not await probe(http)  # not in force before the change (and the connection is open)
            started = time.time()

            async def watch(http: httpx.AsyncClient) -> float:
                while not await probe(http):
                    assert time.time() - started < 60, f"{http.base_url}: not in force"
                    await asyncio.sleep(0.02)
                return time.time()

            watchers = [asyncio.create_task(watch(http)) for http in clients]
            made = await change()
            return [seen - made for seen in await asyncio.gather(*watchers)]
        finally:
            for http in clients:
                await http.aclose()

    return dict(zip((replica.name for replica in replicas), asyncio.run(run()), strict=True))


def test_a_key_rotation_is_in_force_on_every_replica_within_2_seconds(setup: Setup) -> None:
    cluster = setup.cluster
    credentials = setup.client("population:read")
    operator = {"Authorization": f"Bearer {_token(cluster.url, setup.client('admin'))}"}
    before = {replica.name: _token(replica.url, credentials) for replica in cluster.replicas}
    old = {_kid(token) for token in before.values()}
    assert len(old) == 1
    signed: dict[str, set[str]] = {}

    async def rotate() -> float:
        result = await asyncio.to_thread(cluster.cli, "keys", "rotate", "--json")
        assert result.returncode == 0, result.stderr
        signed["new"] = {json.loads(result.stdout)["kid"]}
        # The rotation's moment: the new key's creation, as the admin API tells it.
        async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:
            keys = (await http.get("/v1/admin/signing-keys", headers=operator)).json()
        created = next(key["created_at"] for key in keys if key["kid"] in signed["new"])
        return datetime.fromisoformat(created).timestamp()

    async def signs_with_another_key(http: httpx.AsyncClient) -> bool:
        issued = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials)
        assert issued.status_code == 200, issued.text
        kid = _kid(issued.json()["access_token"])
        signed.setdefault(str(http.base_url), set()).add(kid)
        return kid not in old

    took = _in_force(cluster.replicas, rotate, signs_with_another_key)
    print(f"key rotation in force: {', '.join(f'{name} {seconds:.2f} s' for name, seconds in took.items())}")
    assert max(took.values()) <= PROPAGATION_SECONDS, took
    new = signed.pop("new")
    assert set().union(*signed.values()) == old | new  # the old key, then the rotated one: no other
    # Every replica publishes the new key and accepts what every other one signs with it; tokens signed before
    # the rotation keep working everywhere until they expire.
    tokens = [_token(replica.url, credentials) for replica in cluster.replicas]
    assert {_kid(token) for token in tokens} == new
    for replica in cluster.replicas:
        jwks = httpx.get(f"{replica.url}/.well-known/jwks.json", timeout=5).json()
        assert new | old <= {key["kid"] for key in jwks["keys"]}
        for token in [*tokens, *before.values()]:
            assert httpx.get(f"{replica.url}{SERVICES}", headers=_bearer(token), timeout=5).status_code == 200


def test_a_suspension_is_in_force_on_every_replica_within_2_seconds(setup: Setup) -> None:
    cluster = setup.cluster
    credentials = setup.client("population:read")
    operator = setup.client("admin")
    token = _token(cluster.url, credentials)
    admin = {"Authorization": f"Bearer {_token(cluster.url, operator)}"}

    async def suspend() -> float:
        # The operator's request reaches one replica through nginx; the two others learn of it from the database.
        async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:
            sent = time.time()  # the suspension is made after this, while the request is handled
            answer = await http.post(f"/v1/admin/clients/{credentials[0]}/suspend", headers=admin)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "suspended"
        return sent

    async def refuses_the_token(http: httpx.AsyncClient) -> bool:
        # The first call (before the suspension) puts the client's access in every replica's cache.
        answer = await http.get(SERVICES, headers=_bearer(token))
        assert answer.status_code in (200, 401), answer.text
        return answer.status_code == 401

    took = _in_force(cluster.replicas, suspend, refuses_the_token)
    print(f"suspension in force: {', '.join(f'{name} {seconds:.2f} s' for name, seconds in took.items())}")
    assert max(took.values()) <= PROPAGATION_SECONDS, took
    for replica in cluster.replicas:
        refused = httpx.post(
            f"{replica.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials, timeout=5
        )
        assert refused.status_code in (400, 401), refused.text


# -- the axis -----------------------------------------------------------------------------------------------------


def _checks_made(replica: Replica) -> float:
    text = httpx.get(f"{replica.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        if family.name == "gateway_health_check_duration_seconds":
            for sample in family.samples:
                if sample.name.endswith("_count") and sample.labels.get("database") == "population":
                    return sample.value
    return 0.0


def test_one_replica_runs_the_axis_health_checks(setup: Setup) -> None:
    cluster = setup.cluster

    def holder() -> str:
        return str(scalar(setup.gateway_url, "SELECT holder FROM leases WHERE name = 'axis-health'"))

    def pid_of(held_by: str) -> int:
        return int(held_by.split(":")[-2])  # host:pid:random

    def last_check() -> int:
        return int(scalar(setup.gateway_url, "SELECT coalesce(max(id), 0) FROM axis_checks"))

    pids = {replica.pid for replica in cluster.replicas}
    _until(lambda: pid_of(holder()) in pids and last_check() > 0, 10)
    leader_before = holder()
    leader = next(replica for replica in cluster.replicas if replica.pid == pid_of(leader_before))
    started, first_check = time.monotonic(), last_check()
    before = {replica.name: _checks_made(replica) for replica in cluster.replicas}
    time.sleep(2.0)
    after = {replica.name: _checks_made(replica) for replica in cluster.replicas}
    checks, elapsed = last_check() - first_check, time.monotonic() - started
    assert holder() == leader_before, "the lease changed hands during the window"
    made = {name: after[name] - before[name] for name in after}
    # The lease holder checked (every 0.25 s); the two others made no check at all.
    assert made[leader.name] > 0, made
    assert all(count == 0 for name, count in made.items() if name != leader.name), made
    # In the shared database too: one replica's worth of checks (at most about elapsed / interval), not three.
    assert 0 < checks <= elapsed / HEALTH_INTERVAL * 1.5 + 1, (checks, elapsed)
