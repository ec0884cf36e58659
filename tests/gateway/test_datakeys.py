"""Data keys: the newest encrypts, every key decrypts, re-encryption moves values to the newest key, and the key
file is generated private and followed when it changes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from support import TEST_PEPPER

from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.exchange.models import WebhookSubscription
from gateway.identity.datakeys import PREFIX, DataKeyError, DataKeys, new_key, write_key_file


def test_the_newest_key_encrypts_and_every_key_decrypts(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    before = DataKeys(keys=[old]).encrypt("s3cret")
    assert before.startswith(PREFIX) and "s3cret" not in before
    both = DataKeys(keys=[new, old])
    assert both.decrypt(before) == "s3cret"
    moved = both.reencrypt(before)
    assert Fernet(new.encode()).decrypt(moved[len(PREFIX) :].encode()) == b"s3cret"
    assert DataKeys(keys=[new]).decrypt(moved) == "s3cret"
    with pytest.raises(DataKeyError):
        DataKeys(keys=[new]).decrypt(before)
    assert both.decrypt("legacy-plaintext") == "legacy-plaintext"  # rows from before encryption
    assert both.reencrypt("legacy-plaintext").startswith(PREFIX)
    with pytest.raises(DataKeyError):
        DataKeys(keys=["not a key"])


def test_the_key_file_is_generated_private_and_reloaded_when_it_changes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, log_level="WARNING")
    keys = DataKeys.from_settings(settings)
    path = settings.data_key_file_path
    assert path.stat().st_mode & 0o777 == 0o600
    stored = keys.encrypt("s3cret")
    first = path.read_text().split()
    write_key_file(path, [new_key(), *first])
    again = keys.encrypt("s3cret")
    assert keys.decrypt(stored) == keys.decrypt(again) == "s3cret"
    assert DataKeys(keys=path.read_text().split()[:1]).decrypt(again) == "s3cret"  # encrypted with the new key


def test_keys_from_the_setting_come_first(tmp_path: Path) -> None:
    newest, older = new_key(), new_key()
    settings = Settings(data_dir=tmp_path, data_key=f"{newest},{older}", log_level="WARNING")
    keys = DataKeys.from_settings(settings)
    assert not settings.data_key_file_path.exists()
    assert DataKeys(keys=[newest]).decrypt(keys.encrypt("x")) == "x"
    assert keys.decrypt(DataKeys(keys=[older]).encrypt("y")) == "y"


def _cli(data_dir: Path, key_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_DATA_KEY_FILE": str(key_file),
        "GATEWAY_SECRET_PEPPER": TEST_PEPPER,
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_reencrypt_only_leaves_a_mounted_key_file_alone(tmp_path: Path) -> None:
    """A key file kept elsewhere (a Kubernetes Secret mounted read-only): the operator puts the new key first in
    it, and ``rotate-data-key --reencrypt-only`` moves every stored secret to it without writing the file."""
    data_dir, key_file = tmp_path / "var", tmp_path / "secrets" / "data-keys"
    old, new = new_key(), new_key()
    write_key_file(key_file, [new, old])
    before = key_file.read_bytes(), key_file.stat().st_mtime_ns
    assert _cli(data_dir, key_file, "db", "upgrade").returncode == 0
    database_url = Settings(data_dir=data_dir).database_url

    async def plant(secret: str) -> None:
        async with standalone_session(database_url) as session:
            session.add(
                WebhookSubscription(
                    id="s-1", client_id="c", database_id="population", url="https://hooks.example/x", secret=secret
                )
            )
            await session.commit()

    async def stored() -> str:
        async with standalone_session(database_url) as session:
            row = await session.get(WebhookSubscription, "s-1")
            assert row is not None
            return row.secret

    asyncio.run(plant(DataKeys(keys=[old]).encrypt("hook-secret")))
    refused = _cli(data_dir, key_file, "keys", "rotate-data-key", "--reencrypt-only", "--drop-old")
    assert refused.returncode == 2 and "--reencrypt-only" in refused.stderr
    missing = _cli(data_dir, tmp_path / "absent", "keys", "rotate-data-key", "--reencrypt-only")
    assert missing.returncode == 1 and "no data key file" in missing.stderr
    assert not (tmp_path / "absent").exists()
    rotated = _cli(data_dir, key_file, "keys", "rotate-data-key", "--reencrypt-only")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted: 1" in rotated.stdout
    assert (key_file.read_bytes(), key_file.stat().st_mtime_ns) == before
    assert DataKeys(keys=[new]).decrypt(asyncio.run(stored())) == "hook-secret"
