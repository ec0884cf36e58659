"""Encryption of the secrets the gateway must keep readable (webhook signing secrets) under key-encryption keys.

The keys are Fernet keys (AES-128-CBC and HMAC-SHA256, :mod:`cryptography`), newest first: the newest encrypts,
every one decrypts. They come from ``GATEWAY_DATA_KEY`` (comma-separated, newest first) or else from the key file
``GATEWAY_DATA_KEY_FILE`` (one key a line, newest first), generated with mode 0600 on first use when absent.
A rotation (``gateway keys rotate-data-key``) puts a new key first in the file and re-encrypts every stored
secret; running processes reload the file when it changes. Stored values carry the prefix ``enc:v1:``; a value
without it is a plaintext left by an earlier version and is encrypted at startup.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.core.files import replace_file
from gateway.core.settings import Settings, data_key_fernets

PREFIX = "enc:v1:"


class DataKeyError(Exception):
    """The data keys are missing, malformed, or none of them decrypts a stored value."""


def _parse(lines: list[str]) -> list[Fernet]:
    try:
        return data_key_fernets(lines)
    except ValueError as exc:
        raise DataKeyError(str(exc)) from None


def check_data_keys(settings: Settings) -> None:
    """Check, changing nothing, that the data keys ``settings`` give can be used: ``GATEWAY_DATA_KEY`` (checked by
    the settings already), else the key file when it exists (it is generated when absent). :class:`DataKeyError`
    naming the file and what is wrong (never a key) otherwise."""
    if settings.data_key is not None:
        _parse(settings.data_key.get_secret_value().split(","))
        return
    path = settings.data_key_file_path
    if path.exists():
        _read_key_file(path)


def _read_key_file(path: Path) -> list[Fernet]:
    """The keys of the key file ``path``; :class:`DataKeyError` naming it and what is wrong (never a key)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not UTF-8 text"
        raise DataKeyError(f"the data key file {path} cannot be read: {why}") from None
    try:
        return _parse(lines)
    except DataKeyError as exc:
        raise DataKeyError(f"the data key file {path}: {exc}") from None


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically with ``keys`` (newest first), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_file(path, ("\n".join(keys) + "\n").encode())


class DataKeys:
    """Encrypts with the newest data key, decrypts with any; follows the key file when it changes."""

    def __init__(self, *, keys: list[str] | None = None, path: Path | None = None) -> None:
        if keys is None and path is None:
            raise DataKeyError("data keys need keys or a key file")
        self.path = None if keys is not None else path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._fernet = MultiFernet(_parse(keys)) if keys is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> DataKeys:
        """The keys of ``GATEWAY_DATA_KEY``, else of the key file (generated when absent)."""
        if settings.data_key is not None:
            return cls(keys=settings.data_key.get_secret_value().split(","))
        path = settings.data_key_file_path
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.new")
            write_key_file(tmp, [Fernet.generate_key().decode()])
            try:
                os.link(tmp, path)  # another process may have made it first: then its key wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return cls(path=path)

    def _current(self) -> MultiFernet:
        if self.path is None:
            assert self._fernet is not None
            return self._fernet
        with self._lock:
            try:
                stat = self.path.stat()
            except OSError as exc:
                raise DataKeyError(f"the data key file {self.path} cannot be read") from exc
            stamp = (stat.st_mtime_ns, stat.st_ino)
            if self._fernet is None or stamp != self._stamp:
                self._fernet = MultiFernet(_read_key_file(self.path))
                self._stamp = stamp
            return self._fernet

    def encrypt(self, plaintext: str) -> str:
        """``plaintext`` encrypted with the newest key, as stored."""
        return PREFIX + self._current().encrypt(plaintext.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored value (a value without the prefix is a legacy plaintext)."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._current().decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise DataKeyError("no data key decrypts this value") from exc

    def reencrypt(self, stored: str) -> str:
        """A stored value encrypted again with the newest key (a legacy plaintext is encrypted)."""
        if not stored.startswith(PREFIX):
            return self.encrypt(stored)
        try:
            return PREFIX + self._current().rotate(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise DataKeyError("no data key decrypts this value") from exc


def new_key() -> str:
    """A new Fernet key."""
    return Fernet.generate_key().decode()
