"""Publishing the gateway's signing keys (the JWKS) through its database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..models import SigningKey
from ..security.keys import SigningKeyFile


async def publish_signing_key(session: AsyncSession, key: SigningKeyFile) -> None:
    """Record the public half of ``key`` so that every gateway process publishes and trusts it."""
    if await session.get(SigningKey, key.kid) is None:
        session.add(SigningKey(kid=key.kid, algorithm=key.algorithm, public_jwk=key.jwk))
        await session.commit()


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
