"""The gateway's database files are private to its user whatever the umask: created 0600 with their journal
files, and an existing database (of an installation made before) tightened when the gateway opens it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.core.db import create_engine

FILES = ("gateway.db", "gateway.db-wal", "gateway.db-shm")


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def write(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("CREATE TABLE IF NOT EXISTS t (v TEXT)"))
            await connection.execute(sa.text("INSERT INTO t VALUES ('a submitted value')"))
        async with engine.connect() as connection:  # the journal files exist while a connection is open
            await connection.execute(sa.text("SELECT count(*) FROM t"))
            database = Path(url.removeprefix("sqlite+aiosqlite:///"))
            companions = [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm")]
            assert all(path.exists() for path in companions)
            assert [mode(path) for path in companions] == [0o600, 0o600]
    finally:
        await engine.dispose()


def test_a_new_database_and_its_directory_are_private(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "var" / "gateway.db"
    asyncio.run(write(f"sqlite+aiosqlite:///{database}"))
    assert mode(database.parent) == 0o700
    assert mode(database) == 0o600


def test_an_existing_database_is_tightened(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "gateway.db"
    # A database made by an earlier version: 0644, and in use (its journal files present, 0644 too).
    with closing(sqlite3.connect(database)) as earlier:
        earlier.execute("PRAGMA journal_mode=WAL")
        earlier.execute("CREATE TABLE t (v TEXT)")
        earlier.commit()
        for path in tmp_path.iterdir():
            path.chmod(0o644)
        assert {path.name: mode(path) for path in tmp_path.iterdir()} == dict.fromkeys(FILES, 0o644)
        asyncio.run(write(f"sqlite+aiosqlite:///{database}"))
        assert {path.name: mode(path) for path in tmp_path.iterdir()} == dict.fromkeys(FILES, 0o600)
