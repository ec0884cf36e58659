"""Bulk data for the scale comparisons of ``bench/run.py``: many clients with grants, a long audit trail.

    .venv/bin/python bench/scale_data.py --database-url URL --clients 10000 --audit-events 10000000

Written straight into a gateway database already at the newest migration, fast (executemany on SQLite, COPY on
PostgreSQL), in the shapes the gateway writes them:

* clients: copies of a template client (its scopes, secrets and grants), ``<template>-000001`` and so on;
* audit events: a valid hash chain (the gateway's own canonical form and hash), reads of one citizen each by the
  clients above over the last year, with their data-subject index, and the chain head moved to the last event, so
  the gateway goes on appending to it. Indexes are dropped during the load and rebuilt after it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.audit.events import PendingEvent, subject_ids
from gateway.core.db import is_sqlite, sqlite_file, to_async_url

PURPOSE = "1.001612.000.00.00.H41"
BATCH = 50_000
#: The chain head (the row a gateway creates at its first start) moved to the last event generated.
UPSERT_HEAD = (
    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at"
)


def _events(count: int, clients: list[str], seed: int = 68) -> Any:
    """``count`` chained events in batches: (rows, subject pairs, last hash)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / max(count, 1)
    prev = "0" * 64
    seq = 0
    while seq < count:
        rows: list[dict[str, Any]] = []
        subjects: list[tuple[str, int]] = []
        for _ in range(min(BATCH, count - seq)):
            seq += 1
            citizen = f"0{rng.randrange(1, 97):02d}{rng.randrange(10**9):09d}"
            event = PendingEvent(
                occurred_at=start + step * seq,
                request_id=f"bench-{seq:012d}",
                client_id=rng.choice(clients),
                actor="CB-068-0001",
                purpose=PURPOSE,
                database="population",
                operation="read",
                record_ids=(citizen,),
                outcome="allowed",
                status=200,
                reason=None,
                latency_ms=round(rng.uniform(1, 20), 2),
                response_sha256=hashlib.sha256(citizen.encode()).hexdigest(),
            )
            row = event.chained(seq, prev)
            prev = row["hash"]
            rows.append(row)
            subjects.extend((subject, seq) for subject in subject_ids(event.record_ids))
        yield rows, subjects, seq, prev


def _sqlite_add(path: str, clients: int, template: str, events: int) -> None:
    from gateway.audit._appenders import _SQLITE_EVENT_COLUMNS, _sqlite_row, _sqlite_time

    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA journal_mode=WAL")
    ids = _sqlite_clients(db, clients, template)
    if events:
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND sql IS NOT NULL"
        ).fetchall()
        for name, _sql in indexes:
            db.execute(f'DROP INDEX "{name}"')
        if db.execute("SELECT count(*) FROM audit_events").fetchone()[0]:
            raise SystemExit("the audit trail is not empty: generate events into a new gateway database")
        marks = ", ".join("?" * len(_SQLITE_EVENT_COLUMNS))
        insert = f"INSERT INTO audit_events ({', '.join(_SQLITE_EVENT_COLUMNS)}) VALUES ({marks})"
        last = (0, "0" * 64)
        for rows, subjects, seq, prev in _events(events, ids or [template]):
            db.executemany(insert, [_sqlite_row(row) for row in rows])
            db.executemany("INSERT INTO audit_subjects (subject_id, seq) VALUES (?, ?)", subjects)
            db.commit()
            last = (seq, prev)
        for _name, sql in indexes:
            db.execute(sql)
        db.execute(
            f"INSERT INTO audit_head (id, seq, hash, updated_at) VALUES (1, ?, ?, ?) {UPSERT_HEAD}",
            (last[0], last[1], _sqlite_time(datetime.now(UTC))),
        )
        db.commit()
    db.close()


def _sqlite_clients(db: sqlite3.Connection, count: int, template: str) -> list[str]:
    if not count:
        return []
    client = db.execute("SELECT * FROM clients WHERE client_id = ?", (template,)).fetchone()
    columns = [d[0] for d in db.execute("SELECT * FROM clients LIMIT 0").description]
    secrets = db.execute(
        "SELECT secret_hash, created_at FROM client_secrets WHERE client_id = ?", (template,)
    ).fetchall()
    grant_columns = [d[0] for d in db.execute("SELECT * FROM grants LIMIT 0").description if d[0] != "id"]
    grants = db.execute(f"SELECT {', '.join(grant_columns)} FROM grants WHERE client_id = ?", (template,)).fetchall()
    ids = [f"{template}-{n:06d}" for n in range(1, count + 1)]
    at = columns.index("client_id")
    db.executemany(
        f"INSERT INTO clients ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [(*client[:at], new, *client[at + 1 :]) for new in ids],
    )
    db.executemany(
        "INSERT INTO client_secrets (client_id, secret_hash, created_at) VALUES (?, ?, ?)",
        [(new, *secret) for new in ids for secret in secrets],
    )
    g = grant_columns.index("client_id")
    db.executemany(
        f"INSERT INTO grants ({', '.join(grant_columns)}) VALUES ({', '.join('?' * len(grant_columns))})",
        [(*grant[:g], new, *grant[g + 1 :]) for new in ids for grant in grants],
    )
    db.commit()
    return ids


async def _postgres_add(url: str, clients: int, template: str, events: int) -> None:
    import asyncpg
    import orjson

    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        ids = await _postgres_clients(db, clients, template)
        if not events:
            return
        if await db.fetchval("SELECT count(*) FROM audit_events"):
            raise SystemExit("the audit trail is not empty: generate events into a new gateway database")
        indexes = await db.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' AND indexname NOT LIKE '%pkey'"
        )
        for index in indexes:
            await db.execute(f'DROP INDEX "{index["indexname"]}"')
        columns = [
            r["attname"]
            for r in await db.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'audit_events'::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum"
            )
        ]
        last = (0, "0" * 64)
        for rows, subjects, seq, prev in _events(events, ids or [template]):
            records = [
                tuple(orjson.dumps(row[c]).decode() if c == "record_ids" else row[c] for c in columns) for row in rows
            ]
            await db.copy_records_to_table("audit_events", records=records, columns=columns)
            await db.copy_records_to_table("audit_subjects", records=subjects, columns=["subject_id", "seq"])
            last = (seq, prev)
        for index in indexes:
            await db.execute(index["indexdef"])
        await db.execute(
            f"INSERT INTO audit_head (id, seq, hash, updated_at) VALUES (1, $1, $2, now()) {UPSERT_HEAD}", *last
        )
        await db.execute("ANALYZE audit_events; ANALYZE audit_subjects")
    finally:
        await db.close()


async def _postgres_copy(db: Any, table: str, ids: list[str], template: str, *, skip: tuple[str, ...] = ()) -> None:
    """Copy ``template``'s rows of ``table`` once for each of ``ids`` (the client id replaced), in one statement."""
    columns = [
        r["attname"]
        for r in await db.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
            table,
        )
        if r["attname"] not in skip
    ]
    selected = ", ".join("n.id" if c == "client_id" else f"t.{c}" for c in columns)
    await db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {selected} FROM {table} t, "
        "unnest($1::text[]) AS n(id) WHERE t.client_id = $2",
        ids,
        template,
    )


async def _postgres_clients(db: Any, count: int, template: str) -> list[str]:
    if not count:
        return []
    ids = [f"{template}-{n:06d}" for n in range(1, count + 1)]
    await _postgres_copy(db, "clients", ids, template)
    await _postgres_copy(db, "client_secrets", ids, template, skip=("id",))
    await _postgres_copy(db, "grants", ids, template, skip=("id",))
    return ids


def add_scale_data(database_url: str, *, clients: int = 0, audit_events: int = 0, template: str = "bench") -> float:
    """Add ``clients`` copies of the ``template`` client and ``audit_events`` chained events to the gateway
    database at ``database_url``; the seconds it took."""
    started = time.perf_counter()
    url = to_async_url(database_url)
    if is_sqlite(url):
        _sqlite_add(str(sqlite_file(url)), clients, template, audit_events)
    else:
        asyncio.run(_postgres_add(str(url), clients, template, audit_events))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="the gateway's database (GATEWAY_DATABASE_URL)")
    parser.add_argument("--clients", type=int, default=0)
    parser.add_argument("--audit-events", type=int, default=0)
    parser.add_argument("--template", default="bench", help="the client copied")
    args = parser.parse_args()
    seconds = add_scale_data(
        args.database_url, clients=args.clients, audit_events=args.audit_events, template=args.template
    )
    print(f"added {args.clients:,} clients and {args.audit_events:,} audit events in {seconds:.1f} s")


if __name__ == "__main__":
    main()
