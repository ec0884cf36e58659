"""What an administrator did is chained like every other event, on SQLite and PostgreSQL: the hash covers the action,
the client acted on and what changed (the events written before schema revision 0018, which have none, keep their
hashes); a command's change is committed with its event or not at all; and a command appending while a gateway
serves and appends on the same database neither forks nor breaks the chain, nor stops the gateway sealing it.

The commands run in this process (``support.run_gateway_command``), each test on a database of its own."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from audit_events import run_sql
from support import (
    STATED,
    TEST_DATA_KEY,
    ClientCredentials,
    CommandResult,
    InProcessGateway,
    LiveServer,
    fetch_token,
    gateway_command,
    postgres_database,
)

from gateway.audit.events import GENESIS, timestamp
from gateway.audit.storage import EVENTS, HEAD, SEALS
from gateway.audit.verify import Report, verify_trail
from gateway.core import migrations
from gateway.core.db import UTCDateTime, create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.datakeys import DataKeys
from simulators.population import CITIZENS

#: The columns an event's hash covered before schema revision 0018 (``fields`` when not null).
COLUMNS_BEFORE_0018 = (
    "seq",
    "occurred_at",
    "request_id",
    "client_id",
    "actor",
    "purpose",
    "database",
    "operation",
    "record_ids",
    "outcome",
    "status",
    "reason",
    "latency_ms",
    "response_sha256",
    "prev_hash",
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    else:
        with postgres_database(prefix="gwadmin") as url:
            yield url


@pytest.fixture
def command(database: str, tmp_path: Path, sector_url: str) -> Callable[..., CommandResult]:
    """``gateway ARGS`` in this process, on ``database``."""
    return gateway_command(tmp_path, database_url=database, connectors__population__config__url=sector_url)


def ok(result: CommandResult) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def verify(url: str) -> Report:
    async def run() -> Report:
        engine = create_engine(url)
        try:
            return await verify_trail(engine, data_keys=DataKeys(keys=[TEST_DATA_KEY]))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def hash_before_0018(row: dict[str, Any]) -> str:
    """An event's hash as the versions before 0018 computed it."""
    document = {name: row[name] for name in sorted(COLUMNS_BEFORE_0018)}
    document["occurred_at"] = timestamp(row["occurred_at"])
    if row.get("fields") is None:
        return hashlib.sha256(orjson.dumps(document)).hexdigest()
    document["fields"] = row["fields"]
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def write_events_before_0018(url: str, count: int) -> None:
    """``count`` events (every other one naming fields) and the head, as a gateway before 0018 wrote them."""
    table = sa.table(
        "audit_events",
        *(sa.column(name) for name in COLUMNS_BEFORE_0018 if name not in ("occurred_at", "record_ids")),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("record_ids", sa.JSON()),
        sa.column("fields", sa.JSON()),
        sa.column("hash"),
    )
    rows, prev = [], GENESIS
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    for seq in range(1, count + 1):
        row: dict[str, Any] = {
            "seq": seq,
            "occurred_at": start + timedelta(minutes=seq),
            "request_id": f"before-{seq}",
            "client_id": "agency-a",
            "actor": "CB-068-0001",
            "purpose": "1.001612",
            "database": "population",
            "operation": "admin" if seq == count else "search",
            "record_ids": [],
            "outcome": "allowed",
            "status": 200,
            "reason": None,
            "latency_ms": 1.5,
            "response_sha256": "0" * 64,
            "fields": ["full_name"] if seq % 2 else None,
            "prev_hash": prev,
        }
        row["hash"] = prev = hash_before_0018(row)
        rows.append(row)
    head = sa.table(
        "audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"), sa.column("updated_at", UTCDateTime())
    )
    run_sql(url, sa.insert(table).values(rows))
    run_sql(url, sa.insert(head).values(id=1, seq=count, hash=prev, updated_at=start))


def test_events_before_0018_keep_their_hashes_and_administration_chains_after_them(
    database: str, command: Callable[..., CommandResult]
) -> None:
    migrations.upgrade(database, "0017")
    write_events_before_0018(database, 3)
    migrations.upgrade(database)
    assert verify(database).ok
    ok(command("clients", "create", "Sở Tư pháp", "--client-id", "agency-b", "--scope", "population:read"))
    ok(command("grants", "add", "agency-b", "population", "-o", "read", "-f", "full_name"))
    report = verify(database)
    assert report.ok, report.summary()
    assert (report.events, report.head) == (5, (5, report.last_hash))
    actions = run_sql(database, sa.select(EVENTS.c.seq, EVENTS.c.action).order_by(EVENTS.c.seq))
    assert [(row["seq"], row["action"]) for row in actions] == [
        (1, None),
        (2, None),
        (3, None),
        (4, "client.create"),
        (5, "grant.add"),
    ]


def test_the_hash_covers_what_an_administrator_did(database: str, command: Callable[..., CommandResult]) -> None:
    migrations.upgrade(database, "0017")
    write_events_before_0018(database, 2)
    migrations.upgrade(database)
    ok(command("clients", "create", "Sở Tư pháp", "--client-id", "agency-c", "--scope", "audit"))
    ok(command("grants", "add", "agency-c", "population", "-o", "read", "-f", "full_name"))
    assert verify(database).ok
    (granted,) = run_sql(database, sa.select(EVENTS).where(EVENTS.c.action == "grant.add"))
    seq = granted["seq"]
    widened = {**granted["change"], "fields": None}  # every field, where one was granted
    tampering: list[tuple[int, dict[str, Any]]] = [
        (seq, {"change": widened}),
        (seq, {"change": sa.null()}),
        (seq, {"target_client": "agency-d"}),
        (seq, {"target_client": None}),
        (seq, {"action": "grant.revoke"}),
        (seq, {"action": None}),
        (1, {"action": "grant.add"}),  # an event written before 0018, made to say it granted something
        (2, {"target_client": "agency-c"}),
        (1, {"change": {"grant_id": 1}}),
    ]
    for where, values in tampering:
        (original,) = run_sql(database, sa.select(EVENTS).where(EVENTS.c.seq == where))
        run_sql(database, sa.update(EVENTS).where(EVENTS.c.seq == where).values(**values))
        report = verify(database)
        assert not report.ok, values
        assert report.problem is not None and report.problem.seq == where, report.summary()
        assert "altered" in report.problem.message
        restored = {name: original[name] if original[name] is not None else sa.null() for name in values}
        run_sql(database, sa.update(EVENTS).where(EVENTS.c.seq == where).values(**restored))
        assert verify(database).ok, values


REFUSE_EVENTS = {
    "sqlite": ["CREATE TRIGGER refuse_events BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'refused'); END"],
    "postgresql": [
        "CREATE FUNCTION refuse_events() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_events BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_events()",
    ],
}
ALLOW_EVENTS = {
    "sqlite": ["DROP TRIGGER refuse_events"],
    "postgresql": ["DROP TRIGGER refuse_events ON audit_events", "DROP FUNCTION refuse_events()"],
}


def test_a_change_whose_event_cannot_be_appended_is_not_made(
    database: str, command: Callable[..., CommandResult]
) -> None:
    migrations.upgrade(database)
    ok(command("clients", "create", "Sở Tư pháp", "--client-id", "agency-e", "--scope", "audit"))
    backend = "postgresql" if database.startswith("postgresql") else "sqlite"
    for statement in REFUSE_EVENTS[backend]:
        run_sql(database, sa.text(statement))

    grants = sa.text("SELECT count(*) AS n FROM grants WHERE client_id = 'agency-e'")
    status = sa.text("SELECT status FROM clients WHERE client_id = 'agency-e'")
    for args in (
        ("grants", "add", "agency-e", "population", "-o", "read", "-f", "full_name"),
        ("clients", "suspend", "agency-e"),
        ("clients", "create", "Sở Y tế", "--client-id", "agency-f", "--scope", "population:read"),
        ("keys", "rotate"),
    ):
        refused = command(*args)
        assert refused.returncode == 1, args
        assert "nothing was changed" in refused.stderr and "audit trail" in refused.stderr, refused.stderr
    assert run_sql(database, grants) == [{"n": 0}]
    assert run_sql(database, status) == [{"status": "active"}]
    assert run_sql(database, sa.text("SELECT count(*) AS n FROM clients WHERE client_id = 'agency-f'")) == [{"n": 0}]
    assert run_sql(database, sa.text("SELECT count(*) AS n FROM signing_keys")) == [{"n": 0}]

    for statement in ALLOW_EVENTS[backend]:
        run_sql(database, sa.text(statement))
    ok(command("grants", "add", "agency-e", "population", "-o", "read", "-f", "full_name"))
    assert run_sql(database, grants) == [{"n": 1}]
    assert verify(database).ok


def test_a_downgrade_below_0018_is_refused_while_events_say_what_an_administrator_did(
    database: str, command: Callable[..., CommandResult]
) -> None:
    migrations.upgrade(database)
    migrations.downgrade(database, "0017")  # nothing recorded yet: nothing lost
    migrations.upgrade(database)
    ok(command("clients", "create", "Sở Tư pháp", "--client-id", "agency-g", "--scope", "audit"))
    with pytest.raises(migrations.MigrationRefused, match="1 audit events say what an administrator did"):
        migrations.downgrade(database, "0017")
    assert verify(database).ok


def test_maintenance_through_the_api_and_the_command_line(
    database: str, command: Callable[..., CommandResult], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    migrations.upgrade(database)
    ok(command("axis", "maintenance", "land", "--on"))

    async def make_admin() -> ClientCredentials:
        async with standalone_session(database) as session:
            client, secret = await create_client(session, name="Admin", scopes=["admin"])
        return ClientCredentials(client.client_id, secret)

    admin = asyncio.run(make_admin())
    settings = make_settings(database_url=database, data_dir=tmp_path)
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as http:
        headers = {"Authorization": f"Bearer {fetch_token(http, admin)}", "X-Request-Id": "maintenance-off"}
        answer = http.put("/v1/admin/axis/land/maintenance", json={"maintenance": False}, headers=headers)
        assert answer.status_code == 200, answer.text
    events = run_sql(database, sa.select(EVENTS).where(EVENTS.c.action == "axis.maintenance").order_by(EVENTS.c.seq))
    by_command, by_api = events
    assert by_command["request_id"].startswith("cli-") and by_command["client_id"] is None
    assert by_command["change"] == {"database": "land", "maintenance": True}
    assert (by_api["request_id"], by_api["client_id"]) == ("maintenance-off", admin.client_id)
    assert by_api["change"] == {"database": "land", "maintenance": False}
    assert by_api["target_client"] is None and by_command["target_client"] is None
    assert verify(database).ok


# --- next to a running gateway ------------------------------------------------------------------------------------


async def _rows(url: str, statement: Any) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(statement)).mappings()]
    finally:
        await engine.dispose()


def head_seq(url: str) -> int:
    return int(run_sql(url, sa.select(HEAD.c.seq))[0]["seq"])


def wait_for_more_events(url: str, than: int) -> int:
    """The head's seq once the gateway appended past ``than`` (bounded wait: the reads keep coming)."""
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while (seq := head_seq(url)) <= than:
        assert datetime.now(UTC) < deadline, "the gateway appended nothing"
        threading.Event().wait(0.01)
    return seq


class Reads(threading.Thread):
    """Reads a record again and again, concurrently, until told to stop; counts the answers."""

    def __init__(self, base_url: str, token: str, record: str) -> None:
        super().__init__(daemon=True)
        self.base_url, self.token, self.record = base_url, token, record
        self.stop = threading.Event()
        self.answered = 0
        self.failures: list[str] = []

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", **STATED}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60) as client:

            async def worker() -> None:
                while not self.stop.is_set():
                    response = await client.get(f"/v1/databases/population/records/{self.record}", headers=headers)
                    if response.status_code != 200:
                        self.failures.append(response.text)
                    self.answered += 1

            await asyncio.gather(*(worker() for _ in range(8)))


def test_commands_append_while_a_gateway_serves_and_appends(
    database: str,
    command: Callable[..., CommandResult],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    sector_url: str,
) -> None:
    migrations.upgrade(database)

    async def setup() -> tuple[ClientCredentials, ClientCredentials, str]:
        async with standalone_session(database) as session:
            reader, reader_secret = await create_client(session, name="Reader", scopes=["population:read"])
            admin, admin_secret = await create_client(session, name="Admin", scopes=["admin"])
        (record,) = (
            row["so_dinh_danh"] for row in await _rows(sector_url, sa.select(CITIZENS.c.so_dinh_danh).limit(1))
        )
        return (
            ClientCredentials(reader.client_id, reader_secret),
            ClientCredentials(admin.client_id, admin_secret),
            record,
        )

    reader, admin, record = asyncio.run(setup())
    ok(
        command("clients", "create", "Sở Tư pháp", "--client-id", "agency-h", "--scope", "audit")
    )  # no gateway has run: the CLI makes the head
    settings = make_settings(
        database_url=database,
        data_dir=tmp_path,
        audit_seal_every_events=20,
        rate_limit_per_second=0,
        rate_limit_per_day=0,
    )
    commands = [
        ("grants", "add", "agency-h", "population", "-o", "read", "-f", "full_name"),
        ("clients", "suspend", "agency-h"),
        ("clients", "activate", "agency-h"),
        ("grants", "revoke", "2"),  # the grant just added (the reader's, made with it, is the first)
        ("keys", "rotate"),
        ("clients", "update", "agency-h", "--scope", "audit"),
    ]
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        tokens = []
        for credentials in (reader, admin):
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(credentials.client_id, credentials.client_secret),
            )
            assert answer.status_code == 200, answer.text
            tokens.append(answer.json()["access_token"])
        reads = Reads(server.url, tokens[0], record)
        reads.start()
        try:
            seen = wait_for_more_events(database, head_seq(database))
            for args in commands:
                ok(command(*args))
                # The gateway appends after each command's event: the chain interleaves both writers.
                seen = wait_for_more_events(database, head_seq(database))
            rotated = http.post("/v1/admin/signing-keys/rotate", headers={"Authorization": f"Bearer {tokens[1]}"})
            assert rotated.status_code == 201, rotated.text
            # Enough of the gateway's own events for seals made in its batches (every 20), after the commands'.
            wait_for_more_events(database, max(seen, 60))
        finally:
            reads.stop.set()
            reads.join(timeout=60)
    assert not reads.failures, reads.failures[:3]

    report = verify(database)
    assert report.ok, report.summary()
    rows = run_sql(database, sa.select(EVENTS.c.seq, EVENTS.c.request_id, EVENTS.c.action).order_by(EVENTS.c.seq))
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))  # one chain, no gap, no fork
    by_command = [row for row in rows if row["request_id"].startswith("cli-")]
    assert [row["action"] for row in by_command] == [
        "client.create",
        "grant.add",
        "client.suspend",
        "client.activate",
        "grant.revoke",
        "signing-key.rotate",
        "client.update",
    ]
    # Between two commands' events lie the gateway's.
    positions = [row["seq"] for row in by_command]
    assert all(later - earlier > 1 for earlier, later in itertools.pairwise(positions))
    assert [row["action"] for row in rows if row["action"] == "signing-key.rotate"] == ["signing-key.rotate"] * 2
    assert reads.answered + 2 + len(by_command) + 1 == len(rows)  # the reads, two tokens, the commands, the rotation
    # The gateway never took the commands' events for an alteration: it went on sealing, and sealed the head as it
    # stopped.
    seals = [row["seq"] for row in run_sql(database, sa.select(SEALS.c.seq).order_by(SEALS.c.seq))]
    assert len(seals) >= 2 and seals[-1] == len(rows)
    assert report.seals == len(seals)
