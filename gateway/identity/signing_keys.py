"""The gateway's signing keys: kept in the database (the private parts encrypted with the data keys, see
:mod:`gateway.identity.datakeys`), published as the JWKS, rotated through the database, and each process's signing
and verification keys kept in line with them.

The active key is the key not retired, whose private part the database holds, with the highest ``serial``.
``serial`` is unique: of several processes that bring a key into service at once (the first start on an empty
database, concurrent rotations), one succeeds and the others find its key. A rotation generates a new key in
memory, stores it encrypted, retires the previous keys and (on PostgreSQL) announces it with ``NOTIFY`` on
:data:`NOTIFY_CHANNEL`. Each process reloads the keys at once on that announcement, else every
``signing_key_refresh_seconds``; a token of this gateway with an unknown ``kid`` reloads them at once (at most once
per ``signing_key_refetch_seconds``).

A retired key's ``retired_at`` is the rotation time plus that refresh interval and the clock leeway: the moment
after which no process signs with it any longer. It stays published until ``retired_at + token_ttl``, when the
last token it signed has expired.

A deployment from before the keys moved into the database has its private key in the PEM file at
``signing_key_path``: the first start imports it (keeping its ``kid``) when the database holds no private key
yet; later the file is not read. ``gateway keys import`` imports a file explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, Field
from sqlalchemy import func, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.db import utcnow
from gateway.core.listeners import listen
from gateway.core.logs import get_logger
from gateway.core.outages import database_outage, database_unavailable
from gateway.core.settings import Settings
from gateway.identity.datakeys import PREFIX, DataKeyError, DataKeys
from gateway.identity.key_material import SigningKeyFile, load_signing_key, new_signing_key, signing_key_of_pem
from gateway.identity.models import SigningKey
from gateway.identity.tokens import TokenService

log = get_logger(__name__)

#: The PostgreSQL channel on which a rotation is announced (the payload is the new ``kid``).
NOTIFY_CHANNEL = "gateway_signing_keys"
#: How often bringing a key into service is tried when other processes keep doing it at the same moment.
ACTIVATION_ATTEMPTS = 5


class SigningKeyUnavailable(RuntimeError):
    """This process cannot sign: the active key's private part is missing, no data key decrypts it, or it is not
    a usable key. Raised at startup (the gateway does not start), never at token time."""


async def publish_signing_key(session: AsyncSession, key: SigningKeyFile) -> None:
    """Record only the public half of ``key`` (a key whose private part this database does not hold, e.g. one
    that sealed an audit chain), so that it verifies. Several processes may publish the same key at once: the
    first one's row stands, the others find it there."""
    if await session.get(SigningKey, key.kid) is not None:
        return
    session.add(SigningKey(kid=key.kid, algorithm=key.algorithm, public_jwk=key.jwk))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if await session.get(SigningKey, key.kid) is None:  # another constraint than the key's own: a real error
            raise


async def published_keys(session: AsyncSession, *, token_ttl_seconds: int) -> list[dict[str, Any]]:
    """The public JWKs that may still verify a token: active keys, and retired keys until the last
    token they signed has expired."""
    horizon = utcnow() - timedelta(seconds=token_ttl_seconds)
    rows = await session.exec(
        select(SigningKey)
        .where(or_(col(SigningKey.retired_at).is_(None), col(SigningKey.retired_at) > horizon))
        .order_by(col(SigningKey.created_at))
    )
    return [dict(row.public_jwk) for row in rows]


async def active_signing_row(session: AsyncSession) -> SigningKey | None:
    """The key new tokens are signed with: of the keys not retired whose private part the database holds, the
    one with the highest ``serial``."""
    rows = await session.exec(
        select(SigningKey)
        .where(col(SigningKey.retired_at).is_(None), col(SigningKey.private_key).is_not(None))
        .order_by(col(SigningKey.serial).desc())
        .limit(1)
    )
    return rows.first()


async def active_signing_kid(session: AsyncSession) -> str | None:
    """The ``kid`` of the key new tokens are signed with (see :func:`active_signing_row`)."""
    row = await active_signing_row(session)
    return None if row is None else row.kid


async def list_signing_keys(session: AsyncSession) -> list[SigningKey]:
    """Every signing key ever published, newest first."""
    return list(await session.exec(select(SigningKey).order_by(col(SigningKey.created_at).desc())))


def retirement_grace_seconds(settings: Settings) -> float:
    """How long after a rotation a process may still sign with the previous key: until it reloads the keys."""
    return settings.signing_key_refresh_seconds + settings.token_leeway_seconds


class SigningKeyPublic(BaseModel):
    """A signing key of the gateway (its public half)."""

    kid: str
    algorithm: str
    created_at: datetime
    retired_at: datetime | None = Field(description="From when no process signs with it; null for the active key.")
    active: bool = Field(description="Whether new tokens are signed with it.")
    published_until: datetime | None = Field(
        description="When it leaves the JWKS (the last token it signed has expired); null while active."
    )
    public_jwk: dict[str, Any]


class Rotation(BaseModel):
    """The outcome of a rotation: the new active key and the keys it retired."""

    kid: str = Field(description="The new active key.")
    algorithm: str
    retired: list[str] = Field(description="The keys it replaces; they verify tokens until they expire.")
    retired_at: datetime = Field(description="From when no process signs with the retired keys any longer.")


async def describe_signing_keys(session: AsyncSession, settings: Settings) -> list[SigningKeyPublic]:
    """Every signing key, newest first, with whether it signs and until when it is published."""
    active = await active_signing_kid(session)
    ttl = timedelta(seconds=settings.token_ttl_seconds)
    return [
        SigningKeyPublic(
            kid=row.kid,
            algorithm=row.algorithm,
            created_at=row.created_at,
            retired_at=row.retired_at,
            active=row.kid == active,
            published_until=None if row.retired_at is None else row.retired_at + ttl,
            public_jwk=row.public_jwk,
        )
        for row in await list_signing_keys(session)
    ]


class SigningKeyImport(BaseModel):
    """The outcome of an import: the imported key, now active, and the keys it retired."""

    kid: str = Field(description="The imported key, unchanged (tokens it signed stay valid).")
    algorithm: str
    imported: bool = Field(description="False when it was the active key with its private part already.")
    retired: list[str] = Field(description="The keys it replaces; they verify tokens until they expire.")
    retired_at: datetime | None = Field(description="From when no process signs with the retired keys any longer.")


def decrypt_signing_key(row: SigningKey, data_keys: DataKeys) -> SigningKeyFile:
    """The usable private key of ``row``; :class:`SigningKeyUnavailable` (saying why, never showing key material)
    when there is none."""
    stored = row.private_key
    if stored is None:
        raise SigningKeyUnavailable(f"the database holds no private part of the signing key {row.kid}")
    if not stored.startswith(PREFIX):
        raise SigningKeyUnavailable(f"the private part of the signing key {row.kid} is not encrypted: refused")
    try:
        pem = data_keys.decrypt(stored)
    except DataKeyError:
        raise SigningKeyUnavailable(
            f"no data key decrypts the signing key {row.kid}: every gateway process needs the data keys that "
            "encrypted it (GATEWAY_DATA_KEY, or the file GATEWAY_DATA_KEY_FILE)"
        ) from None
    try:
        key = signing_key_of_pem(pem.encode(), row.algorithm, source=f"the signing key {row.kid}")
    except ValueError as exc:
        raise SigningKeyUnavailable(str(exc)) from None
    if key.kid != row.kid:
        raise SigningKeyUnavailable(f"the private part stored for the signing key {row.kid} is another key's")
    return key


async def active_signing_key(session: AsyncSession, data_keys: DataKeys) -> SigningKeyFile:
    """The active key, decrypted; :class:`SigningKeyUnavailable` when there is none or it cannot be used."""
    row = await active_signing_row(session)
    if row is None:
        raise SigningKeyUnavailable("the database holds no active signing key (start the gateway once)")
    return await anyio.to_thread.run_sync(decrypt_signing_key, row, data_keys)


async def _announce(session: AsyncSession, kid: str) -> None:
    """Tell every process listening that ``kid`` signs from now on (delivered when the session commits)."""
    if session.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        await connection.execute(text("SELECT pg_notify(:channel, :kid)").bindparams(channel=NOTIFY_CHANNEL, kid=kid))


async def _top_serial(session: AsyncSession) -> int:
    return int((await session.exec(select(func.max(SigningKey.serial)))).one() or 0)


async def _activate(
    session: AsyncSession, settings: Settings, data_keys: DataKeys, key: SigningKeyFile, *, after: int | None = None
) -> Rotation | None:
    """In one transaction: store ``key`` (its private part encrypted) with the next ``serial`` and retire every
    other key in service. The next serial follows ``after`` (the highest serial the caller saw when it decided
    that a key is needed), else the highest now. ``None`` when another process brought a key into service in the
    meantime (nothing is changed then)."""
    encrypted = await anyio.to_thread.run_sync(data_keys.encrypt, key.pem.decode())
    try:
        now = utcnow()
        until = now + timedelta(seconds=retirement_grace_seconds(settings))
        serial = (await _top_serial(session) if after is None else after) + 1
        retired = []
        in_service = await session.exec(
            select(SigningKey).where(col(SigningKey.retired_at).is_(None), col(SigningKey.kid) != key.kid)
        )
        for other in in_service:
            other.retired_at = until
            session.add(other)
            retired.append(other.kid)
        row = await session.get(SigningKey, key.kid)
        if row is None:
            row = SigningKey(kid=key.kid, algorithm=key.algorithm, public_jwk=key.jwk, created_at=now)
        row.private_key, row.serial, row.retired_at = encrypted, serial, None
        session.add(row)
        await _announce(session, key.kid)
        await session.commit()
    except (IntegrityError, OperationalError) as exc:
        await session.rollback()
        if isinstance(exc, OperationalError) and database_unavailable(exc):
            raise
        return None
    return Rotation(kid=key.kid, algorithm=key.algorithm, retired=sorted(retired), retired_at=until)


async def _bring_into_service(
    session: AsyncSession, settings: Settings, data_keys: DataKeys, key: SigningKeyFile
) -> Rotation:
    """Activate ``key``, after checking that these data keys are the ones the gateway uses: they must decrypt the
    active key (a new key encrypted with other data keys could not be used by any process)."""
    active = await active_signing_row(session)
    if active is not None:
        await anyio.to_thread.run_sync(decrypt_signing_key, active, data_keys)
    for _attempt in range(ACTIVATION_ATTEMPTS):
        rotation = await _activate(session, settings, data_keys, key)
        if rotation is not None:
            return rotation
        await asyncio.sleep(0.05)
    raise SigningKeyUnavailable("other processes kept changing the signing keys; try again")


async def rotate_signing_key(session: AsyncSession, settings: Settings, data_keys: DataKeys) -> Rotation:
    """Generate a new key, store it (its private part encrypted) as the active key, and retire the other keys
    (see the module's documentation for when they stop signing and leave the JWKS)."""
    key = await anyio.to_thread.run_sync(new_signing_key, settings.signing_algorithm)
    rotation = await _bring_into_service(session, settings, data_keys, key)
    log.info("signing key rotated", kid=rotation.kid, retired=rotation.retired)
    return rotation


async def import_signing_key(
    session: AsyncSession, settings: Settings, data_keys: DataKeys, key: SigningKeyFile
) -> SigningKeyImport:
    """Make ``key`` (read from a PEM file) the active key, keeping its ``kid``: its private part is stored
    encrypted, and the other keys retire as in a rotation. Nothing changes when it is the active key already."""
    active = await active_signing_row(session)
    if active is not None and active.kid == key.kid:
        return SigningKeyImport(kid=key.kid, algorithm=key.algorithm, imported=False, retired=[], retired_at=None)
    rotation = await _bring_into_service(session, settings, data_keys, key)
    log.info("signing key imported", kid=rotation.kid, retired=rotation.retired)
    return SigningKeyImport(
        kid=key.kid, algorithm=key.algorithm, imported=True, retired=rotation.retired, retired_at=rotation.retired_at
    )


async def _held_private_keys(session: AsyncSession) -> int:
    query = select(func.count()).select_from(SigningKey).where(col(SigningKey.private_key).is_not(None))
    return int((await session.exec(query)).one())


async def _note_key_file(session: AsyncSession, path: Path, algorithm: str) -> None:
    """Say what becomes of a key file left at ``signing_key_path`` once the database holds the keys."""
    try:
        kid = (await anyio.to_thread.run_sync(load_signing_key, path, algorithm)).kid
    except (OSError, ValueError) as exc:
        log.warning("the signing key file is not read: the keys are in the database", path=str(path), error=str(exc))
        return
    row = await session.get(SigningKey, kid)
    if row is not None and row.private_key is not None:
        log.info("the signing key file is imported already and no longer read; it may be deleted", path=str(path))
    else:
        log.warning(
            "the signing key file is not read: the keys are in the database (`gateway keys import` makes it the "
            "active key)",
            path=str(path),
            kid=kid,
        )


async def ensure_signing_key(session: AsyncSession, settings: Settings, data_keys: DataKeys) -> SigningKeyFile:
    """At startup: the active key, decrypted. When there is none, the key file at ``signing_key_path`` is
    imported if the database holds no private key yet, else a new key is generated; processes starting at once
    end up with one key. :class:`SigningKeyUnavailable` when the active key cannot be used here."""
    path = settings.key_path
    for _attempt in range(ACTIVATION_ATTEMPTS):
        # The highest serial first: a key brought into service after this read has a higher one, so that our
        # key, numbered after it, collides with that key instead of retiring it.
        top = await _top_serial(session)
        row = await active_signing_row(session)
        if row is not None:
            key = await anyio.to_thread.run_sync(decrypt_signing_key, row, data_keys)
            if await anyio.to_thread.run_sync(path.exists):
                await _note_key_file(session, path, settings.signing_algorithm)
            return key
        if not await _held_private_keys(session) and await anyio.to_thread.run_sync(path.exists):
            try:
                key = await anyio.to_thread.run_sync(load_signing_key, path, settings.signing_algorithm)
            except (OSError, ValueError) as exc:
                raise SigningKeyUnavailable(f"the signing key file {path} cannot be imported: {exc}") from None
            done = "signing key imported from its file"
        else:
            key = await anyio.to_thread.run_sync(new_signing_key, settings.signing_algorithm)
            done = "signing key generated"
        rotation = await _activate(session, settings, data_keys, key, after=top)
        if rotation is not None:
            log.info(done, kid=key.kid, retired=rotation.retired)
            return key
        await asyncio.sleep(0.05)  # another process brought its key into service: take that one
    raise SigningKeyUnavailable("other processes kept changing the signing keys at startup")


async def reencrypt_signing_keys(session: AsyncSession, data_keys: DataKeys) -> int:
    """Encrypt every stored private key again with the newest data key; how many rows changed. Each row is
    updated only if it still holds the value read, so processes may run it at once."""
    rows = (
        await session.exec(
            select(SigningKey.kid, SigningKey.private_key).where(col(SigningKey.private_key).is_not(None))
        )
    ).all()
    changed = 0
    for kid, stored in rows:
        assert stored is not None
        fresh = await anyio.to_thread.run_sync(data_keys.reencrypt, stored)
        if fresh == stored:
            continue
        result = await session.exec(
            update(SigningKey)
            .where(col(SigningKey.kid) == kid, col(SigningKey.private_key) == stored)
            .values(private_key=fresh)
        )
        changed += result.rowcount
    await session.commit()
    return changed


@dataclass
class SigningKeys:
    """One process's keeper of its token service's keys: reloads them periodically, when a rotation is announced
    and on demand, and rotates them."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    tokens: TokenService
    data_keys: DataKeys
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _listener: asyncio.Task[None] | None = field(default=None, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    async def refresh(self) -> None:
        """Reload the published keys and, when another key became active, sign with it from now on. Never
        raises: a database that cannot be read, or an active key that cannot be decrypted here, keeps the keys
        in use (and is logged)."""
        settings = self.settings
        try:
            async with self.sessionmaker() as session:
                keys = await published_keys(session, token_ttl_seconds=settings.token_ttl_seconds)
                active = await active_signing_row(session)
        except (SQLAlchemyError, OSError) as exc:
            if database_unavailable(exc):
                database_outage(settings.database_url).failed("signing keys", exc)
            else:
                log.warning("cannot reload the signing keys", error=type(exc).__name__)
            return
        database_outage(settings.database_url).succeeded("signing keys")
        self.tokens.set_verification_keys(keys)
        if active is None or active.kid == self.tokens.signing_kid:
            return
        try:
            key = await anyio.to_thread.run_sync(decrypt_signing_key, active, self.data_keys)
        except SigningKeyUnavailable as exc:
            log.warning("cannot sign with the rotated key", kid=active.kid, error=str(exc))
            return
        self.tokens.set_signing_key(key)
        log.info("signing with the rotated key", kid=key.kid)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.signing_key_refresh_seconds)
            self._wake.clear()
            await self.refresh()

    async def _listen(self, engine: AsyncEngine) -> None:
        await listen(
            engine,
            NOTIFY_CHANNEL,
            lambda _kid: self._wake.set(),
            name="signing keys listener",
            part="signing keys",
            on_listening=self._wake.set,  # a rotation may have happened while no one was listening
            logger=log,
        )

    def start(self, engine: AsyncEngine | None = None) -> None:
        """Reload the keys every ``signing_key_refresh_seconds``, on a token with an unknown ``kid``, and (on
        PostgreSQL, given ``engine``) as soon as a rotation is announced."""
        self.tokens.reload_keys_with(self.refresh, self.settings.signing_key_refetch_seconds)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="signing-keys")
        if engine is not None and engine.dialect.name == "postgresql" and self._listener is None:
            self._listener = asyncio.create_task(self._listen(engine), name="signing-keys-listener")

    async def close(self) -> None:
        """Stop reloading."""
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._listener = None
