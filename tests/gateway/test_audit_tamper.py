"""Audit tamper tests: a chain written by the real writer (sealed every 10 events), then edited with SQL the way an
attacker with write access to the database would; ``gateway audit verify`` must exit 1 naming the first bad event,
on SQLite and on PostgreSQL. The limits of what it can see (after the last seal) are pinned down too."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from support import command_in_process, postgres_database
from typer.testing import CliRunner

from gateway.audit._seals import make_seal
from gateway.audit.events import PendingEvent, event_hash
from gateway.audit.storage import EVENTS, HEAD, SEALS, SIGNING_KEYS, SUBJECTS, audit_engine
from gateway.audit.writer import AuditWriter, WriterOptions
from gateway.cli import app
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.identity.datakeys import DataKeys, new_key
from gateway.identity.key_material import SigningKeyFile, new_signing_key
from gateway.identity.signing_keys import active_signing_key, ensure_signing_key, published_keys, rotate_signing_key

SEALED = 30  # events written by a sealing writer (seals at 10, 20, 30)
UNSEALED = 5  # then events written after the last seal (seq 31..35)
LAST = SEALED + UNSEALED
SEAL_EVERY = 10


@dataclass(frozen=True)
class Trail:
    url: str
    data_dir: Path

    @property
    def settings(self) -> Settings:
        """The settings of the trail's gateway: its database, and its data directory with the data key file."""
        return Settings(database_url=self.url, data_dir=self.data_dir)


def pending(n: int) -> PendingEvent:
    record_ids = tuple(f"0680990{n:05d}" for _ in range(n % 3))  # 0, 1 or 2 (twice the same) record ids
    return PendingEvent(
        occurred_at=datetime(2026, 11, 27, 8, 0, tzinfo=UTC) + timedelta(seconds=n, microseconds=n),
        request_id=f"req-{n}",
        client_id=f"client-{n % 4}",
        actor="CB-068-0001" if n % 2 else None,
        purpose="1.001612.000.00.00.H41",
        database="population" if n % 5 else None,
        operation="read" if n % 5 else "token",
        record_ids=record_ids,
        outcome="allowed" if n % 7 else "refused",
        status=200 if n % 7 else 403,
        reason=None if n % 7 else "access-denied",
        latency_ms=1.25 + n / 1000,
        response_sha256=f"{n:064x}",
    )


async def write_chain(trail: Trail) -> None:
    # The gateway's key, as its first start makes it: stored with its private part encrypted with the data key.
    async with standalone_session(trail.url) as session:
        key = await ensure_signing_key(session, trail.settings, DataKeys.from_settings(trail.settings))
    url = trail.url
    sealing = AuditWriter(
        audit_engine(url, writer=True),
        WriterOptions(batch_wait_seconds=0, seal_every_events=SEAL_EVERY),
        signing_key=lambda: key,
    )
    await sealing.start()
    for n in range(1, SEALED + 1):
        await sealing.append(pending(n))
    await sealing.close()
    unsealing = AuditWriter(audit_engine(url, writer=True), WriterOptions(batch_wait_seconds=0))
    await unsealing.start()
    for n in range(SEALED + 1, LAST + 1):
        await unsealing.append(pending(n))
    await unsealing.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def trail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Trail]:
    """A fresh gateway database holding a chain of 35 events, sealed at 10, 20 and 30."""

    def build(url: str) -> Trail:
        migrations.upgrade(url)
        trail = Trail(url, tmp_path)
        asyncio.run(write_chain(trail))
        return trail

    if request.param == "sqlite":
        yield build(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    else:
        with postgres_database(prefix="gwaudit") as url:
            yield build(url)


def sql(trail: Trail, *statements: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = create_engine(trail.url)
        rows: list[dict[str, Any]] = []
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    result = await conn.execute(sa.text(statement) if isinstance(statement, str) else statement)
                    if result.returns_rows:
                        rows = [dict(row) for row in result.mappings()]
        finally:
            await engine.dispose()
        return rows

    return asyncio.run(run())


def event(trail: Trail, seq: int) -> dict[str, Any]:
    return sql(trail, sa.select(EVENTS).where(EVENTS.c.seq == seq))[0]


def rewrite(trail: Trail, seq: int, **changes: Any) -> str:
    """Change an event and recompute its hash, as an attacker who knows the algorithm would; its new hash."""
    row = {**event(trail, seq), **changes}
    row["hash"] = event_hash(row)
    sql(trail, sa.update(EVENTS).where(EVENTS.c.seq == seq).values(**{k: v for k, v in row.items() if k != "seq"}))
    return str(row["hash"])


def move_head(trail: Trail, seq: int) -> None:
    sql(trail, sa.update(HEAD).values(seq=seq, hash=event(trail, seq)["hash"]))


def command(trail: Trail, *args: str, data_dir: Path | None = None) -> tuple[int, str]:
    """``gateway ARGS`` on the trail's database, with its data directory (its data key file) or ``data_dir``: the
    exit status and the output."""
    with command_in_process():
        result = CliRunner().invoke(
            app,
            list(args),
            env={"GATEWAY_DATABASE_URL": trail.url, "GATEWAY_DATA_DIR": str(data_dir or trail.data_dir)},
        )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def verify(trail: Trail, *args: str, data_dir: Path | None = None) -> tuple[int, str]:
    """``gateway audit verify ARGS`` on the trail's database: its exit status and its output."""
    return command(trail, "audit", "verify", *args, data_dir=data_dir)


def assert_caught(trail: Trail, seq: int, *words: str, args: tuple[str, ...] = ()) -> None:
    code, output = verify(trail, *args)
    assert code == 1, output
    assert f"first bad event seq {seq}:" in output, output
    for word in words:
        assert word in output, output
    assert "Traceback" not in output


def test_an_untouched_trail_verifies(trail: Trail) -> None:
    code, output = verify(trail)
    assert code == 0, output
    assert f"intact: {LAST} events (seq 1..{LAST})" in output
    assert f"3 seals verified, the last at seq {SEALED} ({UNSEALED} events after it)" in output
    head = event(trail, LAST)["hash"]
    assert head in output
    code, output = verify(trail, "--anchor", f"{LAST}:{head}", "--anchor", f"12:{event(trail, 12)['hash']}")
    assert code == 0, output
    assert "2 anchors matched" in output


def test_an_edited_field_is_caught(trail: Trail) -> None:
    sql(trail, "UPDATE audit_events SET purpose = 'another-purpose' WHERE seq = 12")
    assert_caught(trail, 12, "altered")


def test_an_edited_record_id_is_caught(trail: Trail) -> None:
    sql(trail, sa.update(EVENTS).where(EVENTS.c.seq == 4).values(record_ids=["068099999999"]))
    assert_caught(trail, 4, "altered")


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(trail: Trail) -> None:
    rewrite(trail, 12, client_id="someone-else")
    assert_caught(trail, 13, "prev_hash", "seq 12 was rewritten")


def test_a_rewritten_chain_up_to_the_head_is_caught_by_the_seal(trail: Trail) -> None:
    previous = event(trail, 11)["hash"]
    for seq in range(12, LAST + 1):
        changes = {"client_id": "someone-else"} if seq == 12 else {}
        previous = rewrite(trail, seq, prev_hash=previous, **changes)
    move_head(trail, LAST)
    assert_caught(trail, 20, "differs from the sealed one")


def test_a_deleted_event_is_caught(trail: Trail) -> None:
    sql(trail, "DELETE FROM audit_events WHERE seq = 17", "DELETE FROM audit_subjects WHERE seq = 17")
    assert_caught(trail, 17, "missing", "jumps from seq 16 to seq 18")


def test_a_deleted_first_event_is_caught(trail: Trail) -> None:
    sql(trail, "DELETE FROM audit_events WHERE seq = 1", "DELETE FROM audit_subjects WHERE seq = 1")
    assert_caught(trail, 1, "missing", "starts at seq 2")


def test_two_swapped_events_are_caught(trail: Trail) -> None:
    five, six = event(trail, 5), event(trail, 6)
    content = [c.name for c in EVENTS.columns if c.name != "seq"]
    sql(
        trail,
        sa.update(EVENTS).where(EVENTS.c.seq == 5).values(**{c: six[c] for c in content}),
        sa.update(EVENTS).where(EVENTS.c.seq == 6).values(**{c: five[c] for c in content}),
    )
    assert_caught(trail, 5)


def test_two_renumbered_events_are_caught(trail: Trail) -> None:
    sql(
        trail,
        "UPDATE audit_events SET seq = -5 WHERE seq = 5",
        "UPDATE audit_events SET seq = 5 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = -5",
    )
    assert_caught(trail, 5, "altered")


def test_an_inserted_event_is_caught(trail: Trail) -> None:
    # Made room for at seq 8, with a correct hash and link: the event after it no longer links.
    for table in ("audit_events", "audit_subjects"):
        sql(trail, *(f"UPDATE {table} SET seq = seq + 1 WHERE seq = {seq}" for seq in range(LAST, 7, -1)))
    forged = pending(99).chained(8, event(trail, 7)["hash"])
    sql(trail, sa.insert(EVENTS).values(**forged))
    assert_caught(trail, 9, "altered")


def test_an_event_appended_behind_the_gateways_back_is_caught(trail: Trail) -> None:
    forged = pending(99).chained(LAST + 1, event(trail, LAST)["hash"])
    sql(trail, sa.insert(EVENTS).values(**forged))
    assert_caught(trail, LAST + 1, "beyond the head")


def test_a_truncated_tail_is_caught_by_the_head(trail: Trail) -> None:
    sql(trail, f"DELETE FROM audit_events WHERE seq > {LAST - 3}", f"DELETE FROM audit_subjects WHERE seq > {LAST - 3}")
    assert_caught(trail, LAST - 2, "truncated", f"head is at seq {LAST}")


def test_a_truncated_tail_with_the_head_moved_back_is_caught_by_a_later_seal(trail: Trail) -> None:
    sql(trail, "DELETE FROM audit_events WHERE seq > 24", "DELETE FROM audit_subjects WHERE seq > 24")
    move_head(trail, 24)
    assert_caught(trail, 25, "seq 30 was sealed", "truncated")


def test_a_truncation_that_also_removes_the_seals_is_caught_only_by_an_anchor(trail: Trail) -> None:
    kept_outside = f"{SEALED}:{event(trail, SEALED)['hash']}"  # e.g. the seal's log line
    sql(
        trail,
        "DELETE FROM audit_events WHERE seq > 24",
        "DELETE FROM audit_subjects WHERE seq > 24",
        "DELETE FROM audit_seals WHERE seq > 24",
    )
    move_head(trail, 24)
    code, output = verify(trail)
    assert code == 0, output  # the documented limit: nothing left in the database shows the cut
    assert "intact: 24 events" in output
    assert_caught(trail, 25, "anchored", "truncated", args=("--anchor", kept_outside))


def test_a_truncation_after_the_last_seal_is_invisible_without_an_anchor(trail: Trail) -> None:
    kept_outside = f"{LAST}:{event(trail, LAST)['hash']}"
    sql(
        trail,
        f"DELETE FROM audit_events WHERE seq > {SEALED + 2}",
        f"DELETE FROM audit_subjects WHERE seq > {SEALED + 2}",
    )
    move_head(trail, SEALED + 2)
    code, output = verify(trail)
    assert code == 0, output  # the documented limit
    assert_caught(trail, SEALED + 3, "truncated", args=("--anchor", kept_outside))


def test_a_forged_or_unknown_seal_is_caught(trail: Trail) -> None:
    signature = sql(trail, sa.select(SEALS.c.signature).where(SEALS.c.seq == 20))[0]["signature"]
    head, payload, sig = signature.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    sql(trail, sa.update(SEALS).where(SEALS.c.seq == 20).values(signature=forged))
    assert_caught(trail, 20, "seal", "not valid")
    sql(trail, sa.update(SEALS).where(SEALS.c.seq == 20).values(signature=signature))
    sql(trail, "DELETE FROM signing_keys")
    assert_caught(trail, 10, "not published")


def test_a_seal_moved_to_another_event_is_caught(trail: Trail) -> None:
    sql(trail, sa.update(SEALS).where(SEALS.c.seq == 20).values(seq=21, hash=event(trail, 21)["hash"]))
    assert_caught(trail, 21, "seal", "does not match")


def test_a_rewritten_head_is_caught(trail: Trail) -> None:
    sql(trail, sa.update(HEAD).values(hash="f" * 64))
    assert_caught(trail, LAST, "head")


def test_an_altered_index_of_data_subjects_is_caught(trail: Trail) -> None:
    indexed = sql(trail, sa.select(SUBJECTS).where(SUBJECTS.c.seq == 7))
    assert indexed == [{"subject_id": "068099000007", "seq": 7}]
    sql(trail, "DELETE FROM audit_subjects WHERE seq = 7")
    assert_caught(trail, 7, "audit_subjects")
    sql(trail, sa.insert(SUBJECTS).values(indexed))
    code, _ = verify(trail)
    assert code == 0
    sql(trail, sa.insert(SUBJECTS).values(subject_id="068099123456", seq=9))  # framing someone: a look never made
    assert_caught(trail, 9, "audit_subjects")


def test_the_command_exits_non_zero_as_a_process(trail: Trail) -> None:
    """The real ``gateway`` command, for scripts and monitoring: exit status and message on stderr."""
    sql(trail, "UPDATE audit_events SET status = 200 WHERE seq = 7")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATABASE_URL=trail.url, GATEWAY_DATA_DIR=str(trail.data_dir))
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify"],
        cwd=trail.data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "first bad event seq 7:" in result.stderr
    assert result.stdout == ""


# -- whose keys the seals are signed with -----------------------------------------------------------------------


def signing_keys(trail: Trail) -> list[dict[str, Any]]:
    return sql(trail, sa.select(SIGNING_KEYS).order_by(SIGNING_KEYS.c.created_at))


def reseal(trail: Trail, key: SigningKeyFile) -> None:
    """Sign every seal again with ``key``, over the chain's hash at its seq as it is now."""
    for seal in sql(trail, sa.select(SEALS)):
        forged = make_seal(key, seal["seq"], event(trail, seal["seq"])["hash"], seal["sealed_at"])
        sql(
            trail,
            sa.update(SEALS)
            .where(SEALS.c.seq == seal["seq"])
            .values(hash=forged.hash, kid=forged.kid, signature=forged.signature),
        )


def rewrite_from(trail: Trail, seq: int) -> None:
    """Change event ``seq``, recompute every hash and link to the end, and move the head there."""
    previous = event(trail, seq - 1)["hash"]
    for n in range(seq, LAST + 1):
        previous = rewrite(trail, n, prev_hash=previous, **({"client_id": "someone-else"} if n == seq else {}))
    move_head(trail, LAST)


FORGERIES = {
    # A key of the attacker's own, published without a private part.
    "a-public-key-added": "the database holds no private part",
    # ... with the encrypted private part of the gateway's key copied beside it.
    "a-private-part-copied": "is another key's",
    # ... with its own private part, encrypted with a data key of the attacker's.
    "a-private-part-under-another-data-key": "no data key decrypts",
    # The gateway's key's public half replaced by the attacker's, under the gateway's kid.
    "the-public-key-replaced": "signature is not valid",
}


def forge_seals(trail: Trail, how: str) -> None:
    """What someone with write access to the database, but not the data key, can do to the seals: sign them
    with a key of their own, made to look like the gateway's."""
    key = new_signing_key("ES256")
    gateway_key = signing_keys(trail)[0]
    row: dict[str, Any] = {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "public_jwk": key.jwk,
        "created_at": datetime.now(UTC),
        "retired_at": datetime.now(UTC),
    }
    if how == "a-public-key-added":
        sql(trail, sa.insert(SIGNING_KEYS).values(row))
    elif how == "a-private-part-copied":
        sql(trail, sa.insert(SIGNING_KEYS).values({**row, "private_key": gateway_key["private_key"]}))
    elif how == "a-private-part-under-another-data-key":
        private = DataKeys(keys=[new_key()]).encrypt(key.pem.decode())
        sql(trail, sa.insert(SIGNING_KEYS).values({**row, "private_key": private}))
    else:
        key = SigningKeyFile(pem=key.pem, algorithm=key.algorithm, jwk={**key.jwk, "kid": gateway_key["kid"]})
        sql(trail, sa.update(SIGNING_KEYS).where(SIGNING_KEYS.c.kid == key.kid).values(public_jwk=key.jwk))
    reseal(trail, key)


@pytest.mark.parametrize("how", list(FORGERIES))
def test_a_chain_rewritten_and_resealed_with_a_key_not_the_gateways_is_caught(trail: Trail, how: str) -> None:
    """An event below the seals rewritten, the chain recomputed to its head, and every seal signed again with a
    key the attacker put in the database: the seals' signatures are valid, but not by the gateway's key."""
    rewrite_from(trail, 7)
    forge_seals(trail, how)
    assert_caught(trail, SEAL_EVERY, "seal", FORGERIES[how])


def test_an_auditor_without_the_data_key_verifies_with_the_published_keys(trail: Trail, tmp_path: Path) -> None:
    async def published() -> list[dict[str, Any]]:
        async with standalone_session(trail.url) as session:
            return await published_keys(session, token_ttl_seconds=trail.settings.token_ttl_seconds)

    jwks = tmp_path / "auditor" / "jwks.json"  # /.well-known/jwks.json, saved while the keys were published
    jwks.parent.mkdir()
    jwks.write_bytes(orjson.dumps({"keys": asyncio.run(published())}))
    elsewhere = tmp_path / "auditor" / "data"  # no data key there
    code, output = verify(trail, data_dir=elsewhere)
    assert code == 3, output
    assert "no data key" in output
    assert "--trusted-keys" in output
    code, output = verify(trail, "--trusted-keys", str(jwks), data_dir=elsewhere)
    assert code == 0, output
    assert "3 seals verified" in output
    rewrite_from(trail, 7)
    forge_seals(trail, "a-private-part-copied")
    assert_caught(trail, SEAL_EVERY, "not trusted", args=("--trusted-keys", str(jwks)))
    code, output = verify(trail, "--trusted-keys", str(jwks), data_dir=elsewhere)
    assert code == 1, output
    assert f"first bad event seq {SEAL_EVERY}:" in output
    assert "no data key was given" in output


@pytest.mark.parametrize("content", [b"not json", b'{"keys": [{"kty": "EC"}]}', b"[]"])
def test_a_file_of_trusted_keys_that_is_no_jwks_is_refused(trail: Trail, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(content)
    code, output = verify(trail, "--trusted-keys", str(path))
    assert code == 2, output
    assert "--trusted-keys" in output
    assert "JSON" in output or "JWKS" in output
    assert "Traceback" not in output


def test_seals_of_rotated_keys_verify_after_the_data_key_is_rotated(trail: Trail) -> None:
    """Seals made with a key retired since, and the data key rotated (the old one dropped): the retired key keeps
    its private part, encrypted again, so its seals stay verifiable."""
    before = signing_keys(trail)[0]["kid"]

    async def rotate_and_seal() -> str:
        settings = trail.settings
        async with standalone_session(trail.url) as session:
            rotation = await rotate_signing_key(session, settings, DataKeys.from_settings(settings))
        async with standalone_session(trail.url) as session:
            key = await active_signing_key(session, DataKeys.from_settings(settings))
        sealing = AuditWriter(
            audit_engine(trail.url, writer=True),
            WriterOptions(batch_wait_seconds=0, seal_every_events=SEAL_EVERY),
            signing_key=lambda: key,
        )
        await sealing.start()
        for n in range(LAST + 1, LAST + SEAL_EVERY + 1):
            await sealing.append(pending(n))
        await sealing.close()
        return rotation.kid

    after = asyncio.run(rotate_and_seal())
    old_data_key = trail.settings.data_key_file_path.read_text()
    code, output = command(trail, "keys", "rotate-data-key", "--drop-old")
    assert code == 0, output
    assert trail.settings.data_key_file_path.read_text() != old_data_key
    kids = {seal["kid"] for seal in sql(trail, sa.select(SEALS))}
    assert kids == {before, after}
    code, output = verify(trail)
    assert code == 0, output
    assert "4 seals verified" in output
    assert "nothing vouches" not in output


def test_seals_by_a_key_without_its_private_part_count_only_below_a_seal_by_the_gateways_key(trail: Trail) -> None:
    """A key published without its private part (as the file-based versions did, and a retired key of theirs
    stays): its seals add nothing, but take nothing away, below a seal by a key the data keys vouch for."""
    legacy = new_signing_key("ES256")

    async def append(key: SigningKeyFile | None, first: int, count: int) -> None:
        writer = AuditWriter(
            audit_engine(trail.url, writer=True),
            WriterOptions(batch_wait_seconds=0, seal_every_events=SEAL_EVERY),
            signing_key=None if key is None else lambda: key,
        )
        await writer.start()
        for n in range(first, first + count):
            await writer.append(pending(n))
        await writer.close()

    asyncio.run(append(legacy, LAST + 1, SEAL_EVERY))  # the writer publishes it, public half only
    legacy_seal = LAST + SEAL_EVERY
    assert_caught(trail, legacy_seal, "not trusted", legacy.kid, "the database holds no private part")

    async def gateway_key() -> SigningKeyFile:
        async with standalone_session(trail.url) as session:
            return await active_signing_key(session, DataKeys.from_settings(trail.settings))

    asyncio.run(append(asyncio.run(gateway_key()), legacy_seal + 1, SEAL_EVERY))
    code, output = verify(trail)
    assert code == 0, output
    assert f"5 seals verified, the last at seq {legacy_seal + SEAL_EVERY} (0 events after it)" in output
    assert f"1 of them by keys nothing vouches for ({legacy.kid}), covered by the seal at seq" in output


def test_a_rewrite_that_also_removes_the_seals_above_it_is_caught_only_by_an_anchor(trail: Trail) -> None:
    kept_outside = f"{SEALED}:{event(trail, SEALED)['hash']}"  # e.g. the seal's log line
    rewrite_from(trail, 12)
    sql(trail, "DELETE FROM audit_seals WHERE seq > 10")
    code, output = verify(trail)
    assert code == 0, output  # the documented limit: what lies above the last seal left is not proven
    assert f"the last at seq 10 ({LAST - 10} events after it)" in output
    assert_caught(trail, SEALED, "anchor", args=("--anchor", kept_outside))


def test_the_seal_command_signs_nothing_the_anchor_kept_does_not_vouch_for(trail: Trail) -> None:
    """`gateway audit seal` signs the head it finds: after a rewrite with the seals above it removed, its seal would
    make the rewritten chain the gateway's. Given the last anchor kept, it seals nothing unless the chain holds it."""
    kept_outside = f"{SEALED}:{event(trail, SEALED)['hash']}"
    rewrite_from(trail, 12)
    sql(trail, "DELETE FROM audit_seals WHERE seq > 10")
    code, output = command(trail, "audit", "seal", "--anchor", kept_outside)
    assert code == 1, output
    assert "not sealed" in output and f"seq {SEALED}" in output and "Traceback" not in output
    assert [row["seq"] for row in sql(trail, sa.select(SEALS.c.seq))] == [10]
    sql(trail, "DELETE FROM audit_events WHERE seq > 20", "DELETE FROM audit_subjects WHERE seq > 20")
    move_head(trail, 20)
    code, output = command(trail, "audit", "seal", "--anchor", kept_outside)
    assert code == 1 and "cut" in output, output
    code, output = command(trail, "audit", "seal", "--anchor", "12:" + "0" * 64)
    assert code == 1 and "rewritten" in output, output
    assert [row["seq"] for row in sql(trail, sa.select(SEALS.c.seq))] == [10]
    # The chain as it is holds its own head: sealed.
    code, output = command(trail, "audit", "seal", "--anchor", f"20:{event(trail, 20)['hash']}")
    assert code == 0, output
    assert f"\n20:{event(trail, 20)['hash']}\n" in output, output


# -- the gateway's periodic verification runs in a child process -------------------------------------------------


def test_the_periodic_verification_in_a_child_process_finds_what_the_command_finds(trail: Trail) -> None:
    from gateway.audit.verify import verify_in_child

    ok, summary = asyncio.run(verify_in_child(trail.url, settings=trail.settings))
    assert ok, summary
    assert f"{LAST} events" in summary
    sql(trail, sa.update(EVENTS).where(EVENTS.c.seq == 33).values(client_id="someone-else"))
    ok, summary = asyncio.run(verify_in_child(trail.url, settings=trail.settings))
    assert not ok
    assert "33" in summary


def test_the_child_checks_the_seals_with_the_data_keys_of_its_environment(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given no settings, the child takes those of the environment it inherits (the gateway's, when the command
    started it); without a data key, a seal proves nothing."""
    from gateway.audit.verify import verify_in_child

    for name in [name for name in os.environ if name.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", trail.url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(trail.data_dir))
    ok, summary = asyncio.run(verify_in_child(trail.url))
    assert ok, summary
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(trail.data_dir / "elsewhere"))
    ok, summary = asyncio.run(verify_in_child(trail.url))
    assert not ok
    assert "no data key was given" in summary


def test_the_child_says_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    from gateway.audit.verify import VerificationUnavailable, verify_in_child

    with pytest.raises(VerificationUnavailable):  # a closed port on loopback: connection refused
        asyncio.run(verify_in_child("postgresql+asyncpg://postgres@127.0.0.1:9/none"))


def test_a_cancelled_verification_kills_its_child(trail: Trail, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.audit import verify

    started: list[asyncio.subprocess.Process] = []
    real = asyncio.create_subprocess_exec

    async def cancel_it() -> None:
        running = asyncio.Event()

        async def spy(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
            process = await real(*args, **kwargs)
            started.append(process)
            running.set()
            return process

        monkeypatch.setattr(verify.asyncio, "create_subprocess_exec", spy)
        task = asyncio.create_task(verify.verify_in_child(trail.url, settings=trail.settings))
        await running.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())
    assert started[0].returncode is not None  # killed and reaped, not left running


def test_the_verifying_child_leaves_no_metrics_files_beside_the_workers(
    trail: Trail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.audit.verify import verify_in_child

    metrics = tmp_path / "metrics"
    metrics.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))
    ok, summary = asyncio.run(verify_in_child(trail.url, settings=trail.settings))
    assert ok, summary
    assert list(metrics.iterdir()) == []


# -- a live trail: the gateway appends while it is verified ------------------------------------------------------


@pytest.mark.parametrize("reader", ["plain", "audit"])  # the periodic verification's engine, and the command's
def test_a_trail_appended_to_during_its_verification_is_verified_as_of_one_moment(trail: Trail, reader: str) -> None:
    """The head is read first, the events after it: events a writer commits in between must not be read as
    appended behind the gateway's back (a false alarm of tampering on every busy gateway)."""
    from gateway.audit.verify import verify_trail

    def append_more() -> None:
        async def more() -> None:
            writer = AuditWriter(audit_engine(trail.url, writer=True), WriterOptions(batch_wait_seconds=0))
            await writer.start()
            for n in range(LAST + 1, LAST + 4):
                await writer.append(pending(n))
            await writer.close()

        asyncio.run(more())

    def after_the_head_is_read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM audit_head" in statement and not appended:
            appended.append(True)
            writer = threading.Thread(target=append_more)  # its own loop and connections: it commits meanwhile
            writer.start()
            writer.join()

    async def verify_while_appending() -> tuple[Any, Any]:
        engine = create_engine(trail.url) if reader == "plain" else audit_engine(trail.url, writer=False)
        sa.event.listen(engine.sync_engine, "after_cursor_execute", after_the_head_is_read)
        try:
            data_keys = DataKeys.from_settings(trail.settings)
            during = await verify_trail(engine, data_keys=data_keys)
            after = await verify_trail(engine, data_keys=data_keys)
        finally:
            await engine.dispose()
        return during, after

    appended: list[bool] = []
    during, after = asyncio.run(verify_while_appending())
    assert appended
    assert during.ok, during.summary()
    assert (during.events, during.head) == (LAST, (LAST, during.last_hash)), during.summary()
    assert after.ok, after.summary()
    assert after.events == LAST + 3, after.summary()
