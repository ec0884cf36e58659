"""Grants: what one client may do with one national database; adding, listing, showing and revoking them.

A grant is checked against the database's connector when this gateway serves that database (the operations the
connector offers, the fields of its contract). Every change is announced to all gateway processes
(:func:`~gateway.identity.access.announce_change`) and forgotten at once by this process's access cache.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, Self, TypeVar, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.functional_validators import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import Table, and_, not_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.base import Connector
from connectors.fields import has_field_path
from contracts.dates import VIETNAM_TIME
from gateway.core.db import StorableDatetime, check_storable, in_utc, lock_rows, utcnow
from gateway.core.problems import Conflict, NotFound, ValidationFailed, validation_errors
from gateway.core.settings import DATABASE_ID
from gateway.identity.access import HEADER_VALUE, OPERATIONS, AccessControl, announce_change
from gateway.identity.models import Client, Grant

Operation = Literal["read", "search", "submit", "delete"]
assert get_args(Operation) == OPERATIONS

DATE_ONLY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FIELD_PATH = re.compile(r"^[a-z_][a-z0-9_]{0,63}(\.[a-z_][a-z0-9_]{0,63}){0,7}$")
#: Client ids (matched whole: ``$`` alone would let a trailing line break through).
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
#: Free text of clients and grants (names, contacts, notes): no C0 or C1 control character (line breaks, tabs,
#: terminal escapes, NUL), no invisible formatting (soft hyphen, zero-width characters, word joiners, byte order
#: mark), no bidirectional control (overrides, embeddings, isolates, marks) and no line or paragraph separator.
#: Printed by the command line and kept in logs, such text could forge lines, drive a terminal or hide what it
#: says. A JSON Schema (ECMA-262) pattern as well, so that the API document states it.
PLAIN_TEXT = re.compile(
    r"^[^\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]*$"
)
#: The Unicode categories the command line escapes when it prints stored text (control, format, surrogate,
#: private-use and unassigned characters, line and paragraph separators).
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_LIST = 200
#: The dates whose first moment and end, Viet Nam time, lie within the years 1 to 9999 in UTC.
DAY_OUT_OF_RANGE = "Input should be a date between 0001-01-02 and 9999-12-30"

ModelT = TypeVar("ModelT", bound=BaseModel)
_AWARE_DATETIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def validated(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """``model`` built from ``values``, or :class:`ValidationFailed` (422) listing what is wrong (for callers
    other than FastAPI, which validates request bodies itself)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ValidationFailed("Some values are invalid.", errors=validation_errors(exc.errors())) from None


def invalid(loc: Sequence[str | int], message: str, kind: str) -> ValidationFailed:
    """A 422 about one value of a request body."""
    return ValidationFailed(message, errors=[{"loc": ["body", *loc], "msg": message, "type": kind}])


def check_text(value: str) -> str:
    """A name, contact or note in :data:`PLAIN_TEXT`."""
    if not PLAIN_TEXT.fullmatch(value):
        raise PydanticCustomError(
            "unprintable",
            "control, invisible and bidirectional formatting characters (line breaks, escapes, NUL) are not allowed",
        )
    return value


def _check_database(value: str) -> str:
    if not DATABASE_ID.fullmatch(value):
        raise PydanticCustomError(
            "database_id", "a database id is 1-32 lower-case letters, digits, '_' and '-', starting with a letter"
        )
    return value


def _check_field(value: str) -> str:
    if not FIELD_PATH.fullmatch(value):
        raise PydanticCustomError(
            "field_path", "a field is a contract field name, or a dotted path into a nested one (address.ward_code)"
        )
    return value


def _check_purpose(value: str) -> str:
    if not HEADER_VALUE.fullmatch(value):
        raise PydanticCustomError(
            "purpose",
            "a purpose is a procedure code: 1-64 letters, digits and . _ : @ / -, starting with a letter or digit",
        )
    return value


def _check_moment(value: Any) -> Any:
    # A date-time string whose time is zero would pass as a date: only YYYY-MM-DD is a date here.
    if isinstance(value, str):
        if DATE_ONLY.fullmatch(value):
            return value
        try:
            return check_storable(_AWARE_DATETIME.validate_python(value))
        except ValidationError:
            pass
    elif isinstance(value, datetime) and value.utcoffset() is not None:
        return check_storable(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise PydanticCustomError(
        "moment", "a date (2027-12-31) or a date-time with its UTC offset (2027-12-31T17:00:00+07:00)"
    )


def _check_day(value: datetime | date) -> datetime | date:
    """A date whose first moment and end (Viet Nam time) the database can store, whichever end of the validity
    it gives (0001-01-01 begins in year 0 in UTC; 9999-12-31 ends in year 10000)."""
    if not isinstance(value, datetime):
        try:
            for moment in filter(None, (start_of(value), end_of(value))):
                in_utc(moment)
        except (ValueError, OverflowError):
            raise PydanticCustomError("datetime_out_of_range", DAY_OUT_OF_RANGE) from None
    return value


DatabaseId = Annotated[str, AfterValidator(_check_database), Field(json_schema_extra={"pattern": DATABASE_ID.pattern})]
FieldPath = Annotated[str, AfterValidator(_check_field), Field(json_schema_extra={"pattern": FIELD_PATH.pattern})]
Purpose = Annotated[str, AfterValidator(_check_purpose), Field(json_schema_extra={"pattern": HEADER_VALUE.pattern})]
Moment = Annotated[StorableDatetime | date, BeforeValidator(_check_moment), AfterValidator(_check_day)]


def start_of(moment: datetime | date | None) -> datetime | None:
    """A validity start: a date means the start of that day, Viet Nam time."""
    if moment is None or isinstance(moment, datetime):
        return moment
    return datetime.combine(moment, time(), VIETNAM_TIME)


def end_of(moment: datetime | date | None) -> datetime | None:
    """A validity end (exclusive): a date means through the end of that day, Viet Nam time."""
    if moment is None or isinstance(moment, datetime):
        return moment
    return datetime.combine(moment + timedelta(days=1), time(), VIETNAM_TIME)


class GrantCreate(BaseModel):
    """A new grant: operations of one client on one database, limited to fields and purposes."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=64, description="The client the grant is for.")
    database: DatabaseId = Field(description="The national database, e.g. `population`.")
    operations: list[Operation] = Field(
        min_length=1,
        max_length=len(OPERATIONS),
        description="What it may do. `submit` creates and updates records within `fields`, and deletes them "
        "when `fields` is null; `delete` (with `submit`) also lets a grant limited to fields delete whole records.",
    )
    fields: list[FieldPath] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LIST,
        description="Contract fields answered (and searchable by), top-level or dotted nested paths; null: all.",
        examples=[["personal_id", "full_name", "date_of_birth", "permanent_address.province_code"]],
    )
    purposes: list[Purpose] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LIST,
        description="Public-service procedure codes the grant serves (`X-Purpose`); null: any purpose.",
        examples=[["1.001612.000.00.00.H41"]],
    )
    require_purpose: StrictBool = Field(default=True, description="Requests must state `X-Purpose`.")
    require_actor: StrictBool = Field(default=True, description="Requests must state `X-Actor-Id`.")
    valid_from: Moment | None = Field(
        default=None, description="Start; a date means its first moment, Viet Nam time (UTC+7). Null: now."
    )
    valid_until: Moment | None = Field(
        default=None, description="End (exclusive); a date means through that whole day, Viet Nam time. Null: open."
    )
    note: Annotated[str, AfterValidator(check_text)] | None = Field(
        default=None,
        max_length=500,
        description="Why the grant exists (a decision, a ticket).",
        json_schema_extra={"pattern": PLAIN_TEXT.pattern},
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        start, end = start_of(self.valid_from), end_of(self.valid_until)
        if start is not None and end is not None and start >= end:
            raise PydanticCustomError("validity", "valid_until must come after valid_from")
        if "delete" in self.operations and "submit" not in self.operations:
            raise PydanticCustomError(
                "delete_needs_submit", "delete is a right of submissions: a grant with delete also needs submit"
            )
        if self.purposes is not None and not self.require_purpose:
            raise PydanticCustomError(
                "purpose_required", "a grant limited to purposes needs X-Purpose: require_purpose cannot be false"
            )
        return self


class GrantStatus(StrEnum):
    """Where a grant stands at a moment."""

    ACTIVE = "active"
    PENDING = "pending"
    EXPIRED = "expired"
    REVOKED = "revoked"


def grant_status(grant: Grant, now: datetime) -> GrantStatus:
    """The status of ``grant`` at ``now``."""
    if grant.revoked_at is not None:
        return GrantStatus.REVOKED
    if grant.valid_from is not None and now < grant.valid_from:
        return GrantStatus.PENDING
    if grant.valid_until is not None and now >= grant.valid_until:
        return GrantStatus.EXPIRED
    return GrantStatus.ACTIVE


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


class GrantPublic(BaseModel):
    """A grant as stored, and its status now."""

    id: int
    client_id: str
    database: str
    operations: list[str]
    fields: list[str] | None = Field(description="Null: every field of the contract.")
    purposes: list[str] | None = Field(description="Null: any purpose.")
    require_purpose: bool
    require_actor: bool
    valid_from: datetime | None
    valid_until: datetime | None
    note: str | None
    created_at: datetime
    revoked_at: datetime | None
    status: GrantStatus

    @classmethod
    def of(cls, grant: Grant, now: datetime | None = None) -> GrantPublic:
        """The public view of a stored grant."""
        assert grant.id is not None
        return cls(
            id=grant.id,
            client_id=grant.client_id,
            database=grant.database,
            operations=list(grant.operations),
            fields=None if grant.fields is None else list(grant.fields),
            purposes=None if grant.purposes is None else list(grant.purposes),
            require_purpose=grant.require_purpose,
            require_actor=grant.require_actor,
            valid_from=_utc(grant.valid_from),
            valid_until=_utc(grant.valid_until),
            note=grant.note,
            created_at=grant.created_at,
            revoked_at=grant.revoked_at,
            status=grant_status(grant, now or utcnow()),
        )


def minimal_paths(paths: Sequence[str]) -> list[str]:
    """``paths`` sorted, without duplicates and without paths inside another one (``a.b`` when ``a`` is there)."""
    unique = sorted(set(paths))
    kept = set(unique)
    return [p for p in unique if not any(p.startswith(other + ".") for other in kept)]


class ServedDatabase(Protocol):
    """What a grant is checked against in one served database: its operations and its connector's contract."""

    @property
    def operations(self) -> tuple[str, ...]: ...

    @property
    def connector(self) -> Connector[Any]: ...


class ServedDatabases(Protocol):
    """The databases this gateway serves, as the checks of grants and scopes need them (the connector registry,
    :class:`gateway.records.registry.ConnectorRegistry`, is one)."""

    @property
    def databases(self) -> Mapping[str, ServedDatabase]: ...

    @property
    def failures(self) -> Mapping[str, str]: ...


def check_against_connector(
    registry: ServedDatabases | None,
    database: str,
    operations: Sequence[str],
    fields: Sequence[str] | None = None,
) -> None:
    """422 unless the database is one this gateway serves, whose connector offers ``operations`` and whose
    contract has ``fields``. A database configured but not loaded now (its connector failed) is accepted
    unchecked; so is everything when no registry is given."""
    if registry is None:
        return
    served = registry.databases.get(database)
    if served is None:
        if database in registry.failures:
            return
        known = ", ".join(sorted(registry.databases)) or "none"
        raise invalid(["database"], f"This gateway serves no such database (it serves: {known}).", "unknown_database")
    errors: list[dict[str, Any]] = []
    for index, operation in enumerate(operations):
        if operation not in served.operations:
            message = (
                f"The {database} database does not offer this operation (it offers: {', '.join(served.operations)})."
            )
            errors.append({"loc": ["body", "operations", index], "msg": message, "type": "unsupported_operation"})
    contract = served.connector.contract
    for index, path in enumerate(fields or ()):
        if not has_field_path(contract, path):
            message = f"Not a field of the {contract.contract_id()} contract."
            errors.append({"loc": ["body", "fields", index], "msg": message, "type": "unknown_field"})
    if errors:
        raise ValidationFailed(f"The grant does not fit the {database} database.", errors=errors)


def _same(grant: Grant, other: Grant) -> bool:
    def as_set(values: list[str] | None) -> frozenset[str] | None:
        return None if values is None else frozenset(values)

    return (
        set(grant.operations) == set(other.operations)
        and as_set(grant.fields) == as_set(other.fields)
        and as_set(grant.purposes) == as_set(other.purposes)
        and (grant.require_purpose, grant.require_actor) == (other.require_purpose, other.require_actor)
        and (grant.valid_from, grant.valid_until) == (other.valid_from, other.valid_until)
    )


async def add_grant(
    session: AsyncSession,
    spec: GrantCreate,
    *,
    registry: ServedDatabases | None = None,
    access: AccessControl | None = None,
) -> Grant:
    """Store a new grant: 422 for an unknown client or a grant that does not fit the database, 409 when the
    same grant is already in place."""
    if not CLIENT_ID_PATTERN.fullmatch(spec.client_id) or await session.get(Client, spec.client_id) is None:
        raise invalid(["client_id"], "There is no client with this id.", "unknown_client")
    check_against_connector(registry, spec.database, spec.operations, spec.fields)
    # The client's row stays locked until the grant is stored: the same grant asked for twice at once is stored once.
    clients: Table = Client.__table__  # type: ignore[attr-defined]
    if not await lock_rows(await session.connection(), clients, clients.c.client_id == spec.client_id):
        await session.rollback()
        raise invalid(["client_id"], "There is no client with this id.", "unknown_client")
    grant = Grant(
        client_id=spec.client_id,
        database=spec.database,
        operations=[op for op in OPERATIONS if op in spec.operations],
        fields=None if spec.fields is None else minimal_paths(spec.fields),
        purposes=None if spec.purposes is None else sorted(set(spec.purposes)),
        require_purpose=spec.require_purpose,
        require_actor=spec.require_actor,
        valid_from=start_of(spec.valid_from),
        valid_until=end_of(spec.valid_until),
        note=spec.note,
    )
    existing = await session.exec(
        select(Grant).where(
            Grant.client_id == spec.client_id, Grant.database == spec.database, col(Grant.revoked_at).is_(None)
        )
    )
    for other in existing:
        if _same(grant, other):
            grant_id = other.id
            await session.rollback()  # releases the client's row
            raise Conflict("The same grant is already in place.", grant_id=grant_id)
    session.add(grant)
    await announce_change(session, spec.client_id)
    await session.commit()
    if access is not None:
        access.invalidate(spec.client_id)
    return grant


def _in_force(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(Grant.revoked_at).is_(None),
        or_(col(Grant.valid_from).is_(None), col(Grant.valid_from) <= now),
        or_(col(Grant.valid_until).is_(None), col(Grant.valid_until) > now),
    )


async def list_grants(
    session: AsyncSession,
    *,
    client_id: str | None = None,
    database: str | None = None,
    active: bool | None = None,
    now: datetime | None = None,
) -> list[Grant]:
    """Grants by id, revoked ones included; ``active`` keeps those in force now (or, false, the others). A client
    id or database that cannot be one has none."""
    if (client_id is not None and not CLIENT_ID_PATTERN.fullmatch(client_id)) or (
        database is not None and not DATABASE_ID.fullmatch(database)
    ):
        return []
    statement = select(Grant)
    if client_id is not None:
        statement = statement.where(Grant.client_id == client_id)
    if database is not None:
        statement = statement.where(Grant.database == database)
    if active is not None:
        in_force = _in_force(now or utcnow())
        statement = statement.where(in_force if active else not_(in_force))
    return list(await session.exec(statement.order_by(col(Grant.id))))


async def get_grant(session: AsyncSession, grant_id: int) -> Grant:
    """The grant with this id, or 404."""
    grant = await session.get(Grant, grant_id)
    if grant is None:
        raise NotFound("There is no grant with this id.")
    return grant


async def revoke_grant(session: AsyncSession, grant_id: int, *, access: AccessControl | None = None) -> Grant:
    """Revoke a grant at once (the row stays, with ``revoked_at``); revoking it again changes nothing."""
    grant = await get_grant(session, grant_id)
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        session.add(grant)
        await announce_change(session, grant.client_id)
        await session.commit()
        if access is not None:
            access.invalidate(grant.client_id)
    return grant
