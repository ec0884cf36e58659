"""Reading the audit trail: filters, keyset pagination by ``seq``, opaque cursors.

The data-subject filter answers the question a citizen may ask under the personal data protection decree:
which agencies looked at my record, when and why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.administration import ACTION_PATTERN
from gateway.audit.events import Outcome
from gateway.audit.storage import EVENTS, SUBJECTS
from gateway.core.db import STORABLE, assume_utc
from gateway.core.problems import InvalidCursor
from gateway.identity.grants import CLIENT_ID_PATTERN

PAGE_DEFAULT = 50
PAGE_MAX = 500
#: The largest ``seq`` the chain's column (a signed 64-bit integer) holds: a cursor beyond it is malformed.
_MAX_SEQ = 2**63 - 1
_IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,63}$"
#: A bound of the time filter: UTC when given without offset; one whose time in UTC lies outside the years 1 to
#: 9999 is refused (422), as the database could not compare it.
_Moment = Annotated[datetime, AfterValidator(assume_utc), STORABLE]
#: The filters added after the first version (see :meth:`AuditFilters.fingerprint`).
_LATER_FILTERS = ("target", "action")


class AuditFilters(BaseModel):
    """What to look for in the audit trail (every filter optional; they combine with AND)."""

    model_config = ConfigDict(extra="forbid")

    client: str | None = Field(default=None, pattern=_IDENTIFIER, description="The client (agency system) id.")
    database: str | None = Field(
        default=None, pattern=_IDENTIFIER, description="The national database, e.g. `population`."
    )
    operation: str | None = Field(
        default=None, pattern=_IDENTIFIER, description="`read`, `search`, `token`, `admin`, `audit`, ..."
    )
    purpose: str | None = Field(default=None, pattern=_IDENTIFIER, description="The stated purpose (procedure code).")
    outcome: Outcome | None = Field(default=None, description="`allowed`, `refused` or `failed`.")
    subject: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="A record id (a citizen's personal id): the exchanges that touched this data subject.",
    )
    target: str | None = Field(
        default=None,
        pattern=CLIENT_ID_PATTERN.pattern,
        description="A client id: what administrators did to this client (created, changed, suspended it, gave or "
        "took its grants, keys, secrets), or asked to, through the admin API or the command line.",
    )
    action: str | None = Field(
        default=None,
        pattern=ACTION_PATTERN.pattern,
        description="An administrator's action: `grant.add`, `grant.revoke`, `client.create`, `client.update`, "
        "`client.suspend`, `client.activate`, `secret.rotate`, `key.register`, `key.revoke`, `signing-key.rotate`, "
        "`axis.maintenance`, `exchange.retry`, `exchange.dismiss`, ...",
    )
    since: _Moment | None = Field(default=None, description="From this time (ISO 8601; UTC when no offset).")
    until: _Moment | None = Field(default=None, description="Before this time (ISO 8601; UTC when no offset).")
    order: Literal["desc", "asc"] = Field(default="desc", description="Newest first (`desc`) or oldest first.")
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="Events per page.")
    cursor: str | None = Field(
        default=None,
        max_length=512,
        description="`next_cursor` of the previous page; empty or absent for the first page.",
    )

    def fingerprint(self) -> str:
        """What a cursor is bound to: every filter and the order (not the page size). The filters added since the
        first version count only when given, so that a cursor issued before them stays valid."""
        unused = {name for name in _LATER_FILTERS if getattr(self, name) is None}
        document = self.model_dump(mode="json", exclude={"cursor", "limit", *unused})
        return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


class AuditEventOut(BaseModel):
    """One exchange in the audit trail."""

    seq: int = Field(description="Its position in the chain.")
    occurred_at: datetime
    request_id: str
    client_id: str | None
    actor: str | None = Field(description="The officer (X-Actor-Id) the client acted for.")
    purpose: str | None = Field(description="The stated purpose (X-Purpose).")
    database: str | None
    operation: str
    record_ids: list[str] = Field(description="The records (data subjects) the exchange touched.")
    outcome: Outcome
    status: int = Field(description="The HTTP status answered.")
    reason: str | None = Field(description="Why it was refused or failed: the problem type, e.g. `access-denied`.")
    latency_ms: float
    response_sha256: str = Field(description="SHA-256 of the body answered (never the body itself).")
    fields: list[str] | None = Field(
        default=None,
        description="For an allowed data exchange, the fields its grants cover, which its answer could carry (`*`: "
        "every field); null for the others, and for the events of versions before this one.",
    )
    action: str | None = Field(
        default=None,
        description="For an administration event (operation `admin`), what the administrator did or asked to do: "
        "`grant.add`, `client.suspend`, ...; null for the other events, and for those written before the schema "
        "revision 0018.",
    )
    target_client: str | None = Field(
        default=None, description="The client the administrator acted on, or asked to (see the filter `target`)."
    )
    change: dict[str, Any] | None = Field(
        default=None,
        description="What the administrator's action changed (for a refused request, the ids it named): "
        "identifiers only (client, grant and key ids, database, operations, fields, purposes, scopes, dates), "
        "never a secret nor personal data.",
    )
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """A page of audit events."""

    items: list[AuditEventOut]
    next_cursor: str | None = Field(default=None, description="Cursor of the next page; null on the last.")


def _encode_cursor(seq: int, filters: AuditFilters) -> str:
    raw = orjson.dumps({"after": seq, "for": filters.fingerprint()})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str, filters: AuditFilters) -> int:
    try:
        document: Any = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor("The cursor is malformed.") from None
    if not isinstance(document, dict) or document.get("for") != filters.fingerprint():
        raise InvalidCursor("The cursor was issued for other filters; start again without one.")
    after = document.get("after")
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= _MAX_SEQ:
        raise InvalidCursor("The cursor is malformed.")
    return after


async def search_events(connection: AsyncConnection, filters: AuditFilters) -> AuditPage:
    """One page of the events matching ``filters``, in ``seq`` order."""
    statement = sa.select(EVENTS)
    if filters.subject is not None:
        statement = statement.join(SUBJECTS, SUBJECTS.c.seq == EVENTS.c.seq).where(
            SUBJECTS.c.subject_id == filters.subject
        )
    for column, value in (
        (EVENTS.c.client_id, filters.client),
        (EVENTS.c.database, filters.database),
        (EVENTS.c.operation, filters.operation),
        (EVENTS.c.purpose, filters.purpose),
        (EVENTS.c.outcome, filters.outcome),
        (EVENTS.c.target_client, filters.target),
        (EVENTS.c.action, filters.action),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.since is not None:
        statement = statement.where(EVENTS.c.occurred_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(EVENTS.c.occurred_at < filters.until)
    descending = filters.order == "desc"
    if filters.cursor:
        after = _decode_cursor(filters.cursor, filters)
        statement = statement.where(EVENTS.c.seq < after if descending else EVENTS.c.seq > after)
    statement = statement.order_by(EVENTS.c.seq.desc() if descending else EVENTS.c.seq).limit(filters.limit + 1)
    rows = (await connection.execute(statement)).mappings().all()
    items = [AuditEventOut.model_validate(dict(row)) for row in rows[: filters.limit]]
    next_cursor = _encode_cursor(items[-1].seq, filters) if len(rows) > filters.limit else None
    return AuditPage(items=items, next_cursor=next_cursor)
