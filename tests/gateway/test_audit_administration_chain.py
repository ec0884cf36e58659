"""What an administrator did is chained like every other event, on SQLite and PostgreSQL: the hash covers the action,
the client acted on and what changed (the events written before schema revision 0018, which have none, keep their
hashes); a command's change is committed with its event or not at all; and a command appending while a gateway
serves and appends on the same database neither forks nor breaks the chain, nor stops the gateway sealing it.

The commands run in this process (``support.run_gateway_command``), each test on a database of its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
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
from cryptography.fernet import Fernet
from support import (
    STATED,
    TEST_DATA_KEY,
    TEST_PEPPER,
    ClientCredentials,
    CommandResult,
    InProcessGateway,
    LiveServer,
    fetch_token,
    gateway_command,
    postgres_database,
    public_pem,
    run_gateway_command,
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


def test_a_data_key_rotation_that_cannot_be_recorded_keeps_the_new_key_and_says_how_to_finish(
    database: str, tmp_path: Path
) -> None:
    """The new data key is written to the key file before anything is encrypted with it: when the database step
    (and its event) fails, the file keeps it with the older keys, every secret still decrypts, and the command says
    so, and how to finish, instead of "nothing was changed"."""
    migrations.upgrade(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | {
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_DATABASE_URL": database,
        "GATEWAY_SECRET_PEPPER": TEST_PEPPER,
        "GATEWAY_LOG_LEVEL": "WARNING",
        "PYTHONIOENCODING": "utf-8",
    }

    def run(*args: str) -> CommandResult:
        return run_gateway_command(args, env=env, cwd=tmp_path)

    ok(run("keys", "rotate"))  # a signing key, its private part encrypted with the file's data key
    key_file = tmp_path / "keys" / "data-keys"
    (first_key,) = key_file.read_text().split()
    backend = "postgresql" if database.startswith("postgresql") else "sqlite"
    for statement in REFUSE_EVENTS[backend]:
        run_sql(database, sa.text(statement))

    refused = run("keys", "rotate-data-key")
    assert refused.returncode == 1
    assert "nothing was changed" in refused.stderr and "--reencrypt-only" in refused.stderr, refused.stderr
    assert str(key_file) in refused.stderr
    new_key, old_key = key_file.read_text().split()
    assert old_key == first_key
    stored = sa.text("SELECT private_key FROM signing_keys")
    (before,) = run_sql(database, stored)
    assert Fernet(first_key).decrypt(before["private_key"].removeprefix("enc:v1:").encode())  # untouched

    for statement in ALLOW_EVENTS[backend]:
        run_sql(database, sa.text(statement))
    finished = run("keys", "rotate-data-key", "--reencrypt-only")
    assert finished.returncode == 0, finished.stderr
    assert key_file.read_text().split() == [new_key, old_key]  # no third key
    (after,) = run_sql(database, stored)
    assert Fernet(new_key).decrypt(after["private_key"].removeprefix("enc:v1:").encode())
    actions = run_sql(database, sa.select(EVENTS.c.action).where(EVENTS.c.action.is_not(None)).order_by(EVENTS.c.seq))
    assert [row["action"] for row in actions] == ["signing-key.rotate", "data-key.rotate"]


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

    admin = asyncio.run(_admin(database))
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


def test_an_api_change_whose_event_cannot_be_appended_is_not_made(
    database: str, make_settings: Callable[..., Settings], tmp_path: Path, sector_url: str
) -> None:
    """The admin API commits a change with its event: when the event is refused, the answer is a 503 that says
    so and nothing changed (before, the change was committed first and stayed)."""
    migrations.upgrade(database)
    backend = "postgresql" if database.startswith("postgresql") else "sqlite"
    settings = make_settings(database_url=database, data_dir=tmp_path)
    admin = asyncio.run(_admin(database))
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as http:
        admin_headers = {"Authorization": f"Bearer {fetch_token(http, admin)}"}
        body = {"client_id": "agency-h", "name": "Sở Tư pháp", "scopes": ["audit"]}
        created = http.post("/v1/admin/clients", json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
        agency = ClientCredentials("agency-h", created.json()["client_secret"])
        agency_token = fetch_token(http, agency)
        key_before = _token_kid(agency_token)
        signing_keys = sa.text("SELECT count(*) AS n FROM signing_keys")
        keys_before = run_sql(database, signing_keys)
        events_before = head_seq(database)

        for statement in REFUSE_EVENTS[backend]:
            run_sql(database, sa.text(statement))
        grant = {"client_id": "agency-h", "database": "population", "operations": ["read"], "fields": ["full_name"]}
        attempts: list[tuple[str, str, Any]] = [
            ("POST", "/v1/admin/grants", grant),
            ("POST", "/v1/admin/clients/agency-h/suspend", None),
            ("PATCH", "/v1/admin/clients/agency-h", {"rate_limit_per_day": 1}),
            ("POST", "/v1/admin/clients", {"client_id": "agency-i", "name": "Sở Y tế", "scopes": ["audit"]}),
            ("POST", "/v1/admin/clients/agency-h/secret", {"overlap_seconds": 0}),
            ("POST", "/v1/admin/clients/agency-h/keys", {"pem": public_pem(), "kid": "k-agency-h"}),
            ("POST", "/v1/admin/signing-keys/rotate", None),
            ("PUT", "/v1/admin/axis/land/maintenance", {"maintenance": True}),
        ]
        for method, path, payload in attempts:
            answer = http.request(method, path, json=payload, headers=admin_headers)
            assert answer.status_code == 503, (path, answer.text)
            problem = answer.json()
            assert problem["type"].endswith("/audit-unavailable"), problem
            assert "the change was not made" in problem["detail"], problem

        assert run_sql(database, sa.text("SELECT count(*) AS n FROM grants WHERE client_id = 'agency-h'")) == [{"n": 0}]
        clients = sa.text("SELECT client_id, status, rate_limit_per_day FROM clients WHERE client_id LIKE 'agency-%'")
        assert run_sql(database, clients) == [{"client_id": "agency-h", "status": "active", "rate_limit_per_day": None}]
        assert run_sql(database, sa.text("SELECT count(*) AS n FROM client_keys")) == [{"n": 0}]
        assert run_sql(database, signing_keys) == keys_before
        maintenance = sa.text("SELECT count(*) AS n FROM axis_connections WHERE maintenance")
        assert run_sql(database, maintenance) == [{"n": 0}]
        assert head_seq(database) == events_before

        for statement in ALLOW_EVENTS[backend]:
            run_sql(database, sa.text(statement))
        # Nothing of the refused changes is in force in this process either: the secret, the client, the key.
        assert _token_kid(fetch_token(http, agency)) == key_before
        agency_headers = {"Authorization": f"Bearer {agency_token}"}
        assert http.get("/v1/audit", params={"limit": 1}, headers=agency_headers).status_code == 200
        # Once the trail takes events again, the same change is made, with its event, and in force at once.
        assert http.post("/v1/admin/grants", json=grant, headers=admin_headers).status_code == 201
        read = http.get(
            f"/v1/databases/population/records/{_a_citizen(sector_url)}",
            headers={"Authorization": f"Bearer {fetch_token(http, agency)}", **STATED},
        )
        assert read.status_code == 200, read.text
        assert set(read.json()) == {"personal_id", "full_name"}  # the record's key, and the field granted
        assert http.post("/v1/admin/clients/agency-h/suspend", headers=admin_headers).status_code == 200
        assert http.get("/v1/audit", params={"limit": 1}, headers=agency_headers).status_code in {401, 403}
    events = run_sql(database, sa.select(EVENTS.c.action).where(EVENTS.c.seq > events_before).order_by(EVENTS.c.seq))
    assert [e["action"] for e in events if e["action"] is not None] == ["grant.add", "client.suspend"]
    assert verify(database).ok


def test_without_the_audit_trail_an_api_change_is_committed_alone(
    database: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A development gateway may run without the trail: nothing would commit a held change, so none is held."""
    migrations.upgrade(database)
    settings = make_settings(database_url=database, data_dir=tmp_path, audit_enabled=False)
    admin = asyncio.run(_admin(database))
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as http:
        headers = {"Authorization": f"Bearer {fetch_token(http, admin)}"}
        body = {"client_id": "agency-j", "name": "Sở Tư pháp", "scopes": ["population:read"]}
        assert http.post("/v1/admin/clients", json=body, headers=headers).status_code == 201
        assert http.post("/v1/admin/clients/agency-j/suspend", headers=headers).status_code == 200
        assert http.get("/v1/admin/clients/agency-j", headers=headers).json()["status"] == "suspended"
    assert run_sql(database, sa.text("SELECT status FROM clients WHERE client_id = 'agency-j'")) == [
        {"status": "suspended"}
    ]
    assert run_sql(database, sa.select(sa.func.count()).select_from(EVENTS)) == [{"count_1": 0}]


async def _admin(database: str) -> ClientCredentials:
    async with standalone_session(database) as session:
        client, secret = await create_client(session, name="Admin", scopes=["admin"])
    return ClientCredentials(client.client_id, secret)


def _token_kid(token: str) -> str:
    header = token.split(".", maxsplit=1)[0]
    return str(orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def _a_citizen(sector_url: str) -> str:
    rows = asyncio.run(_rows(sector_url, sa.select(CITIZENS.c.so_dinh_danh).limit(1)))
    return str(rows[0]["so_dinh_danh"])


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


API_CHANGES_UNDER_LOAD = (
    ("POST", "/v1/admin/signing-keys/rotate", None),
    ("POST", "/v1/admin/clients/agency-h/suspend", None),
    ("POST", "/v1/admin/clients/agency-h/activate", None),
)


def test_commands_and_api_changes_append_while_a_gateway_serves_and_appends(
    database: str,
    command: Callable[..., CommandResult],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    sector_url: str,
) -> None:
    migrations.upgrade(database)

    async def setup() -> tuple[ClientCredentials, ClientCredentials]:
        async with standalone_session(database) as session:
            reader, reader_secret = await create_client(session, name="Reader", scopes=["population:read"])
            admin, admin_secret = await create_client(session, name="Admin", scopes=["admin"])
        return ClientCredentials(reader.client_id, reader_secret), ClientCredentials(admin.client_id, admin_secret)

    reader, admin = asyncio.run(setup())
    record = _a_citizen(sector_url)
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
        tokens = [fetch_token(http, credentials) for credentials in (reader, admin)]
        reads = Reads(server.url, tokens[0], record)
        reads.start()
        try:
            seen = wait_for_more_events(database, head_seq(database))
            for args in commands:
                ok(command(*args))
                # The gateway appends after each command's event: the chain interleaves both writers.
                seen = wait_for_more_events(database, head_seq(database))
            # The admin API's changes append in their own transactions, beside the gateway's writer.
            admin_headers = {"Authorization": f"Bearer {tokens[1]}"}
            grant = {"client_id": "agency-h", "database": "population", "operations": ["read"]}
            for method, path, payload in API_CHANGES_UNDER_LOAD:
                answer = http.request(method, path, json=payload or None, headers=admin_headers)
                assert answer.status_code in {200, 201}, answer.text
                seen = wait_for_more_events(database, head_seq(database))
            assert http.post("/v1/admin/grants", json=grant, headers=admin_headers).status_code == 201
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
    by_api = [row["action"] for row in rows if row["action"] is not None and not row["request_id"].startswith("cli-")]
    assert by_api == ["signing-key.rotate", "client.suspend", "client.activate", "grant.add"]
    # The reads, two tokens, the commands, the API's changes.
    assert reads.answered + 2 + len(by_command) + len(by_api) == len(rows)
    # The gateway never took the commands' events for an alteration: it went on sealing, and sealed the head as it
    # stopped.
    seals = [row["seq"] for row in run_sql(database, sa.select(SEALS.c.seq).order_by(SEALS.c.seq))]
    assert len(seals) >= 2 and seals[-1] == len(rows)
    assert report.seals == len(seals)
