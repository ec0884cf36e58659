"""Data keys: the newest encrypts, every key decrypts, re-encryption moves values to the newest key, and the key
file is generated private and followed when it changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.security.datakeys import PREFIX, DataKeyError, DataKeys, new_key, write_key_file
from gateway.settings import Settings


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
