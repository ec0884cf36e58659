"""Client secrets: generated with ``secrets``, stored as argon2id hashes, checked off the event loop."""

from __future__ import annotations

import secrets
from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Checked when the client does not exist, so that a wrong id costs as much time as a wrong secret.
    Made on first use: hashing is deliberately slow and most processes (the CLI) never need it."""
    return _hasher.hash(secrets.token_urlsafe(32))


def new_secret() -> str:
    """A fresh client secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The argon2id hash stored for ``secret``."""
    return _hasher.hash(secret)


def _verify(stored_hashes: list[str], secret: str) -> bool:
    ok = False
    for stored in stored_hashes or [_dummy_hash()]:
        try:
            _hasher.verify(stored, secret)
        except (VerificationError, InvalidHashError):
            continue
        ok = True
    return ok and bool(stored_hashes)


async def verify_secrets(stored_hashes: list[str], secret: str) -> bool:
    """Check ``secret`` against a client's current hashes in a worker thread (argon2 is deliberately slow).

    With no hashes (an unknown client) a dummy hash is checked, so the timing is the same.
    """
    return await anyio.to_thread.run_sync(_verify, stored_hashes, secret)
