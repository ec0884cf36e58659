"""``gateway.identity.access``: the access decision for one data request (grants in force, purposes, actors,
fields), the projection of records onto granted fields, and the per-process cache of client access (its TTL, its
single database read for concurrent misses, its invalidation, in this process and, through PostgreSQL NOTIFY, from
another process)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from support import InProcessGateway, postgres_database

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker, standalone_session
from gateway.core.problems import AccessDenied, BadHeader
from gateway.http.app import create_app
from gateway.identity.access import (
    ACTOR_HEADER,
    PURPOSE_HEADER,
    AccessControl,
    ClientAccess,
    Decision,
    GrantRule,
    announce_change,
    decide,
    header_value,
    load_access,
)
from gateway.identity.clients import create_client, set_status
from gateway.identity.grants import GrantCreate, add_grant, revoke_grant
from gateway.identity.models import Client, ClientStatus

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
P1 = "1.001612.000.00.00.H41"
P2 = "2.002154.000.00.00.H41"
ACTOR = "CB-068-0001"


def rule(
    grant_id: int = 1,
    *,
    database: str = "population",
    operations: tuple[str, ...] = ("read",),
    fields: tuple[str, ...] | None = None,
    purposes: tuple[str, ...] | None = None,
    require_purpose: bool = True,
    require_actor: bool = True,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> GrantRule:
    return GrantRule(
        id=grant_id,
        database=database,
        operations=frozenset(operations),
        fields=None if fields is None else frozenset(fields),
        purposes=None if purposes is None else frozenset(purposes),
        require_purpose=require_purpose,
        require_actor=require_actor,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def access_of(*grants: GrantRule, scopes: tuple[str, ...] = ()) -> ClientAccess:
    return ClientAccess(client_id="c1", active=True, scopes=frozenset(scopes), grants=grants)


def allowed(access: ClientAccess, *, operation: str = "read", purpose: str | None = P1, actor: str | None = ACTOR,
            database: str = "population") -> Decision:  # fmt: skip
    return decide(access, database=database, operation=operation, purpose=purpose, actor=actor, now=NOW)


# --- the decision -------------------------------------------------------------------------------------------------


def test_a_grant_in_force_allows_its_operation_with_its_fields() -> None:
    decision = allowed(access_of(rule(7, operations=("read", "search"), fields=("full_name", "date_of_birth"))))
    assert decision.fields == {"full_name", "date_of_birth"}
    assert (decision.client_id, decision.database, decision.operation) == ("c1", "population", "read")
    assert (decision.purpose, decision.actor, decision.grant_ids) == (P1, ACTOR, (7,))


@pytest.mark.parametrize(
    ("operation", "database"),
    [("search", "population"), ("submit", "population"), ("read", "civil_status")],
    ids=["other-operation", "submit", "other-database"],
)
def test_an_operation_or_database_without_a_grant_is_denied(operation: str, database: str) -> None:
    with pytest.raises(AccessDenied):
        allowed(access_of(rule(operations=("read",))), operation=operation, database=database)


def test_validity_starts_inclusive_and_ends_exclusive() -> None:
    assert rule(valid_from=NOW).in_force(NOW)
    assert not rule(valid_from=NOW + timedelta(microseconds=1)).in_force(NOW)
    assert not rule(valid_until=NOW).in_force(NOW)
    assert rule(valid_until=NOW + timedelta(microseconds=1)).in_force(NOW)
    for outside in (rule(valid_until=NOW - timedelta(days=1)), rule(valid_from=NOW + timedelta(days=1))):
        with pytest.raises(AccessDenied):
            allowed(access_of(outside))


def test_a_missing_purpose_or_actor_is_a_400_naming_the_header() -> None:
    access = access_of(rule())
    with pytest.raises(BadHeader) as missing_purpose:
        allowed(access, purpose=None)
    assert missing_purpose.value.extensions["header"] == PURPOSE_HEADER
    with pytest.raises(BadHeader) as missing_actor:
        allowed(access, actor=None)
    assert missing_actor.value.extensions["header"] == ACTOR_HEADER
    assert missing_purpose.value.status == missing_actor.value.status == 400


def test_a_grant_may_waive_the_purpose_and_the_actor() -> None:
    decision = allowed(access_of(rule(require_purpose=False, require_actor=False)), purpose=None, actor=None)
    assert (decision.purpose, decision.actor, decision.fields) == (None, None, None)
    with pytest.raises(BadHeader) as exc:
        allowed(access_of(rule(require_purpose=False)), purpose=None, actor=None)
    assert exc.value.extensions["header"] == ACTOR_HEADER


def test_purposes_limit_a_grant() -> None:
    access = access_of(rule(purposes=(P1,), fields=("full_name",)))
    assert allowed(access, purpose=P1).fields == {"full_name"}
    with pytest.raises(AccessDenied):
        allowed(access, purpose=P2)
    # Without a purpose, a grant limited to purposes cannot apply: the purpose is what is missing.
    with pytest.raises(BadHeader) as exc:
        allowed(access_of(rule(purposes=(P1,), require_purpose=False)), purpose=None)
    assert exc.value.extensions["header"] == PURPOSE_HEADER


def test_the_fields_are_those_of_the_grants_for_the_stated_purpose() -> None:
    access = access_of(
        rule(1, fields=("full_name",), purposes=(P1,)),
        rule(2, fields=("date_of_birth", "permanent_address.ward_code"), purposes=(P1, P2)),
        rule(3, fields=None, purposes=("9.999999",)),
        rule(4, fields=None, operations=("search",)),
        rule(5, fields=None, valid_until=NOW - timedelta(seconds=1)),
    )
    first = allowed(access, purpose=P1)
    assert first.fields == {"full_name", "date_of_birth", "permanent_address.ward_code"}
    assert first.grant_ids == (1, 2)
    second = allowed(access, purpose=P2)
    assert second.fields == {"date_of_birth", "permanent_address.ward_code"}
    assert second.grant_ids == (2,)
    assert allowed(access, purpose="9.999999").fields is None


def test_token_scopes_are_the_non_data_scopes_and_the_operations_in_force() -> None:
    access = access_of(
        rule(1, operations=("search", "read")),
        rule(2, database="civil_status", operations=("read",)),
        rule(3, database="land", operations=("read",), valid_from=NOW + timedelta(days=1)),
        rule(4, database="business", operations=("read",), valid_until=NOW),
        scopes=("audit", "admin"),
    )
    assert access.token_scopes(NOW) == ["admin", "audit", "civil_status:read", "population:read", "population:search"]


@pytest.mark.parametrize("value", [P1, ACTOR, "068185000123", "officer@so-y-te.lamdong.gov.vn", "a", "A" * 64])
def test_well_formed_header_values(value: str) -> None:
    assert header_value(value, PURPOSE_HEADER) == value


@pytest.mark.parametrize("value", ["a b", "-leading", ".x", "A" * 65, "x;y", "ngườidùng", "a\tb", "x,y"])
def test_malformed_header_values_are_a_400_naming_the_header(value: str) -> None:
    with pytest.raises(BadHeader) as exc:
        header_value(value, ACTOR_HEADER)
    assert exc.value.extensions["header"] == ACTOR_HEADER
    assert value not in str(exc.value.body())


def test_an_absent_or_empty_header_is_missing() -> None:
    assert header_value(None, PURPOSE_HEADER) is None
    assert header_value("", PURPOSE_HEADER) is None


# --- projections --------------------------------------------------------------------------------------------------

CITIZEN = Citizen.model_validate(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


def projected(fields: frozenset[str] | None) -> dict[str, Any]:
    decision = Decision("c1", "population", "read", P1, ACTOR, fields, (1,))
    return CITIZEN.model_dump(mode="json", include=decision.projection("personal_id"))


def test_without_field_limits_the_whole_record_is_answered() -> None:
    assert projected(None) == CITIZEN.model_dump(mode="json")


def test_the_projection_keeps_granted_fields_and_the_record_key() -> None:
    assert set(projected(frozenset({"full_name", "date_of_birth"}))) == {"personal_id", "full_name", "date_of_birth"}


def test_dotted_paths_keep_part_of_a_nested_object() -> None:
    record = projected(frozenset({"permanent_address.province_code", "permanent_address.ward_code", "gender"}))
    assert set(record) == {"personal_id", "gender", "permanent_address"}
    assert record["permanent_address"] == {"province_code": "68", "ward_code": "24781"}


def test_a_granted_object_is_kept_whole_even_with_one_of_its_paths() -> None:
    record = projected(frozenset({"hometown", "hometown.ward_code"}))
    assert record["hometown"] == CITIZEN.model_dump(mode="json")["hometown"]
    assert set(record["hometown"]) > {"ward_code"}


def test_search_fields_must_be_granted() -> None:
    decision = Decision(
        "c1", "population", "search", P1, ACTOR, frozenset({"full_name", "permanent_address.line"}), (1,)
    )
    assert decision.allows_fields(["full_name"]) == []
    assert decision.allows_fields(["full_name", "old_id_number", "date_of_birth"]) == ["date_of_birth", "old_id_number"]
    unlimited = Decision("c1", "population", "search", P1, ACTOR, None, (1,))
    assert unlimited.allows_fields(["old_id_number"]) == []


# --- loading and caching ------------------------------------------------------------------------------------------


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Counted:
    """An engine on the gateway's database that counts the statements reading the clients table."""

    url: str
    engine: Any = None
    reads: int = 0
    #: Statements reading the grants: whole reads of a client's access (a check of its row reads none).
    grant_reads: int = 0

    def __post_init__(self) -> None:
        self.engine = create_engine(self.url)
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM clients" in statement:
            self.reads += 1
        if "FROM grants" in statement:
            self.grant_reads += 1


@dataclass
class Gate:
    """A session factory whose first ``held`` sessions wait for ``opened`` once their reads are done (so that
    a load can be caught between reading and returning), or fail when ``fail`` is set."""

    sessionmaker: Any
    held: int = 1
    fail: bool = False
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        if self.fail:
            self.fail = False
            raise ConnectionError("database unavailable")
        gated = self.held > 0
        self.held -= 1
        async with self.sessionmaker() as session:
            yield session
        if gated:
            self.reached.set()
            await self.opened.wait()


async def new_client(url: str, *grants: dict[str, Any]) -> str:
    client_id = f"ac-{uuid.uuid4().hex[:10]}"
    async with standalone_session(url) as session:
        await create_client(session, name="Access test", client_id=client_id)
        for values in grants:
            await add_grant(session, GrantCreate(client_id=client_id, database="population", **values))
    return client_id


async def suspend(url: str, client_id: str, *, announce: bool = True) -> None:
    async with standalone_session(url) as session:
        client = await session.get(Client, client_id)
        assert client is not None
        if announce:
            await set_status(session, client, ClientStatus.SUSPENDED)
        else:
            client.status = ClientStatus.SUSPENDED
            session.add(client)
            await session.commit()


@pytest.fixture
async def counted(gateway_database_url: str) -> AsyncIterator[Counted]:
    engine = Counted(gateway_database_url)
    yield engine
    await engine.engine.dispose()


@pytest.mark.anyio
async def test_load_access_leaves_revoked_grants_out(gateway_database_url: str) -> None:
    client_id = await new_client(
        gateway_database_url, {"operations": ["read"], "fields": ["full_name"]}, {"operations": ["search"]}
    )
    async with standalone_session(gateway_database_url) as session:
        access = await load_access(session, client_id)
        assert access is not None
        assert [g.operations for g in access.grants] == [frozenset({"read"}), frozenset({"search"})]
        await revoke_grant(session, access.grants[0].id)
        after = await load_access(session, client_id)
        assert after is not None
        assert [g.operations for g in after.grants] == [frozenset({"search"})]
        assert await load_access(session, "nobody-at-all") is None


@pytest.mark.anyio
async def test_the_cache_answers_within_its_ttl_then_reads_again(gateway_database_url: str, counted: Counted) -> None:
    """Within the time-to-live, no read; then one read of the client's row, and the whole access only when that row
    moved (every change through the gateway moves it); a change behind the gateway's back (no announcement) is read
    whole after ten times the time-to-live."""
    client_id = await new_client(gateway_database_url, {"operations": ["read"]})
    clock = Clock()
    cache = AccessControl(create_sessionmaker(counted.engine), ttl_seconds=30, clock=clock)
    first = await cache.get(client_id)
    assert first is not None
    assert first.active
    assert (counted.reads, counted.grant_reads) == (1, 1)
    await suspend(gateway_database_url, client_id, announce=False)
    clock.now += 29.9
    assert await cache.get(client_id) is first
    assert counted.reads == 1
    clock.now += 0.1
    assert await cache.get(client_id) is first  # the row did not move: kept, after one read of it
    assert (counted.reads, counted.grant_reads) == (2, 1)
    clock.now += 270  # ten times the time-to-live since the whole read
    again = await cache.get(client_id)
    assert again is not None
    assert not again.active
    assert counted.grant_reads == 2


@pytest.mark.anyio
async def test_a_change_through_the_gateway_is_read_at_the_next_check(
    gateway_database_url: str, counted: Counted
) -> None:
    client_id = await new_client(gateway_database_url, {"operations": ["read"]})
    clock = Clock()
    cache = AccessControl(create_sessionmaker(counted.engine), ttl_seconds=30, clock=clock)
    first = await cache.get(client_id)
    assert first is not None
    assert first.active
    for _ in range(3):  # unchanged: one read of the row per period, never the grants
        clock.now += 30
        assert await cache.get(client_id) is first
    assert counted.grant_reads == 1
    await suspend(gateway_database_url, client_id)  # through the service: announced (another process's cache)
    clock.now += 30
    again = await cache.get(client_id)
    assert again is not None
    assert not again.active
    assert counted.grant_reads == 2


@pytest.mark.anyio
async def test_many_clients_past_their_time_cost_one_read(gateway_database_url: str, counted: Counted) -> None:
    clients = [await new_client(gateway_database_url, {"operations": ["read"]}) for _ in range(20)]
    clock = Clock()
    cache = AccessControl(create_sessionmaker(counted.engine), ttl_seconds=30, clock=clock)
    first = {client_id: await cache.get(client_id) for client_id in clients}
    assert (counted.reads, counted.grant_reads) == (20, 20)
    await suspend(gateway_database_url, clients[7])  # through the service: moves its updated_at
    clock.now += 30
    again = {client_id: await cache.get(client_id) for client_id in clients}
    assert counted.reads == 20 + 1 + 1  # one sweep for the twenty, and the changed client read whole again
    assert counted.grant_reads == 21
    assert all(again[c] is first[c] for c in clients if c != clients[7])
    changed = again[clients[7]]
    assert changed is not None
    assert not changed.active


@pytest.mark.anyio
async def test_an_unknown_client_is_cached_too(counted: Counted) -> None:
    cache = AccessControl(create_sessionmaker(counted.engine), ttl_seconds=30, clock=Clock())
    assert await cache.get("no-such-client") is None
    assert await cache.get("no-such-client") is None
    assert counted.reads == 1


@pytest.mark.anyio
async def test_a_zero_ttl_reads_every_time(gateway_database_url: str, counted: Counted) -> None:
    client_id = await new_client(gateway_database_url, {"operations": ["read"]})
    cache = AccessControl(create_sessionmaker(counted.engine), ttl_seconds=0, clock=Clock())
    for _ in range(3):
        await cache.get(client_id)
    assert counted.reads == 3


@pytest.mark.anyio
async def test_invalidation_forgets_one_client_or_everyone(gateway_database_url: str, counted: Counted) -> None:
    one = await new_client(gateway_database_url, {"operations": ["read"]})
    two = await new_client(gateway_database_url, {"operations": ["read"]})
    cache = AccessControl(create_sessionmaker(counted.engine), ttl_seconds=3600, clock=Clock())
    await cache.get(one)
    await cache.get(two)
    await suspend(gateway_database_url, one)
    await suspend(gateway_database_url, two)
    cache.invalidate(one)
    first, second = await cache.get(one), await cache.get(two)
    assert first is not None
    assert second is not None
    assert (first.active, second.active) == (False, True)
    cache.invalidate()
    second = await cache.get(two)
    assert second is not None
    assert not second.active
    assert counted.reads == 4


@pytest.mark.anyio
async def test_concurrent_misses_share_one_read(gateway_database_url: str, counted: Counted) -> None:
    client_id = await new_client(gateway_database_url, {"operations": ["read"]})
    cache = AccessControl(create_sessionmaker(counted.engine), ttl_seconds=30, clock=Clock())
    results = await asyncio.gather(*(cache.get(client_id) for _ in range(50)))
    assert counted.reads == 1
    assert all(r is results[0] for r in results)
    assert results[0] is not None
    assert results[0].client_id == client_id


@pytest.mark.anyio
async def test_a_load_running_when_invalidated_is_not_cached(gateway_database_url: str, counted: Counted) -> None:
    client_id = await new_client(gateway_database_url, {"operations": ["read"]})
    gate = Gate(create_sessionmaker(counted.engine))
    cache = AccessControl(gate, ttl_seconds=3600, clock=Clock())  # type: ignore[arg-type]
    early = asyncio.create_task(cache.get(client_id))
    await asyncio.wait_for(gate.reached.wait(), 10)  # it has read the client, still active
    await suspend(gateway_database_url, client_id)
    cache.invalidate(client_id)
    # A caller after the change does not wait for the load that read the old rows: it reads again.
    late = await asyncio.wait_for(cache.get(client_id), 10)
    assert late is not None
    assert not late.active
    gate.opened.set()
    old = await early
    assert old is not None
    assert old.active  # what was true when it asked
    cached = await cache.get(client_id)
    assert cached is not None
    assert not cached.active
    assert counted.reads == 2


@pytest.mark.anyio
async def test_a_cancelled_caller_does_not_cancel_the_shared_read(gateway_database_url: str, counted: Counted) -> None:
    client_id = await new_client(gateway_database_url, {"operations": ["read"]})
    gate = Gate(create_sessionmaker(counted.engine))
    cache = AccessControl(gate, ttl_seconds=3600, clock=Clock())  # type: ignore[arg-type]
    first = asyncio.create_task(cache.get(client_id))
    await asyncio.wait_for(gate.reached.wait(), 10)
    second = asyncio.create_task(cache.get(client_id))
    await asyncio.sleep(0)
    first.cancel()
    gate.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    result = await asyncio.wait_for(second, 10)
    assert result is not None
    assert result.client_id == client_id
    assert counted.reads == 1


@pytest.mark.anyio
async def test_a_failed_read_reaches_every_waiter_and_is_not_cached(
    gateway_database_url: str, counted: Counted
) -> None:
    client_id = await new_client(gateway_database_url, {"operations": ["read"]})
    gate = Gate(create_sessionmaker(counted.engine), held=0, fail=True)
    cache = AccessControl(gate, ttl_seconds=3600, clock=Clock())  # type: ignore[arg-type]
    outcomes = await asyncio.gather(*(cache.get(client_id) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes), outcomes
    access = await cache.get(client_id)
    assert access is not None
    assert access.client_id == client_id


@pytest.mark.anyio
async def test_announcing_a_change_on_sqlite_does_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    await asyncio.to_thread(migrations.upgrade, url)
    async with standalone_session(url) as session:
        await announce_change(session, "anyone")
        await session.commit()


# --- NOTIFY across processes (PostgreSQL) -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A migrated database of its own on the local PostgreSQL server."""
    with postgres_database(prefix="gwaccess") as url:
        migrations.upgrade(url)
        yield url


SUSPEND_ELSEWHERE = """
import asyncio, sys
from gateway.core.db import standalone_session
from gateway.identity.models import Client, ClientStatus
from gateway.identity.clients import set_status

async def main(url, client_id):
    async with standalone_session(url) as session:
        client = await session.get(Client, client_id)
        await set_status(session, client, ClientStatus.SUSPENDED)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def wait_for(predicate: Callable[[], Any], within: float) -> float:
    """Await ``predicate()`` until it is true; the seconds it took."""
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < within, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.postgres
@pytest.mark.anyio
async def test_a_change_in_another_process_reaches_the_cache_through_notify(postgres_url: str) -> None:
    client_id = await new_client(postgres_url, {"operations": ["read"]})
    engine = create_engine(postgres_url)
    cache = AccessControl(create_sessionmaker(engine), ttl_seconds=3600)
    await cache.start(engine)
    try:
        # Listening, the cache forgets what it held: it must listen before the entry below is cached.
        await asyncio.wait_for(cache.listening.wait(), 15)
        before = await cache.get(client_id)
        assert before is not None
        assert before.active
        # A change nobody announces stays unseen: the entry is cached (for an hour).
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE clients SET rate_limit_per_second = 7 WHERE client_id = :c"), {"c": client_id}
            )
        assert await cache.get(client_id) is before

        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SUSPEND_ELSEWHERE, postgres_url, client_id, cwd=REPO, env=dict(os.environ)
        )
        assert await asyncio.wait_for(process.wait(), 60) == 0

        async def suspended() -> bool:
            access = await cache.get(client_id)
            return access is not None and not access.active

        assert await wait_for(suspended, 5) < 5
        after = await cache.get(client_id)
        assert after is not None
        assert after.rate_limit_per_second == 7
    finally:
        await cache.close()
        await engine.dispose()


async def _listening(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN %gateway_access%'"
                )
            )
            return int(found.scalar_one())
    finally:
        await engine.dispose()


def _eventually(check: Callable[[], bool], within: float = 5) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, "the other gateway did not apply the change"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.postgres
def test_a_removed_scope_and_a_rotated_secret_end_in_every_gateway(
    postgres_url: str, make_settings: Callable[..., Any]
) -> None:
    """Two gateways on one PostgreSQL database, each caching access for an hour: a change made through one
    reaches the other at once (NOTIFY), for the non-data scopes of tokens issued before and for secrets."""
    before = asyncio.run(_listening(postgres_url))
    settings = make_settings(database_url=postgres_url, access_cache_seconds=3600)
    with InProcessGateway(create_app(settings)) as one, InProcessGateway(create_app(settings)) as other:
        _eventually(lambda: asyncio.run(_listening(postgres_url)) >= before + 2, 15)

        async def make(scopes: tuple[str, ...]) -> tuple[str, str]:
            async with standalone_session(postgres_url) as session:
                client, secret = await create_client(
                    session, name="Two gateways", scopes=scopes, client_id=f"ac-{uuid.uuid4().hex[:10]}"
                )
                return client.client_id, secret

        admin_id, admin_secret = asyncio.run(make(("admin",)))
        target_id, target_secret = asyncio.run(make(("admin", "audit")))
        form = {"grant_type": "client_credentials"}
        with one.client() as first, other.client() as second:
            admin_token = first.post("/oauth/token", data=form, auth=(admin_id, admin_secret)).json()["access_token"]
            admin = {"Authorization": f"Bearer {admin_token}"}
            token = second.post("/oauth/token", data=form, auth=(target_id, target_secret)).json()["access_token"]
            held = {"Authorization": f"Bearer {token}"}
            assert second.get("/v1/admin/clients", headers=held).status_code == 200  # cached in the other gateway
            assert second.get("/v1/audit", headers=held).status_code == 200

            changed = first.patch(f"/v1/admin/clients/{target_id}", json={"scopes": ["audit"]}, headers=admin)
            assert changed.status_code == 200, changed.text
            _eventually(lambda: second.get("/v1/admin/clients", headers=held).status_code == 403)
            assert second.get("/v1/audit", headers=held).status_code == 200

            rotated = first.post(f"/v1/admin/clients/{target_id}/secret", json={"overlap_seconds": 0}, headers=admin)
            assert rotated.status_code == 200, rotated.text
            new_secret = rotated.json()["client_secret"]
            _eventually(
                lambda: second.post("/oauth/token", data=form, auth=(target_id, target_secret)).status_code == 401
            )
            assert second.post("/oauth/token", data=form, auth=(target_id, new_secret)).status_code == 200
