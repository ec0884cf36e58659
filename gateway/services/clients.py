"""Clients: agency systems that obtain tokens, their secrets (rotated with an overlap) and status."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..models import Client, ClientSecret, ClientStatus, Grant
from ..security.passwords import hash_secret, new_secret, verify_secrets
from .access import NON_DATA_SCOPES, OPERATIONS, announce_change

CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
DATA_SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}:(" + "|".join(OPERATIONS) + ")$")


class ClientError(ValueError):
    """A client cannot be created or changed as asked."""


def split_scopes(scopes: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Separate non-data scopes (``admin``, ``audit``) from data scopes (``database:operation``, grouped by
    database); anything else is a :class:`ClientError`."""
    roles: list[str] = []
    data: dict[str, list[str]] = {}
    bad: list[str] = []
    for scope in dict.fromkeys(scopes):
        if scope in NON_DATA_SCOPES:
            roles.append(scope)
        elif DATA_SCOPE_PATTERN.match(scope):
            database, _, operation = scope.partition(":")
            data.setdefault(database, []).append(operation)
        else:
            bad.append(scope)
    if bad:
        raise ClientError(
            f"unknown scope(s): {', '.join(bad)} (use admin, audit, or database:operation with an operation "
            f"among {', '.join(OPERATIONS)})"
        )
    return roles, data


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    scopes: Sequence[str] = (),
    client_id: str | None = None,
    agency_code: str | None = None,
    contact: str | None = None,
    rate_limit_per_second: int | None = None,
    rate_limit_per_day: int | None = None,
) -> tuple[Client, str]:
    """Create a client and return it with its secret, which is not stored and cannot be shown again.

    Data scopes (``population:read``) become grants on every field that require ``X-Purpose`` and
    ``X-Actor-Id``; narrower grants are made with :func:`gateway.services.grants.add_grant`.
    """
    client_id = client_id or f"client-{secrets.token_hex(8)}"
    if not CLIENT_ID_PATTERN.match(client_id):
        raise ClientError(f"invalid client id {client_id!r}: 2-64 of letters, digits, '.', '_', '-'")
    roles, data = split_scopes(scopes)
    if await session.get(Client, client_id) is not None:
        raise ClientError(f"client {client_id!r} already exists")
    secret = new_secret()
    client = Client(
        client_id=client_id,
        name=name,
        agency_code=agency_code,
        contact=contact,
        scopes=roles,
        rate_limit_per_second=rate_limit_per_second,
        rate_limit_per_day=rate_limit_per_day,
    )
    session.add(client)
    await session.flush()
    session.add(ClientSecret(client_id=client_id, secret_hash=hash_secret(secret)))
    for database, operations in data.items():
        session.add(Grant(client_id=client_id, database=database, operations=operations))
    await session.commit()
    return client, secret


async def rotate_secret(session: AsyncSession, client: Client, *, overlap_seconds: int = 0) -> str:
    """Give ``client`` a new secret and return it; its current secrets keep working for ``overlap_seconds``
    (0: they stop at once)."""
    now = utcnow()
    until = now + timedelta(seconds=max(overlap_seconds, 0))
    current = await session.exec(
        select(ClientSecret).where(
            ClientSecret.client_id == client.client_id,
            or_(col(ClientSecret.expires_at).is_(None), col(ClientSecret.expires_at) > until),
        )
    )
    for old in current:
        old.expires_at = until
        session.add(old)
    secret = new_secret()
    session.add(ClientSecret(client_id=client.client_id, secret_hash=hash_secret(secret)))
    client.updated_at = now
    session.add(client)
    await session.commit()
    return secret


async def set_status(session: AsyncSession, client: Client, status: ClientStatus) -> Client:
    """Suspend or reactivate a client; every gateway process is told (its tokens stop or start working)."""
    client.status = status
    client.updated_at = utcnow()
    session.add(client)
    await announce_change(session, client.client_id)
    await session.commit()
    return client


async def get_client(session: AsyncSession, client_id: str) -> Client | None:
    """The client with this id, or ``None``."""
    return await session.get(Client, client_id)


async def list_clients(session: AsyncSession) -> list[Client]:
    """Every client, by id."""
    return list(await session.exec(select(Client).order_by(col(Client.client_id))))


async def authenticate_client(session: AsyncSession, *, client_id: str, client_secret: str) -> Client | None:
    """The active client these credentials belong to, or ``None`` (same cost whichever part is wrong)."""
    client = await session.get(Client, client_id) if CLIENT_ID_PATTERN.match(client_id) else None
    hashes: list[str] = []
    if client is not None:
        now = utcnow()
        rows = await session.exec(
            select(ClientSecret.secret_hash).where(
                ClientSecret.client_id == client.client_id,
                or_(col(ClientSecret.expires_at).is_(None), col(ClientSecret.expires_at) > now),
            )
        )
        hashes = list(rows)
    ok = await verify_secrets(hashes, client_secret)
    if not ok or client is None or client.status != ClientStatus.ACTIVE:
        return None
    return client
