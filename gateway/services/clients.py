"""Clients: agency systems that obtain tokens with the OAuth 2.0 client-credentials grant."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..models import Client, ClientStatus
from ..security.passwords import hash_secret, new_secret, verify_secret

CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(:[a-z][a-z0-9_-]*)?$")


class ClientError(ValueError):
    """A client cannot be created or changed as asked."""


def validate_scopes(scopes: Sequence[str]) -> list[str]:
    """Return the scopes, de-duplicated in order, after checking their form (``database:operation``)."""
    unique = list(dict.fromkeys(scopes))
    bad = [s for s in unique if not SCOPE_PATTERN.match(s)]
    if bad:
        raise ClientError(f"malformed scope(s): {', '.join(bad)}")
    return unique


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    scopes: Sequence[str],
    client_id: str | None = None,
    agency_code: str | None = None,
) -> tuple[Client, str]:
    """Create a client and return it with its secret, which is not stored and cannot be shown again."""
    client_id = client_id or f"client-{secrets.token_hex(8)}"
    if not CLIENT_ID_PATTERN.match(client_id):
        raise ClientError(f"invalid client id {client_id!r}: 2-64 of letters, digits, '.', '_', '-'")
    if await session.get(Client, client_id) is not None:
        raise ClientError(f"client {client_id!r} already exists")
    secret = new_secret()
    client = Client(
        client_id=client_id,
        name=name,
        agency_code=agency_code,
        secret_hash=hash_secret(secret),
        scopes=validate_scopes(scopes),
    )
    session.add(client)
    await session.commit()
    return client, secret


async def reset_secret(session: AsyncSession, client: Client) -> str:
    """Give ``client`` a new secret (the old one stops working) and return it."""
    secret = new_secret()
    client.secret_hash = hash_secret(secret)
    client.updated_at = utcnow()
    session.add(client)
    await session.commit()
    return secret


async def get_client(session: AsyncSession, client_id: str) -> Client | None:
    """The client with this id, or ``None``."""
    return await session.get(Client, client_id)


async def list_clients(session: AsyncSession) -> list[Client]:
    """Every client, by id."""
    return list(await session.exec(select(Client).order_by(col(Client.client_id))))


async def authenticate_client(session: AsyncSession, *, client_id: str, client_secret: str) -> Client | None:
    """The active client these credentials belong to, or ``None`` (same cost whichever part is wrong)."""
    client = await session.get(Client, client_id) if CLIENT_ID_PATTERN.match(client_id) else None
    ok = await verify_secret(client.secret_hash if client else None, client_secret)
    if not ok or client is None or client.status != ClientStatus.ACTIVE:
        return None
    return client
