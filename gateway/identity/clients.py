"""Clients: agency systems that obtain tokens; their details, status, and secrets (rotated with an overlap).

Changes to what a client may do (status, non-data scopes, rate limits, data scopes given at creation) are
announced to all gateway processes and forgotten at once by this process's access cache.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.functional_validators import AfterValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import Table
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.db import lock_rows, utcnow
from gateway.core.problems import Conflict, NotFound
from gateway.core.strict_json import JSON_INT, JsonInt
from gateway.identity.access import (
    NON_DATA_SCOPES,
    OPERATIONS,
    AccessControl,
    ClientAccess,
    announce_change,
    load_access,
)
from gateway.identity.grants import (
    CLIENT_ID_PATTERN,
    PLAIN_TEXT,
    GrantPublic,
    ServedDatabases,
    check_against_connector,
    check_text,
    list_grants,
    validated,
)
from gateway.identity.models import Client, ClientSecret, ClientStatus, Grant
from gateway.identity.passwords import hash_secret, new_secret, verify_secrets

ADMIN = "admin"
#: The data scopes a client is created with (each becomes a grant on every field, which deletes with ``submit``).
SCOPE_OPERATIONS = tuple(op for op in OPERATIONS if op != "delete")
DATA_SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}:(" + "|".join(SCOPE_OPERATIONS) + ")$")
#: Electronic agency codes (QCVN 102:2016/BTTTT): ``000.00.00.H41``, ``000.00.04.G17``.
AGENCY_CODE_PATTERN = re.compile(r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$")
MAX_OVERLAP_SECONDS = 30 * 86400
# Secrets the gateway issues are 43 characters; anything much longer is not one of them.
MAX_SECRET_LENGTH = 256


def _check_client_id(value: str) -> str:
    if not CLIENT_ID_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "client_id", "invalid client id: 2-64 of letters, digits, '.', '_', '-', starting with a letter or digit"
        )
    return value


def _check_agency_code(value: str) -> str:
    if not AGENCY_CODE_PATTERN.fullmatch(value):
        raise PydanticCustomError("agency_code", "invalid agency code: an electronic agency code is like 000.00.00.H41")
    return value


def _check_scope(value: str) -> str:
    if value not in NON_DATA_SCOPES and not DATA_SCOPE_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "scope",
            "unknown scope: use admin, audit, axis, or database:operation with an operation among "
            + ", ".join(SCOPE_OPERATIONS),
        )
    return value


def _check_role(value: str) -> str:
    if value not in NON_DATA_SCOPES:
        raise PydanticCustomError(
            "scope", "only the scopes admin, audit and axis are set here; data access is given by grants"
        )
    return value


ClientId = Annotated[
    str, AfterValidator(_check_client_id), Field(json_schema_extra={"pattern": CLIENT_ID_PATTERN.pattern})
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(check_text),
    Field(json_schema_extra={"pattern": PLAIN_TEXT.pattern}),
]
AgencyCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_check_agency_code),
    Field(json_schema_extra={"pattern": AGENCY_CODE_PATTERN.pattern}),
]
Contact = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(check_text),
    Field(json_schema_extra={"pattern": PLAIN_TEXT.pattern}),
]
Scope = Annotated[
    str,
    AfterValidator(_check_scope),
    Field(json_schema_extra={"pattern": r"^(admin|audit|axis|" + DATA_SCOPE_PATTERN.pattern[1:-1] + ")$"}),
]
Role = Annotated[str, AfterValidator(_check_role), Field(json_schema_extra={"enum": sorted(NON_DATA_SCOPES)})]
RateLimit = Annotated[int, Field(ge=1, le=1_000_000_000), JSON_INT]


class ClientCreate(BaseModel):
    """A new client. Data scopes (``population:read``) become grants on every field of the database that
    require ``X-Purpose`` and ``X-Actor-Id``; narrower grants are added at ``/v1/admin/grants``."""

    model_config = ConfigDict(extra="forbid")

    client_id: ClientId | None = Field(default=None, description="Generated when absent.")
    name: Name = Field(description="The agency system's name.", examples=["Cổng dịch vụ công tỉnh Lâm Đồng"])
    agency_code: AgencyCode | None = Field(
        default=None, description="Electronic agency code.", examples=["000.00.00.H41"]
    )
    contact: Contact | None = Field(default=None, description="Who answers for the system.")
    scopes: list[Scope] = Field(
        default_factory=list, max_length=100, description="admin, audit, axis, database:operation."
    )
    rate_limit_per_second: RateLimit | None = Field(default=None, description="Null: the gateway's default.")
    rate_limit_per_day: RateLimit | None = Field(default=None, description="Null: the gateway's default.")


class ClientUpdate(BaseModel):
    """Changes to a client: only the members given change; ``null`` clears an optional one."""

    model_config = ConfigDict(extra="forbid")

    # Left out: unchanged; never null (a client always has a name), so the document states a plain string.
    name: Name = None  # type: ignore[assignment]
    agency_code: AgencyCode | None = None
    contact: Contact | None = None
    scopes: list[Role] | None = Field(default=None, max_length=len(NON_DATA_SCOPES), description="admin, audit, axis.")
    rate_limit_per_second: RateLimit | None = None
    rate_limit_per_day: RateLimit | None = None

    @model_validator(mode="after")
    def _check_required(self) -> Self:
        if "scopes" in self.model_fields_set and self.scopes is None:
            raise PydanticCustomError("not_nullable", "scopes cannot be null")
        return self


class SecretRotation(BaseModel):
    """How long the client's current secrets keep working beside the new one."""

    model_config = ConfigDict(extra="forbid")

    overlap_seconds: JsonInt = Field(
        default=0, ge=0, le=MAX_OVERLAP_SECONDS, description="0: the current secrets stop working at once."
    )


class SecretPublic(BaseModel):
    """A secret's dates (never the secret or its hash)."""

    id: int
    created_at: datetime
    expires_at: datetime | None = Field(description="Null: until the next rotation.")
    active: bool


class ClientPublic(BaseModel):
    """A client, without secrets."""

    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    agency_code: str | None
    contact: str | None
    status: ClientStatus
    scopes: list[str] = Field(description="Non-data scopes (admin, audit, axis); data access comes from grants.")
    rate_limit_per_second: int | None
    rate_limit_per_day: int | None
    created_at: datetime
    updated_at: datetime


class ClientDetail(ClientPublic):
    """A client with its grants, the scopes a token issued now would carry, and its secrets' dates."""

    token_scopes: list[str]
    grants: list[GrantPublic]
    secrets: list[SecretPublic]


class ClientCreated(ClientDetail):
    """A new client and its secret, shown this once."""

    client_secret: str = Field(description="Store it now: the gateway keeps only a hash.")


class SecretRotated(BaseModel):
    """A new secret, shown this once."""

    client_id: str
    client_secret: str = Field(description="Store it now: the gateway keeps only a hash.")
    previous_secrets_expire_at: datetime = Field(description="When the secrets in use before stop working.")


async def add_client(
    session: AsyncSession,
    spec: ClientCreate,
    *,
    registry: ServedDatabases | None = None,
    access: AccessControl | None = None,
) -> tuple[Client, str]:
    """Create a client and return it with its secret, which is not stored and cannot be shown again.

    409 when the id is taken; 422 when a data scope names a database or operation this gateway does not
    serve (checked when ``registry`` is given).
    """
    client_id = spec.client_id or f"client-{secrets.token_hex(8)}"
    roles = [s for s in dict.fromkeys(spec.scopes) if s in NON_DATA_SCOPES]
    data: dict[str, list[str]] = {}
    for scope in dict.fromkeys(spec.scopes):
        if scope not in NON_DATA_SCOPES:
            database, _, operation = scope.partition(":")
            data.setdefault(database, []).append(operation)
    for database, operations in data.items():
        check_against_connector(registry, database, operations)
    if await session.get(Client, client_id) is not None:
        raise Conflict(f"client {client_id!r} already exists")
    secret = new_secret()
    client = Client(
        client_id=client_id,
        name=spec.name,
        agency_code=spec.agency_code,
        contact=spec.contact,
        scopes=roles,
        rate_limit_per_second=spec.rate_limit_per_second,
        rate_limit_per_day=spec.rate_limit_per_day,
    )
    session.add(client)
    try:
        await session.flush()
    except IntegrityError:  # created by someone else since the check above
        await session.rollback()
        raise Conflict(f"client {client_id!r} already exists") from None
    session.add(ClientSecret(client_id=client_id, secret_hash=hash_secret(secret)))
    for database, operations in data.items():
        session.add(Grant(client_id=client_id, database=database, operations=operations))
    await announce_change(session, client_id)
    await session.commit()
    if access is not None:
        access.invalidate(client_id)
    return client, secret


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
    registry: ServedDatabases | None = None,
) -> tuple[Client, str]:
    """:func:`add_client` from keyword arguments, validated like a request body (422 when invalid)."""
    values: dict[str, Any] = {
        "name": name,
        "scopes": list(scopes),
        "client_id": client_id,
        "agency_code": agency_code,
        "contact": contact,
        "rate_limit_per_second": rate_limit_per_second,
        "rate_limit_per_day": rate_limit_per_day,
    }
    return await add_client(session, validated(ClientCreate, values), registry=registry)


async def get_client(session: AsyncSession, client_id: str) -> Client | None:
    """The client with this id, or ``None``."""
    return await session.get(Client, client_id)


async def require_client(session: AsyncSession, client_id: str) -> Client:
    """The client with this id, or 404."""
    client = await session.get(Client, client_id) if CLIENT_ID_PATTERN.fullmatch(client_id) else None
    if client is None:
        raise NotFound("There is no client with this id.")
    return client


async def list_clients(session: AsyncSession, *, status: ClientStatus | None = None) -> list[Client]:
    """Every client (or those with ``status``), by id."""
    statement = select(Client)
    if status is not None:
        statement = statement.where(Client.status == status)
    return list(await session.exec(statement.order_by(col(Client.client_id))))


async def describe_client(session: AsyncSession, client: Client) -> ClientDetail:
    """The client with its grants, current token scopes and secrets' dates."""
    now = utcnow()
    access = await load_access(session, client.client_id)
    grants = await list_grants(session, client_id=client.client_id)
    rows = await session.exec(
        select(ClientSecret).where(ClientSecret.client_id == client.client_id).order_by(col(ClientSecret.id))
    )
    secret_views = []
    for row in rows:
        assert row.id is not None
        active = row.expires_at is None or row.expires_at > now
        secret_views.append(
            SecretPublic(id=row.id, created_at=row.created_at, expires_at=row.expires_at, active=active)
        )
    return ClientDetail(
        **ClientPublic.model_validate(client).model_dump(),
        token_scopes=access.token_scopes(now) if access is not None else [],
        grants=[GrantPublic.of(g, now) for g in grants],
        secrets=secret_views,
    )


async def active_admins(session: AsyncSession) -> list[str]:
    """The ids of the active clients holding the ``admin`` scope (those that can use the admin API)."""
    rows = await session.exec(
        select(Client)
        .where(Client.status == ClientStatus.ACTIVE)
        .order_by(col(Client.client_id))
        .execution_options(populate_existing=True)
    )
    return [client.client_id for client in rows if ADMIN in client.scopes]


def _ends_admin(client: Client, status: ClientStatus, scopes: Sequence[str]) -> bool:
    return (
        client.status == ClientStatus.ACTIVE
        and ADMIN in client.scopes
        and (status != ClientStatus.ACTIVE or ADMIN not in scopes)
    )


async def _keep_an_admin(session: AsyncSession, client: Client, status: ClientStatus, scopes: Sequence[str]) -> None:
    """409 when giving ``client`` this status and these scopes would leave no active client with ``admin``: the
    admin API would then refuse every request, its own way back included. The active clients' rows stay locked
    until the change commits, so that two such changes at once cannot both pass the check."""
    if not _ends_admin(client, status, scopes):
        return
    clients: Table = Client.__table__  # type: ignore[attr-defined]
    active = clients.c.status == ClientStatus.ACTIVE
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await lock_rows(connection, clients, active)
    else:  # in one order, so that two checks at once wait for each other instead of deadlocking
        key = clients.c.client_id
        await connection.execute(sa_select(key).where(active).order_by(key).with_for_update())
    await session.refresh(client)
    if _ends_admin(client, status, scopes) and not [c for c in await active_admins(session) if c != client.client_id]:
        await session.rollback()
        raise Conflict(
            "No other active client holds the admin scope: without this one, the admin API would refuse every "
            "request. Give the admin scope to another client first."
        )


async def update_client(
    session: AsyncSession,
    client: Client,
    changes: ClientUpdate,
    *,
    access: AccessControl | None = None,
    keep_an_admin: bool = False,
) -> Client:
    """Apply the members given in ``changes`` (none: nothing happens); every gateway process is told. With
    ``keep_an_admin`` (the admin API), 409 when the change would leave no active client with the ``admin`` scope."""
    if not changes.model_fields_set:
        return client
    if keep_an_admin and changes.scopes is not None:
        await _keep_an_admin(session, client, client.status, changes.scopes)
    for member in changes.model_fields_set:
        value = getattr(changes, member)
        setattr(client, member, list(dict.fromkeys(value)) if member == "scopes" else value)
    client.updated_at = utcnow()
    session.add(client)
    await announce_change(session, client.client_id)
    await session.commit()
    if access is not None:
        access.invalidate(client.client_id)
    return client


async def set_status(
    session: AsyncSession,
    client: Client,
    status: ClientStatus,
    *,
    access: AccessControl | None = None,
    keep_an_admin: bool = False,
) -> Client:
    """Suspend or reactivate a client; every gateway process is told (its tokens stop or start working). With
    ``keep_an_admin`` (the admin API), 409 when suspending it would leave no active client with ``admin``."""
    if keep_an_admin:
        await _keep_an_admin(session, client, status, client.scopes)
    client.status = status
    client.updated_at = utcnow()
    session.add(client)
    await announce_change(session, client.client_id)
    await session.commit()
    if access is not None:
        access.invalidate(client.client_id)
    return client


async def _rotate(
    session: AsyncSession, client: Client, overlap_seconds: int, access: AccessControl | None
) -> tuple[str, datetime]:
    if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
        raise ValueError(f"overlap_seconds must lie between 0 and {MAX_OVERLAP_SECONDS}")
    # Lock the client's row: two rotations at once must not both leave their new secret unexpired.
    clients: Table = Client.__table__  # type: ignore[attr-defined]
    await lock_rows(await session.connection(), clients, clients.c.client_id == client.client_id)
    now = utcnow()
    until = now + timedelta(seconds=overlap_seconds)
    await session.exec(
        delete(ClientSecret).where(
            col(ClientSecret.client_id) == client.client_id,
            col(ClientSecret.expires_at).is_not(None),
            col(ClientSecret.expires_at) <= now,
        )
    )
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
    session.add(ClientSecret(client_id=client.client_id, secret_hash=hash_secret(secret), created_at=now))
    client.updated_at = now
    session.add(client)
    # The secrets are cached with the client's access: every process forgets them at once.
    await announce_change(session, client.client_id)
    await session.commit()
    if access is not None:
        access.invalidate(client.client_id)
    return secret, until


async def rotate_secret(
    session: AsyncSession, client: Client, *, overlap_seconds: int = 0, access: AccessControl | None = None
) -> str:
    """Give ``client`` a new secret and return it; its current secrets keep working for ``overlap_seconds``
    (0: they stop at once). Secrets already expired are deleted. Every gateway process is told."""
    secret, _ = await _rotate(session, client, overlap_seconds, access)
    return secret


async def rotate_client_secret(
    session: AsyncSession, client: Client, rotation: SecretRotation, *, access: AccessControl | None = None
) -> SecretRotated:
    """:func:`rotate_secret`, answered with when the previous secrets stop working."""
    secret, until = await _rotate(session, client, rotation.overlap_seconds, access)
    return SecretRotated(client_id=client.client_id, client_secret=secret, previous_secrets_expire_at=until)


async def authenticate_client(
    session: AsyncSession | None, *, client_id: str, client_secret: str, access: AccessControl | None = None
) -> ClientAccess | None:
    """The access of the active client these credentials belong to, or ``None`` (see
    :func:`authenticate_client_secret`)."""
    found = await authenticate_client_secret(session, client_id=client_id, client_secret=client_secret, access=access)
    return None if found is None else found[0]


async def authenticate_client_secret(
    session: AsyncSession | None, *, client_id: str, client_secret: str, access: AccessControl | None = None
) -> tuple[ClientAccess, int] | None:
    """The access of the active client these credentials belong to, and the id of the stored secret that matched
    (the tokens issued name it: they stop working with it), or ``None``.

    With ``access`` (the running gateway's cache, invalidated by every change, rotations included) the client and
    its secrets' hashes come from the cache, so a token request reads nothing from the database, and ``session``
    may be ``None``. A secret still stored in an earlier form (argon2id) is re-stored as a keyed hash once it has
    matched (in ``session``, else in one of the cache's own)."""
    if session is None and access is None:
        raise ValueError("a session or the access cache is needed")
    secret = client_secret[:MAX_SECRET_LENGTH]
    current: ClientAccess | None = None
    if CLIENT_ID_PATTERN.fullmatch(client_id) and len(client_secret) <= MAX_SECRET_LENGTH:
        if access is not None:
            current = await access.get(client_id, cache_unknown=False)
        else:
            assert session is not None
            current = await load_access(session, client_id)
    usable = current.secrets_in_force(utcnow()) if current is not None else []
    match = await verify_secrets([s.secret_hash for s in usable], secret)
    if match is None or current is None or not current.active:
        return None
    if match.legacy:
        if session is not None:
            await _restore_secret(session, usable[match.index].id, secret, client_id, access)
        else:
            assert access is not None
            async with access.sessionmaker() as own:
                await _restore_secret(own, usable[match.index].id, secret, client_id, access)
    return current, usable[match.index].id


async def _restore_secret(
    session: AsyncSession, secret_id: int, secret: str, client_id: str, access: AccessControl | None
) -> None:
    """Store a secret that matched an earlier form of hash as a keyed hash (every process is told)."""
    row = await session.get(ClientSecret, secret_id)
    if row is not None:
        row.secret_hash = hash_secret(secret)
        session.add(row)
        await announce_change(session, client_id)
        await session.commit()
        if access is not None:
            access.invalidate(client_id)
