"""``GET /v1/services``: what the calling client may do, like X-Road's ``allowedMethods``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from gateway.core.db import utcnow
from gateway.http.deps import PrincipalDep, StateDep
from gateway.http.openapi import problem_responses
from gateway.identity.access import ClientAccess
from gateway.identity.request_state import request_state

router = APIRouter(prefix="/v1/services", tags=["access"])


class GrantView(BaseModel):
    """One grant in force."""

    id: int
    operations: list[str]
    fields: list[str] | None = Field(description="The contract fields answered; null means every field.")
    purposes: list[str] | None = Field(description="The procedure codes allowed; null means any purpose.")
    require_purpose: bool
    require_actor: bool
    valid_from: datetime | None
    valid_until: datetime | None


class DatabaseService(BaseModel):
    """What the client may do with one national database."""

    database: str
    title: str | None = Field(description="Null when the database is not served by this gateway right now.")
    contract: str | None
    operations: list[str] = Field(description="Operations allowed by at least one grant.")
    grants: list[GrantView]


class Services(BaseModel):
    """The calling client's access."""

    client_id: str
    scopes: list[str] = Field(description="Non-data scopes (admin, audit, axis).")
    databases: list[DatabaseService]


def describe_access(access: ClientAccess, state: StateDep) -> Services:
    """The grants in force of ``access``, grouped by database."""
    now = utcnow()
    by_database: dict[str, list[GrantView]] = {}
    for grant in access.grants:
        if grant.in_force(now):
            by_database.setdefault(grant.database, []).append(
                GrantView(
                    id=grant.id,
                    operations=sorted(grant.operations),
                    fields=None if grant.fields is None else sorted(grant.fields),
                    purposes=None if grant.purposes is None else sorted(grant.purposes),
                    require_purpose=grant.require_purpose,
                    require_actor=grant.require_actor,
                    valid_from=grant.valid_from,
                    valid_until=grant.valid_until,
                )
            )
    databases = []
    for database_id, grants in sorted(by_database.items()):
        served = state.registry.databases.get(database_id)
        databases.append(
            DatabaseService(
                database=database_id,
                title=served.connector.title if served else None,
                contract=served.connector.contract.contract_id() if served else None,
                operations=sorted({op for g in grants for op in g.operations}),
                grants=grants,
            )
        )
    return Services(client_id=access.client_id, scopes=sorted(access.scopes), databases=databases)


@router.get("", summary="What the calling client may do", responses=problem_responses(401))
async def list_services(request: Request, principal: PrincipalDep, state: StateDep) -> Services:
    """Databases, operations, fields and purposes of the caller's grants in force."""
    access = request_state(request.scope).access
    assert access is not None, "PrincipalDep authenticated the request"
    return describe_access(access, state)
