"""The gateway's own schema: the Alembic migrations, on SQLite and on PostgreSQL, from code and from the
``alembic`` command line, agree with the SQLModel models; concurrent upgrades on PostgreSQL are serialised."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url
from sqlmodel import SQLModel
from support import free_port, postgres_database

from gateway.audit.models import AuditEvent
from gateway.core import migrations
from gateway.core.db import create_engine
from gateway.exchange.intake import unfinished_query
from gateway.exchange.models import ExchangeOperation, ExchangeReceipt
from gateway.identity.models import SigningKey

REPO = Path(__file__).resolve().parents[2]
TABLES = {
    "alembic_version",
    "clients",
    "client_secrets",
    "client_keys",
    "used_assertions",
    "grants",
    "signing_keys",
    "audit_events",
    "audit_subjects",
    "audit_head",
    "audit_seals",
    "axis_connections",
    "axis_checks",
    "axis_evidence",
    "leases",
    "ops_status",
    "exchange_receipts",
    "exchange_operations",
    "exchange_feeds",
    "exchange_changes",
    "webhook_subscriptions",
    "quality_scores",
    "quality_dimension_counts",
    "quality_rule_counts",
    "quality_worst_records",
    "quality_history",
    "axis_transitions",
    "axis_check_counts",
}
LOCK_ID = 0x6761_7465  # MIGRATION_LOCK_ID of alembic/env.py


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    else:
        with postgres_database(prefix="gwmigr") as url:
            yield url


def inspect_database(url: str, fn: Any) -> Any:
    """Run ``fn(sync_connection)`` on the database."""

    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def tables(url: str) -> set[str]:
    return set(inspect_database(url, lambda conn: sa.inspect(conn).get_table_names()))


def revision(url: str) -> str | None:
    return inspect_database(url, migrations.current_revision)  # type: ignore[no-any-return]


def differences(url: str) -> list[Any]:
    def compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, SQLModel.metadata))

    return inspect_database(url, compare)  # type: ignore[no-any-return]


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    head = migrations.head_revision()
    assert head is not None
    migrations.upgrade(database_url)
    assert tables(database_url) == TABLES
    assert revision(database_url) == head

    migrations.downgrade(database_url, "base")
    assert tables(database_url) <= {"alembic_version"}
    assert revision(database_url) is None

    migrations.upgrade(database_url)
    assert tables(database_url) == TABLES
    assert revision(database_url) == head
    migrations.upgrade(database_url)  # already at head: nothing to do
    assert revision(database_url) == head


def test_the_models_and_the_migrations_agree(database_url: str) -> None:
    migrations.upgrade(database_url)
    assert differences(database_url) == []


@pytest.mark.postgres
def test_a_downgrade_leaves_no_type_behind_on_postgresql() -> None:
    with postgres_database(prefix="gwmigr") as url:
        migrations.upgrade(url)
        migrations.downgrade(url, "base")
        types = inspect_database(
            url,
            lambda conn: conn.execute(
                sa.text("SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                        "WHERE n.nspname = 'public' AND t.typtype = 'e'")
            ).scalars().all(),
        )  # fmt: skip
        assert types == []


def test_the_migrated_schema_stores_and_reads_a_client(database_url: str) -> None:
    """The tables the migrations create are the ones the services use (statuses, JSON, UTC timestamps)."""
    from gateway.core.db import standalone_session
    from gateway.identity.access import load_access
    from gateway.identity.clients import create_client, get_client
    from gateway.identity.models import ClientStatus

    migrations.upgrade(database_url)

    async def run() -> None:
        async with standalone_session(database_url) as session:
            await create_client(session, name="Sở Y tế", scopes=["audit", "population:read"], client_id="so-y-te")
        async with standalone_session(database_url) as session:
            client = await get_client(session, "so-y-te")
            assert client is not None
            assert client.status == ClientStatus.ACTIVE
            assert client.scopes == ["audit"]
            assert client.created_at.tzinfo is not None
            access = await load_access(session, "so-y-te")
            assert access is not None
            (grant,) = access.grants
            assert (grant.database, grant.operations, grant.fields, grant.purposes) == (
                "population",
                frozenset({"read"}),
                None,
                None,
            )
            assert grant.require_purpose and grant.require_actor
            client.status = ClientStatus.SUSPENDED
            session.add(client)
            await session.commit()
        async with standalone_session(database_url) as session:
            client = await get_client(session, "so-y-te")
            assert client is not None
            assert client.status == ClientStatus.SUSPENDED

    asyncio.run(run())


# --- the alembic command line -------------------------------------------------------------------------------------


def _alembic(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    """Run the ``alembic`` command from the repository root, the database given as the gateway setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATABASE_URL"] = url
    script = Path(sys.executable).with_name("alembic")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "alembic"]
    return subprocess.run(
        [*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _plain(url: str) -> str:
    """The URL as an operator would write it (``sqlite:///``, ``postgresql://``): the gateway picks the driver."""
    parsed = make_url(url)
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=False)


def test_the_alembic_command_line(database_url: str) -> None:
    url = _plain(database_url)
    upgraded = _alembic("upgrade", "head", url=url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert tables(database_url) == TABLES

    current = _alembic("current", url=url)
    assert current.returncode == 0, current.stderr
    assert f"{migrations.head_revision()} (head)" in current.stdout

    downgraded = _alembic("downgrade", "base", url=url)
    assert downgraded.returncode == 0, downgraded.stderr
    assert revision(database_url) is None

    again = _alembic("upgrade", "head", url=url)
    assert again.returncode == 0, again.stderr
    assert revision(database_url) == migrations.head_revision()
    assert differences(database_url) == []


def test_the_alembic_command_line_shows_the_history() -> None:
    history = _alembic("history", url="sqlite://")
    assert history.returncode == 0, history.stderr
    assert "<base> -> 0001" in history.stdout
    assert f"-> {migrations.head_revision()} (head)" in history.stdout


# --- concurrent upgrades ------------------------------------------------------------------------------------------

UPGRADE = "import sys; from gateway.core import migrations; migrations.upgrade(sys.argv[1])"


def _waiting_on_lock(admin: Any, database: str) -> Any:
    return admin.fetchval(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = $1 AND d.datname = $2",
        LOCK_ID,
        database,
    )


@pytest.mark.postgres
def test_concurrent_upgrades_are_serialised_by_the_advisory_lock() -> None:
    """Two upgrade processes on one fresh database both succeed. To make them really concurrent, the test holds
    the migration lock while they start: both queue on it, then race as soon as it is released. (Without the
    lock in env.py they would not wait, and would create the same tables at once.)"""
    import asyncpg

    with postgres_database(prefix="gwmigr") as url:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        database = make_url(url).database
        assert database is not None

        async def run() -> list[tuple[int | None, str]]:
            admin = await asyncpg.connect(dsn)
            procs: list[asyncio.subprocess.Process] = []
            try:
                await admin.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
                env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
                for _ in range(2):
                    procs.append(
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-c",
                            UPGRADE,
                            url,
                            env=env,
                            stdout=asyncio.subprocess.PIPE,
                            stderr=asyncio.subprocess.STDOUT,
                        )
                    )
                deadline = time.monotonic() + 60
                while await _waiting_on_lock(admin, database) < 2:
                    if any(p.returncode is not None for p in procs) or time.monotonic() > deadline:
                        await admin.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
                        outputs = [(await p.communicate())[0].decode(errors="replace") for p in procs]
                        pytest.fail(f"the upgrades did not both wait on the migration lock: {outputs}")
                    await asyncio.sleep(0.05)
                await admin.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
                results = []
                for proc in procs:
                    output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
                    results.append((proc.returncode, output.decode(errors="replace")))
                return results
            finally:
                for proc in procs:
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
                await admin.close()

        results = asyncio.run(run())
        for returncode, output in results:
            assert returncode == 0, output
        assert tables(url) == TABLES
        assert revision(url) == migrations.head_revision()
        versions = inspect_database(
            url, lambda conn: conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        )
        assert len(versions) == 1


def test_the_code_names_the_newest_migration_as_its_head() -> None:
    # A new migration must move migrations.HEAD: the start of every gateway compares its database with it.
    assert migrations.head_revision() == migrations.HEAD


def test_the_revision_is_read_as_alembic_reads_it(database_url: str) -> None:
    assert migrations._revision_at(database_url) is None  # never migrated: no version table
    migrations.upgrade(database_url, "0011")
    assert migrations._revision_at(database_url) == "0011" == revision(database_url)
    migrations.upgrade(database_url)
    assert migrations._revision_at(database_url) == migrations.HEAD == revision(database_url)


def test_a_current_database_starts_without_loading_alembic(database_url: str) -> None:
    migrations.upgrade(database_url)
    script = (
        "import sys\n"
        "from gateway.core import migrations\n"
        f"migrations.upgrade({database_url!r})\n"
        "import asyncio\n"
        "from gateway.core.db import create_engine\n"
        f"engine = create_engine({database_url!r})\n"
        "asyncio.run(migrations.ensure_current(engine))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_an_old_database_is_still_upgraded_by_alembic(database_url: str) -> None:
    migrations.upgrade(database_url, "0011")
    script = f"from gateway.core import migrations\nmigrations.upgrade({database_url!r})\n"
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert revision(database_url) == migrations.HEAD


def test_dead_letters_quoting_the_record_lose_the_quote_at_0013(database_url: str) -> None:
    """0013: the dead letters of updates checked against the stored record, recorded with rule messages quoting its
    values, keep the fact and lose the values; other errors are left alone."""
    migrations.upgrade(database_url, "0012")
    quoting = (
        "the update would make the record break the contract: date_of_death: date_of_death 1850-01-02 is before "
        "date_of_birth 1957-07-02"
    )
    other = "the update would make the record break the contract_ (not this one): 1957-07-02"
    table = ExchangeOperation.__table__  # type: ignore[attr-defined]
    now = datetime(2026, 12, 7, tzinfo=UTC)
    common = {"receipt_id": "r", "database_id": "population", "record_id": "068157619143", "kind": "update"}
    common |= {"fields": {}, "metadata": {}, "state": "dead", "attempts": 1, "generation": 0}
    common |= {"next_attempt_at": now, "accepted_at": now}

    def plant(conn: Connection) -> None:
        for number, error in enumerate((quoting, other, None), start=1):
            conn.execute(sa.insert(table).values(id=number, position=number, last_error=error, **common))

    inspect_database(database_url, lambda conn: (plant(conn), conn.commit()))
    migrations.upgrade(database_url)
    errors = inspect_database(
        database_url,
        lambda conn: conn.execute(sa.text("SELECT last_error FROM exchange_operations ORDER BY id")).scalars().all(),
    )
    assert errors[0].startswith("the update would make the record break the contract (") and "1957" not in errors[0]
    assert errors[1:] == [other, None]


def test_operations_stored_before_0017_count_for_their_receipts_client(database_url: str) -> None:
    """0017: each operation stored before is given its receipt's client (delivered ones too: a replay queues them
    again), so that the client's queue bound counts its unfinished ones; one without a receipt is nobody's."""
    migrations.upgrade(database_url, "0016")
    now = datetime(2026, 12, 7, tzinfo=UTC)
    receipt = {"id": "r-1", "client_id": "sector-a", "database_id": "population", "idempotency_key": "k"}
    receipt |= {"request_hash": "h", "accepted": 2, "rejected": 0, "rejections": [], "created_at": now}
    common = {"database_id": "population", "record_id": "068157619143", "kind": "update", "fields": {}}
    common |= {"metadata": {}, "attempts": 0, "generation": 0, "next_attempt_at": now, "accepted_at": now}
    planted = [("r-1", "pending"), ("r-1", "delivered"), ("no-receipt", "pending")]

    def plant(conn: Connection) -> None:
        conn.execute(sa.insert(ExchangeReceipt.__table__).values(**receipt))  # type: ignore[attr-defined]
        for number, (receipt_id, state) in enumerate(planted, start=1):
            values = {"id": number, "receipt_id": receipt_id, "position": number, "state": state, **common}
            conn.execute(sa.insert(ExchangeOperation.__table__).values(**values))  # type: ignore[attr-defined]

    inspect_database(database_url, lambda conn: (plant(conn), conn.commit()))
    migrations.upgrade(database_url)
    clients = inspect_database(
        database_url,
        lambda conn: conn.execute(sa.text("SELECT client_id FROM exchange_operations ORDER BY id")).scalars().all(),
    )
    assert clients == ["sector-a", "sector-a", None]
    unfinished = inspect_database(
        database_url, lambda conn: conn.execute(unfinished_query("sector-a", "population")).scalar_one()
    )
    assert unfinished == 1


def test_a_downgrade_that_would_erase_signing_keys_is_refused_in_one_line(database_url: str, tmp_path: Path) -> None:
    """Below 0011 the signing keys' private parts would be dropped with their column (every seal they made could
    no longer be checked against a key the data key vouches for): the downgrade is refused, the database left as it
    was, and the command says so in one line, not a traceback."""
    migrations.upgrade(database_url)
    table = SigningKey.__table__  # type: ignore[attr-defined]
    created = datetime(2026, 12, 7, tzinfo=UTC)
    key = {"kid": "k1", "algorithm": "ES256", "public_jwk": {"kty": "EC"}, "created_at": created, "serial": 1}
    inspect_database(
        database_url,
        lambda conn: (conn.execute(sa.insert(table).values(private_key="enc:v1:x", **key)), conn.commit()),
    )
    with pytest.raises(migrations.MigrationRefused, match="1 signing keys keep their private part"):
        migrations.downgrade(database_url, "0009")
    assert revision(database_url) == migrations.HEAD
    held = inspect_database(
        database_url, lambda conn: conn.execute(sa.text("SELECT private_key FROM signing_keys")).scalars().all()
    )
    assert held == ["enc:v1:x"]
    refused = _alembic_cli("db", "downgrade", "0009", url=_plain(database_url), data_dir=tmp_path)
    assert refused.returncode == 1
    assert "signing keys keep their private part" in refused.stderr and "Traceback" not in refused.stderr
    assert revision(database_url) == migrations.HEAD
    unknown = _alembic_cli("db", "upgrade", "0099", url=_plain(database_url), data_dir=tmp_path)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "Can't locate revision" in unknown.stderr


def test_a_downgrade_that_would_cut_hashed_audit_fields_is_refused(database_url: str) -> None:
    """Below 0014 the fields audit events name would be dropped, though their hashes cover them (the chain would no
    longer verify from the first of them): refused while one names any, allowed while none does."""
    migrations.upgrade(database_url)
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    event = {"seq": 1, "occurred_at": datetime(2026, 12, 7, tzinfo=UTC), "request_id": "r", "operation": "read"}
    event |= {"record_ids": [], "outcome": "allowed", "status": 200, "latency_ms": 1.0, "response_sha256": "0" * 64}
    event |= {"prev_hash": "0" * 64, "hash": "1" * 64}
    inspect_database(database_url, lambda conn: (conn.execute(sa.insert(table).values(**event)), conn.commit()))
    migrations.downgrade(database_url, "0013")  # no event names fields: nothing lost
    migrations.upgrade(database_url)
    named = sa.text("UPDATE audit_events SET fields = '[\"full_name\"]'")
    inspect_database(database_url, lambda conn: (conn.execute(named), conn.commit()))
    with pytest.raises(migrations.MigrationRefused, match="1 audit events name the fields they disclosed"):
        migrations.downgrade(database_url, "0013")
    assert revision(database_url) == migrations.HEAD


def _alembic_cli(*args: str, url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """``gateway ARGS`` in a process of its own (what it prints on stderr is all its own: no logging of another
    command run in this process), with the database and the data directory given as the gateway settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATABASE_URL": url, "GATEWAY_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_database_a_newer_version_migrated_is_named_by_serve_and_db_upgrade(tmp_path: Path) -> None:
    """Rolled back to this version without downgrading first: `gateway serve` (which migrates) and `gateway db
    upgrade` say what happened and what to run, in one line, exit 1 (serve ended in a traceback)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrations.upgrade(url)
    ahead = f"{int(migrations.HEAD) + 1:04d}"
    inspect_database(
        url,
        lambda conn: (
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": ahead}),
            conn.commit(),
        ),
    )
    for args in (("serve", "--port", str(free_port())), ("db", "upgrade")):
        result = _alembic_cli(*args, url=_plain(url), data_dir=tmp_path)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert f"at revision {ahead}, newer than this version" in result.stderr
        assert f"`gateway db downgrade {migrations.HEAD}`" in result.stderr
