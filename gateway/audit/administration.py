"""What an administrator did, in the audit trail: the admin API's requests and the command line's changes alike.

An administration event (operation ``admin``) names its **action** (:data:`ACTIONS`: ``grant.add``,
``client.suspend``, ``key.revoke``...), the **client** it acted on (``target_client``: the client created, changed,
granted, whose key or secret it is) and **what changed** (``change``): identifiers only, the ids of what was made
or changed, the database, operations, field names, purposes, scopes, rate limits, status, dates. Never a secret
(client secrets, private keys, tokens), nor free text that may name a person (a client's name or contact, a
grant's note: said to have changed, their values not kept).

* An admin request: its route sets the descriptor once the change is made (:class:`AdminDescriptor` in the request
  state); a request refused before (401, 403, 404, 409, 422) is described by :func:`describe_request` from the
  route it asked for: its action, and the client, grant, key or database it named when that is a well-formed
  identifier. Only requests under ``/v1/admin`` pay for any of this.
  A request that changes something is committed with its event: its session (:class:`HeldChange`) keeps the
  transaction open until the audit hook appends the event in it (:func:`append_in_transaction`) and commits both.
  When the event cannot be appended, the change is rolled back and the answer is a 503: nothing was changed.
* A command: :func:`command_line_event` makes the event (the OS user as actor, no client, a request id starting
  with ``cli-``) and :func:`append_in_transaction` appends it in the command's own transaction, so that the change
  is committed with its event or not at all (see :mod:`gateway.cli.recorded`).
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit._appenders import chain
from gateway.audit.events import PendingEvent, timestamp
from gateway.audit.storage import EVENTS, HEAD, HEAD_ID, SUBJECTS, HeadMissing, move_head
from gateway.core.db import OneTransaction
from gateway.core.logs import get_logger
from gateway.core.problems import ChangeNotRecorded
from gateway.core.settings import DATABASE_ID
from gateway.identity.access import HEADER_VALUE
from gateway.identity.grants import CLIENT_ID_PATTERN
from gateway.identity.request_state import AdminDescriptor

if TYPE_CHECKING:
    from starlette.types import Scope

    from gateway.identity.client_keys import ClientKeyPublic
    from gateway.identity.clients import ClientDetail
    from gateway.identity.models import Client, ClientKey, ClientStatus
    from gateway.identity.request_state import RequestState
    from gateway.identity.signing_keys import Rotation, SigningKeyImport

__all__ = [
    "ACTIONS",
    "AdminDescriptor",
    "HeldChange",
    "append_in_transaction",
    "command_line_event",
    "describe_request",
]

CLIENT_CREATE = "client.create"
CLIENT_LIST = "client.list"
CLIENT_SHOW = "client.show"
CLIENT_UPDATE = "client.update"
CLIENT_SUSPEND = "client.suspend"
CLIENT_ACTIVATE = "client.activate"
SECRET_ROTATE = "secret.rotate"  # noqa: S105 - an action's name, not a secret
GRANT_ADD = "grant.add"
GRANT_LIST = "grant.list"
GRANT_SHOW = "grant.show"
GRANT_REVOKE = "grant.revoke"
KEY_REGISTER = "key.register"
KEY_LIST = "key.list"
KEY_REVOKE = "key.revoke"
SIGNING_KEY_LIST = "signing-key.list"
SIGNING_KEY_ROTATE = "signing-key.rotate"
SIGNING_KEY_IMPORT = "signing-key.import"
DATA_KEY_ROTATE = "data-key.rotate"
AXIS_MAINTENANCE = "axis.maintenance"
EXCHANGE_RETRY = "exchange.retry"
EXCHANGE_REPLAY = "exchange.replay"
EXCHANGE_DISMISS = "exchange.dismiss"

#: The admin API's routes, by method and path, and the action each one is.
ROUTE_ACTIONS: Mapping[tuple[str, str], str] = {
    ("POST", "/v1/admin/clients"): CLIENT_CREATE,
    ("GET", "/v1/admin/clients"): CLIENT_LIST,
    ("GET", "/v1/admin/clients/{client_id}"): CLIENT_SHOW,
    ("PATCH", "/v1/admin/clients/{client_id}"): CLIENT_UPDATE,
    ("POST", "/v1/admin/clients/{client_id}/suspend"): CLIENT_SUSPEND,
    ("POST", "/v1/admin/clients/{client_id}/activate"): CLIENT_ACTIVATE,
    ("POST", "/v1/admin/clients/{client_id}/secret"): SECRET_ROTATE,
    ("POST", "/v1/admin/grants"): GRANT_ADD,
    ("GET", "/v1/admin/grants"): GRANT_LIST,
    ("GET", "/v1/admin/grants/{grant_id}"): GRANT_SHOW,
    ("DELETE", "/v1/admin/grants/{grant_id}"): GRANT_REVOKE,
    ("POST", "/v1/admin/clients/{client_id}/keys"): KEY_REGISTER,
    ("GET", "/v1/admin/clients/{client_id}/keys"): KEY_LIST,
    ("DELETE", "/v1/admin/clients/{client_id}/keys/{kid}"): KEY_REVOKE,
    ("GET", "/v1/admin/signing-keys"): SIGNING_KEY_LIST,
    ("POST", "/v1/admin/signing-keys/rotate"): SIGNING_KEY_ROTATE,
    ("PUT", "/v1/admin/axis/{database_id}/maintenance"): AXIS_MAINTENANCE,
}
#: Every action an administration event may name (the command line's own included).
ACTIONS = frozenset(
    {*ROUTE_ACTIONS.values(), SIGNING_KEY_IMPORT, DATA_KEY_ROTATE, EXCHANGE_RETRY, EXCHANGE_REPLAY, EXCHANGE_DISMISS}
)
#: The shape of an action's name (the audit API's ``action`` filter).
ACTION_PATTERN = re.compile(r"^[a-z][a-z.-]{0,63}$")
#: The creations whose body names the client they are for (``client_id``).
_BODY_NAMES_CLIENT = frozenset({CLIENT_CREATE, GRANT_ADD})
_GRANT_ID = re.compile(r"^[1-9][0-9]{0,9}$")
_MAX_GRANT_ID = 2**31 - 1
#: Key ids as the gateway stores them (``gateway.identity.client_keys.KID_PATTERN``).
_KID = re.compile(r"^[\x21-\x7e]{1,64}$")
#: What a command's request id starts with.
COMMAND_LINE_PREFIX = "cli-"
#: The ``status`` of a command's event: it answered no HTTP request.
COMMAND_LINE_STATUS = 0
#: The ``response_sha256`` of a command's event: the SHA-256 of nothing (no answer body).
_NO_BODY = hashlib.sha256(b"").hexdigest()


# --- what one action changed ------------------------------------------------------------------------------------


class GrantLike(Protocol):
    """A grant, stored (:class:`gateway.identity.models.Grant`) or as the API shows it."""

    @property
    def id(self) -> int | None: ...
    @property
    def client_id(self) -> str: ...
    @property
    def database(self) -> str: ...
    @property
    def operations(self) -> list[str]: ...
    @property
    def fields(self) -> list[str] | None: ...
    @property
    def purposes(self) -> list[str] | None: ...
    @property
    def require_purpose(self) -> bool: ...
    @property
    def require_actor(self) -> bool: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def valid_until(self) -> datetime | None: ...
    @property
    def revoked_at(self) -> datetime | None: ...


def _moment(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def _plain(change: Mapping[str, Any]) -> dict[str, Any]:
    """``change`` as the JSON it is stored as, read back: the event's hash is computed on what the database will
    give back (lists, not tuples; strings, never other types)."""
    document: dict[str, Any] = orjson.loads(orjson.dumps(change))
    return document


def describe(action: str, target_client: str | None = None, **change: Any) -> AdminDescriptor:
    """The descriptor of ``action`` on ``target_client`` that changed ``change`` (identifiers only)."""
    return AdminDescriptor(action, target_client, _plain(change) if change else None)


def _grant(grant: GrantLike) -> dict[str, Any]:
    """A grant's identifiers and reach: never its note (free text)."""
    return {
        "grant_id": grant.id,
        "client_id": grant.client_id,
        "database": grant.database,
        "operations": list(grant.operations),
        "fields": None if grant.fields is None else list(grant.fields),
        "purposes": None if grant.purposes is None else list(grant.purposes),
        "require_purpose": grant.require_purpose,
        "require_actor": grant.require_actor,
        "valid_from": _moment(grant.valid_from),
        "valid_until": _moment(grant.valid_until),
    }


#: A client's members whose values are identifiers or numbers, recorded as they are; the others (its name and
#: contact: free text that may name a person or give a telephone number) are recorded as changed only.
CLIENT_VALUES = ("agency_code", "scopes", "rate_limit_per_second", "rate_limit_per_day")


def client_values(client: Client | ClientDetail) -> dict[str, Any]:
    """The recordable members of a client, now (to name what an update changed from)."""
    return {
        "agency_code": client.agency_code,
        "scopes": list(client.scopes),
        "rate_limit_per_second": client.rate_limit_per_second,
        "rate_limit_per_day": client.rate_limit_per_day,
    }


def client_created(detail: ClientDetail) -> AdminDescriptor:
    """A client created, with the grants its data scopes made (each on every field, for any purpose)."""
    return describe(
        CLIENT_CREATE,
        detail.client_id,
        client_id=detail.client_id,
        status=detail.status.value,
        **client_values(detail),
        grants=[_grant(grant) for grant in detail.grants],
    )


def client_updated(
    client_id: str, members: Iterable[str], before: Mapping[str, Any], after: Mapping[str, Any]
) -> AdminDescriptor:
    """A client's members changed (``members``, as given), with the values before and after of those recordable."""
    given = sorted(members)
    recorded = [member for member in given if member in CLIENT_VALUES]
    return describe(
        CLIENT_UPDATE,
        client_id,
        client_id=client_id,
        members=given,
        values={member: after[member] for member in recorded},
        previous={member: before[member] for member in recorded},
    )


def status_set(client_id: str, status: ClientStatus, previous: ClientStatus) -> AdminDescriptor:
    """A client suspended or reactivated."""
    action = CLIENT_SUSPEND if status.value == "suspended" else CLIENT_ACTIVATE
    return describe(action, client_id, client_id=client_id, status=status.value, previous_status=previous.value)


def secret_rotated(client_id: str, overlap_seconds: int, previous_expire_at: datetime) -> AdminDescriptor:
    """A client given a new secret (never the secret)."""
    return describe(
        SECRET_ROTATE,
        client_id,
        client_id=client_id,
        overlap_seconds=overlap_seconds,
        previous_secrets_expire_at=_moment(previous_expire_at),
    )


def grant_added(grant: GrantLike) -> AdminDescriptor:
    """A grant added: its client, database, operations, fields, purposes and validity."""
    return describe(GRANT_ADD, grant.client_id, **_grant(grant))


def grant_revoked(grant: GrantLike, *, already: bool) -> AdminDescriptor:
    """A grant revoked (``already``: it was, and nothing changed)."""
    return describe(
        GRANT_REVOKE, grant.client_id, **_grant(grant), revoked_at=_moment(grant.revoked_at), already_revoked=already
    )


def key_registered(key: ClientKey | ClientKeyPublic) -> AdminDescriptor:
    """A client's public key registered: its id, algorithm and certificate expiry (not the key)."""
    return describe(
        KEY_REGISTER,
        key.client_id,
        client_id=key.client_id,
        kid=key.kid,
        algorithm=key.algorithm,
        not_after=_moment(key.not_after),
    )


def key_revoked(key: ClientKey | ClientKeyPublic, *, already: bool) -> AdminDescriptor:
    """A client's key revoked (``already``: it was, and nothing changed)."""
    return describe(
        KEY_REVOKE,
        key.client_id,
        client_id=key.client_id,
        kid=key.kid,
        revoked_at=_moment(key.revoked_at),
        already_revoked=already,
    )


def signing_key_rotated(rotation: Rotation) -> AdminDescriptor:
    """The gateway's signing key rotated: the new key's id and those it retired."""
    return describe(
        SIGNING_KEY_ROTATE,
        kid=rotation.kid,
        algorithm=rotation.algorithm,
        retired=list(rotation.retired),
        retired_at=_moment(rotation.retired_at),
    )


def signing_key_imported(outcome: SigningKeyImport) -> AdminDescriptor:
    """A signing key imported from a file (``imported`` false: it was the active key already)."""
    return describe(
        SIGNING_KEY_IMPORT,
        kid=outcome.kid,
        algorithm=outcome.algorithm,
        imported=outcome.imported,
        retired=list(outcome.retired),
        retired_at=_moment(outcome.retired_at),
    )


def data_key_rotated(*, secrets: int, signing_keys: int, drop_old: bool) -> AdminDescriptor:
    """The data key rotated: how many webhook secrets and signing keys were encrypted again (never a key)."""
    return describe(
        DATA_KEY_ROTATE, reencrypted_secrets=secrets, reencrypted_signing_keys=signing_keys, drop_old=drop_old
    )


def maintenance_set(database: str, maintenance: bool) -> AdminDescriptor:
    """A database's connection put under maintenance, or out of it."""
    return describe(AXIS_MAINTENANCE, database=database, maintenance=maintenance)


def exchange_retried(*, database: str | None, operation_ids: Sequence[int], queued: int) -> AdminDescriptor:
    """Dead-lettered operations queued for delivery again: the ids named (none: every dead letter of
    ``database``), the database, and how many were queued."""
    return describe(EXCHANGE_RETRY, database=database, operation_ids=sorted(operation_ids) or None, queued=queued)


def exchange_dismissed(*, database: str | None, operation_ids: Sequence[int], dismissed: int) -> AdminDescriptor:
    """Dead-lettered operations dismissed: the ids named (none: every dead letter of ``database``), the database,
    and how many were dismissed."""
    return describe(
        EXCHANGE_DISMISS, database=database, operation_ids=sorted(operation_ids) or None, dismissed=dismissed
    )


def exchange_replayed(*, database: str, since: datetime | None, receipt_id: str | None, queued: int) -> AdminDescriptor:
    """Delivered operations of ``database`` queued for delivery again (those accepted since ``since``, or of one
    receipt), and how many were."""
    return describe(EXCHANGE_REPLAY, database=database, since=_moment(since), receipt_id=receipt_id, queued=queued)


def asked(action: str, target_client: str | None) -> AdminDescriptor:
    """A request that changes nothing (a list, a show), for ``target_client`` when it names one."""
    return AdminDescriptor(action, _client_id(target_client))


# --- admin requests ---------------------------------------------------------------------------------------------


def _client_id(value: object) -> str | None:
    return value if isinstance(value, str) and CLIENT_ID_PATTERN.fullmatch(value) else None


def _named_in_body(body: bytes) -> str | None:
    """The ``client_id`` a JSON body names, when it is a well-formed client id."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return _client_id(document.get("client_id")) if isinstance(document, dict) else None


def _named_in_path(params: Mapping[str, Any]) -> dict[str, Any]:
    """The grant, key or database a path names, each when it is well-formed."""
    named: dict[str, Any] = {}
    grant_id = params.get("grant_id")
    if isinstance(grant_id, str) and _GRANT_ID.fullmatch(grant_id) and int(grant_id) <= _MAX_GRANT_ID:
        named["grant_id"] = int(grant_id)
    kid = params.get("kid")
    if isinstance(kid, str) and _KID.fullmatch(kid):
        named["kid"] = kid
    database = params.get("database_id")
    if isinstance(database, str) and DATABASE_ID.fullmatch(database):
        named["database"] = database
    return named


def requested(scope: Scope, body: bytes) -> AdminDescriptor | None:
    """What an admin request asked for, from its route alone: its action, and the client (from its path, or the
    body of a creation), grant, key or database it names. ``None`` when it matched no admin route."""
    route = scope.get("route")
    method = scope.get("method", "")
    action = ROUTE_ACTIONS.get(("GET" if method == "HEAD" else method, getattr(route, "path_format", "")))
    if action is None:
        return None
    params = scope.get("path_params")
    params = params if isinstance(params, dict) else {}
    target = _client_id(params.get("client_id"))
    if target is None and body and action in _BODY_NAMES_CLIENT:
        target = _named_in_body(body)
    named = _named_in_path(params)
    return AdminDescriptor(action, target, named or None)


def describe_request(event: PendingEvent, scope: Scope, request: RequestState, body: bytes) -> PendingEvent:
    """The event of an admin request with what it did (as its route said) or asked for (see :func:`requested`);
    ``body`` is the start of the request's body (empty when too long to keep)."""
    descriptor = request.admin or requested(scope, body)
    if descriptor is None:
        return event
    return dataclasses.replace(
        event, action=descriptor.action, target_client=descriptor.target_client, change=descriptor.change
    )


# --- the command line -------------------------------------------------------------------------------------------


def operating_system_user() -> str:
    """Who runs the command: the login name (as :func:`getpass.getuser` finds it) when it fits an audit event's
    actor, else ``uid:N``."""
    try:
        name: str | None = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a container's arbitrary user)
        name = None
    if name is not None and HEADER_VALUE.fullmatch(name):
        return name
    return f"uid:{os.getuid()}"


def command_line_event(
    descriptor: AdminDescriptor, *, occurred_at: datetime, began: float, actor: str | None = None
) -> PendingEvent:
    """The event of a command's change: the OS user as actor (``actor`` when given), no client, a request id that
    says it came from the command line, status 0 (no HTTP answer); ``began`` is the command's
    :func:`time.perf_counter` when it started the change."""
    return PendingEvent(
        occurred_at=occurred_at,
        request_id=f"{COMMAND_LINE_PREFIX}{uuid.uuid4().hex}",
        client_id=None,
        actor=actor if actor is not None else operating_system_user(),
        purpose=None,
        database=None,
        operation="admin",
        record_ids=(),
        outcome="allowed",
        status=COMMAND_LINE_STATUS,
        reason=None,
        latency_ms=round((time.perf_counter() - began) * 1000, 3),
        response_sha256=_NO_BODY,
        action=descriptor.action,
        target_client=descriptor.target_client,
        change=descriptor.change,
    )


_JSON_NULLABLE = ("fields", "change")
log = get_logger(__name__)


async def append_in_transaction(connection: AsyncConnection, event: PendingEvent) -> int:
    """Append ``event`` to the chain in the transaction open on ``connection`` (committed, or rolled back, by the
    caller with whatever else it holds); its ``seq``.

    The head is taken with a write (``UPDATE ... RETURNING``): PostgreSQL locks its row, SQLite takes the
    database's write lock (its driver begins the transaction only at the first write), so the gateway's writers
    and other commands wait for this transaction's end. They find the head ahead of what they wrote: another
    process's append, which they follow. :class:`HeadMissing` when the chain has no head (never created: see
    :func:`gateway.audit.storage.ensure_head`, or removed)."""
    taken = sa.update(HEAD).where(HEAD.c.id == HEAD_ID).values(seq=HEAD.c.seq).returning(HEAD.c.seq, HEAD.c.hash)
    head = (await connection.execute(taken)).first()
    if head is None:
        raise HeadMissing("audit_head is missing: run `gateway audit verify`")
    rows, subjects = chain([event], int(head.seq), str(head.hash))
    row = {name: sa.null() if name in _JSON_NULLABLE and value is None else value for name, value in rows[0].items()}
    await connection.execute(sa.insert(EVENTS).values(**row))
    if subjects:
        await connection.execute(sa.insert(SUBJECTS), [{"subject_id": s, "seq": n} for s, n in subjects])
    await move_head(connection, rows[0]["seq"], rows[0]["hash"])
    return int(rows[0]["seq"])


#: What to do once a held change is committed, with its event (update this process's caches).
AfterCommit = Callable[[PendingEvent], Awaitable[None]]


class HeldChange:
    """An admin request's change, its transaction held open until its audit event joins it.

    The admin routes that change something take their session from :func:`gateway.http.deps.get_admin_session`:
    a :class:`~gateway.core.db.OneTransaction`, whose commits only flush. The audit hook then calls
    :meth:`commit_with` with the request's event (an answer below 400) or :meth:`drop` (a refusal)."""

    __slots__ = ("_after", "session")

    def __init__(self, session: OneTransaction, *after_commit: AfterCommit) -> None:
        self.session = session
        self._after = list(after_commit)

    def after_commit(self, action: AfterCommit) -> None:
        """Run ``action`` once the change is committed (this process's caches learn of it then, not before)."""
        self._after.append(action)

    async def commit_with(self, event: PendingEvent) -> None:
        """Append ``event`` in the change's transaction and commit both; :class:`ChangeNotRecorded` (an
        :class:`~gateway.core.problems.AuditUnavailable`: nothing changed) when either fails."""
        try:
            await append_in_transaction(await self.session.connection(), event)
            await self.session.commit_all()
        except (SQLAlchemyError, OSError, HeadMissing) as exc:
            log.error(
                "an administrator's change was not made: its audit event could not be appended",
                action=event.action,
                error=type(exc).__name__,
            )
            await self.drop()
            raise ChangeNotRecorded from None
        for action in self._after:
            await action(event)

    async def drop(self) -> None:
        """Roll the change back."""
        try:
            await self.session.rollback()
        except (SQLAlchemyError, OSError):  # the connection is gone: its transaction with it
            log.warning("could not roll back an administrator's change", exc_info=True)
