"""Client secrets: generated with ``secrets`` (256 bits), stored as keyed hashes, compared in constant time.

A secret the gateway generates carries 256 bits of entropy: no one can guess it, so it needs no deliberately slow
hash, only one that cannot be reversed or recomputed without a key kept outside the database. It is stored as
``hmac-sha256$<pepper id>$<hex>``: HMAC-SHA-256 under the *pepper* (``GATEWAY_SECRET_PEPPER``, or a file kept with
the signing key, generated on first use), and checked with :func:`hmac.compare_digest`. A check costs
microseconds and no memory, so the token endpoint cannot be turned into a CPU or memory lever.

Secrets stored by earlier versions are argon2id hashes (64 MiB, about 0.1 s each). They are still verified, in a
worker thread and at most :data:`ARGON2_CONCURRENCY` at a time per process, and replaced by the keyed hash on
their next successful use.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.core.logs import get_logger

if TYPE_CHECKING:
    from gateway.core.settings import Settings

#: The scheme of the keyed hashes (the first member of a stored hash).
SCHEME = "hmac-sha256"
#: Argon2 verifications of legacy hashes run at once by one process (each takes 64 MiB and a core for ~0.1 s).
ARGON2_CONCURRENCY = 2
MIN_PEPPER_BYTES = 32

log = get_logger(__name__)
_argon2 = PasswordHasher()


@dataclass
class _Peppers:
    """Every pepper this process has been given, by id (a hash names the pepper it was made with), and the one
    new hashes use."""

    known: dict[str, bytes] = field(default_factory=dict)
    current: str | None = None


_peppers = _Peppers()
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def pepper_id(pepper: bytes) -> str:
    """A short public name of ``pepper`` (it tells which pepper made a hash, and nothing of the pepper)."""
    return hashlib.sha256(b"axis-gateway secret pepper\0" + pepper).hexdigest()[:12]


def use_pepper(pepper: bytes) -> str:
    """Hash new secrets with ``pepper`` from now on (hashes made with peppers given before still verify in this
    process); its id."""
    if len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"the secret pepper must be at least {MIN_PEPPER_BYTES} bytes")
    ident = pepper_id(pepper)
    _peppers.known[ident] = pepper
    _peppers.current = ident
    return ident


def load_or_create_pepper(settings: Settings) -> bytes:
    """The pepper of ``settings``: ``GATEWAY_SECRET_PEPPER``, else the file at ``GATEWAY_SECRET_PEPPER_PATH``,
    generated (256 random bits, mode 0600) when absent."""
    if settings.secret_pepper is not None:
        return settings.secret_pepper.get_secret_value().encode()
    path = settings.pepper_path
    if not path.exists():
        _write_new_pepper(path)
    return path.read_bytes().strip()


def _write_new_pepper(path: Path) -> None:
    """Write a new pepper at ``path`` unless one is there: written whole to a temporary file first, then linked
    into place (atomic, and refused if another process got there first), so no one ever reads half a pepper."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _pepper() -> tuple[str, bytes]:
    if _peppers.current is None:
        # A process that was not given one (the CLI): the pepper its settings describe.
        from gateway.core.settings import get_settings

        use_pepper(load_or_create_pepper(get_settings()))
    assert _peppers.current is not None
    return _peppers.current, _peppers.known[_peppers.current]


def keyed_tag(purpose: bytes, payload: bytes) -> bytes:
    """A tag of ``payload`` that only a holder of the pepper can make (HMAC-SHA-256 under the current pepper,
    its first 16 bytes): what the gateway hands out and must recognise as its own, in every replica. ``purpose``
    (``b"cursor"``) keeps the tags of different uses apart, and apart from the secrets' hashes."""
    _ident, pepper = _pepper()
    return _tag(pepper, purpose, payload)


def tag_matches(purpose: bytes, payload: bytes, tag: bytes) -> bool:
    """Whether ``tag`` is :func:`keyed_tag`'s for ``payload`` under any pepper this process knows (the current
    one, or one it was given before a rotation), compared in constant time."""
    _pepper()
    return any(hmac.compare_digest(_tag(pepper, purpose, payload), tag) for pepper in list(_peppers.known.values()))


def _tag(pepper: bytes, purpose: bytes, payload: bytes) -> bytes:
    return hmac.new(pepper, b"axis-gateway tag\0" + purpose + b"\0" + payload, hashlib.sha256).digest()[:16]


def new_secret() -> str:
    """A fresh client secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _digest(pepper: bytes, secret: str) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def hash_secret(secret: str) -> str:
    """The keyed hash stored for ``secret``: ``hmac-sha256$<pepper id>$<hex>``."""
    ident, pepper = _pepper()
    return f"{SCHEME}${ident}${_digest(pepper, secret)}"


def is_legacy(stored: str) -> bool:
    """Whether ``stored`` is a hash of an earlier form (argon2id), to be replaced on its next use."""
    return not stored.startswith(SCHEME + "$")


def _keyed_match(stored: str, secret: str) -> bool:
    _scheme, _, rest = stored.partition("$")
    ident, _, digest = rest.partition("$")
    pepper = _peppers.known.get(ident)
    if pepper is None:
        # Made by a process with another pepper (a CLI with another data directory?): it can never match here.
        log.warning("client secret hashed with an unknown pepper", pepper_id=ident[:12])
        return False
    return hmac.compare_digest(_digest(pepper, secret), digest)


def _argon2_match(stored: str, secret: str) -> bool:
    try:
        return bool(_argon2.verify(stored, secret))
    except (VerificationError, InvalidHashError):
        return False


def _argon2_slots() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = anyio.CapacityLimiter(ARGON2_CONCURRENCY)
    return slots


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """Which stored hash a secret matched, and whether that hash is of an earlier form."""

    index: int
    legacy: bool


async def verify_secrets(stored_hashes: list[str], secret: str) -> SecretMatch | None:
    """The stored hash ``secret`` matches, or ``None``. Keyed hashes are all compared in constant time; legacy
    argon2 hashes are tried only when no keyed one matches, in a worker thread, a few at a time per process."""
    _pepper()  # this process's pepper is known before any comparison
    matched: int | None = None
    for index, stored in enumerate(stored_hashes):
        if not is_legacy(stored) and _keyed_match(stored, secret) and matched is None:
            matched = index
    if matched is not None:
        return SecretMatch(matched, legacy=False)
    for index, stored in enumerate(stored_hashes):
        if is_legacy(stored) and await anyio.to_thread.run_sync(_argon2_match, stored, secret, limiter=_argon2_slots()):
            return SecretMatch(index, legacy=True)
    return None


def argon2_hash(secret: str) -> str:
    """An argon2id hash of ``secret``, as earlier versions stored them (for migrations and their tests)."""
    return _argon2.hash(secret)
