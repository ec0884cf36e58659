"""The gateway's signing keys: their public halves published through the database (the JWKS), rotation of the
active key, and keeping each process's signing and verification keys in line with the database.

The private key is the file at ``signing_key_path`` (the active key); every process reads the same file.
Rotating writes a new key there in one atomic step (the previous private key is gone), publishes its public
half, and retires the previous keys. The active key is the newest key that is not retired. Each process reloads
the published keys every ``signing_key_refresh_seconds`` and starts signing with the new key when the active
``kid`` changed; a token of this gateway with an unknown ``kid`` reloads them at once (at most once per
``signing_key_refetch_seconds``).

A retired key's ``retired_at`` is the rotation time plus that refresh interval and the clock leeway: the moment
after which no process signs with it any longer. It stays published until ``retired_at + token_ttl``, when the
last token it signed has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..logs import get_logger
from ..models import SigningKey
from ..outages import database_outage, database_unavailable
from ..security.keys import SigningKeyFile, load_signing_key, replace_signing_key
from ..security.tokens import TokenService
from ..settings import Settings

log = get_logger(__name__)


async def publish_signing_key(session: AsyncSession, key: SigningKeyFile) -> None:
    """Record the public half of ``key`` so that every gateway process publishes and trusts it. Several processes
    starting at once may publish the same key: the first one's row stands, the others find it there."""
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


async def active_signing_kid(session: AsyncSession) -> str | None:
    """The ``kid`` of the key new tokens are signed with: the newest key not retired."""
    rows = await session.exec(
        select(SigningKey.kid)
        .where(col(SigningKey.retired_at).is_(None))
        .order_by(col(SigningKey.created_at).desc(), col(SigningKey.kid))
        .limit(1)
    )
    return rows.first()


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


async def rotate_signing_key(session: AsyncSession, settings: Settings) -> Rotation:
    """Put a new private key at ``signing_key_path``, publish its public half, and retire the other active keys
    (see the module's documentation for when they stop signing and leave the JWKS)."""
    key = await anyio.to_thread.run_sync(replace_signing_key, settings.key_path, settings.signing_algorithm)
    now = utcnow()
    until = now + timedelta(seconds=retirement_grace_seconds(settings))
    retired = []
    active = await session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None)))
    for row in active:
        if row.kid != key.kid:
            row.retired_at = until
            session.add(row)
            retired.append(row.kid)
    # Another process may have published the new file's key already (it started in between).
    if await session.get(SigningKey, key.kid) is None:
        session.add(SigningKey(kid=key.kid, algorithm=key.algorithm, public_jwk=key.jwk, created_at=now))
    await session.commit()
    log.info("signing key rotated", kid=key.kid, retired=retired)
    return Rotation(kid=key.kid, algorithm=key.algorithm, retired=sorted(retired), retired_at=until)


@dataclass
class SigningKeys:
    """One process's keeper of its token service's keys: reloads them periodically and on demand, and
    rotates them."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    tokens: TokenService
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def refresh(self) -> None:
        """Reload the published keys and, when another key became active, sign with it from now on. Never
        raises: a database or file that cannot be read keeps the keys in use (and is logged)."""
        settings = self.settings
        try:
            async with self.sessionmaker() as session:
                keys = await published_keys(session, token_ttl_seconds=settings.token_ttl_seconds)
                active = await active_signing_kid(session)
        except (SQLAlchemyError, OSError) as exc:
            if database_unavailable(exc):
                database_outage(settings.database_url).failed("signing keys", exc)
            else:
                log.warning("cannot reload the signing keys", error=type(exc).__name__)
            return
        database_outage(settings.database_url).succeeded("signing keys")
        self.tokens.set_verification_keys(keys)
        if active is None or active == self.tokens.signing_kid:
            return
        try:
            key = await anyio.to_thread.run_sync(load_signing_key, settings.key_path, settings.signing_algorithm)
        except (OSError, ValueError) as exc:
            log.warning("cannot read the signing key file", error=type(exc).__name__)
            return
        if key.kid != active:
            log.warning("the signing key file does not hold the active key", active=active, file=key.kid)
            return
        self.tokens.set_signing_key(key)
        log.info("signing with the rotated key", kid=key.kid)

    async def rotate(self) -> Rotation:
        """Rotate the signing key (see :func:`rotate_signing_key`); this process signs with the new key at once."""
        async with self.sessionmaker() as session:
            rotation = await rotate_signing_key(session, self.settings)
        await self.refresh()
        return rotation

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.signing_key_refresh_seconds)
            await self.refresh()

    def start(self) -> None:
        """Reload the keys every ``signing_key_refresh_seconds``, and on a token with an unknown ``kid``."""
        self.tokens.reload_keys_with(self.refresh, self.settings.signing_key_refetch_seconds)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="signing-keys")

    async def close(self) -> None:
        """Stop reloading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
