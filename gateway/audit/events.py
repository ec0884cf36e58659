"""An audit event, its canonical serialisation and its chain hash.

An event's ``hash`` is the SHA-256 of the canonical JSON (orjson, keys sorted) of every other column of the
event, ``seq`` and ``prev_hash`` included (each of :data:`OPTIONAL_COLUMNS` only when it is not null, as the events
of the versions before it have none); ``prev_hash`` is the hash of the event before it, or :data:`GENESIS` for the
first. Changing, removing, inserting or reordering an event therefore breaks either its own hash or the link from
the next one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

GENESIS = "0" * 64
OUTCOMES = ("allowed", "refused", "failed")
Outcome = Literal["allowed", "refused", "failed"]
#: The columns always covered by an event's hash (every column but ``hash`` and :data:`OPTIONAL_COLUMNS`).
HASHED_COLUMNS = (
    "seq",
    "occurred_at",
    "request_id",
    "client_id",
    "actor",
    "purpose",
    "database",
    "operation",
    "record_ids",
    "outcome",
    "status",
    "reason",
    "latency_ms",
    "response_sha256",
    "prev_hash",
)
#: The columns covered by an event's hash when they are not null: added by later schema revisions (``fields`` by
#: 0014; ``action``, ``target_client`` and ``change``, what an administrator did, by 0018), so that the events
#: written before keep their hashes.
OPTIONAL_COLUMNS = ("fields", "action", "target_client", "change")
#: The value of ``fields`` when the grants cover every field of the database.
EVERY_FIELD = "*"
#: Record ids longer than this are kept in the event but not indexed as data subjects (the column's size).
MAX_SUBJECT_LENGTH = 64


def outcome_of(status: int) -> Outcome:
    """``allowed`` for an answer below 400, ``refused`` for a 4xx, ``failed`` for a 5xx."""
    if status < 400:
        return "allowed"
    return "refused" if status < 500 else "failed"


def timestamp(value: datetime) -> str:
    """The canonical form of a time: UTC, microseconds, ``Z`` (``2026-11-30T08:15:00.000000Z``)."""
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    if utc.year < 1000:  # isoformat() pads years to four digits as strftime's %Y does, but say it plainly
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


#: The hashed columns in the order of their names: a document built in this order is serialised with sorted keys.
_SORTED_COLUMNS = tuple(sorted(HASHED_COLUMNS))


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash covers: its hashed columns as JSON with sorted keys, the time canonicalised."""
    document: dict[str, Any] = {name: row[name] for name in _SORTED_COLUMNS}
    document["occurred_at"] = timestamp(row["occurred_at"])
    document["record_ids"] = list(row["record_ids"])
    fields, action, target, change = row.get("fields"), row.get("action"), row.get("target_client"), row.get("change")
    if fields is None and action is None and target is None and change is None:
        return orjson.dumps(document)
    if fields is not None:
        document["fields"] = list(fields)
    if action is not None:
        document["action"] = action
    if target is not None:
        document["target_client"] = target
    if change is not None:
        document["change"] = change
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def event_hash(row: Mapping[str, Any]) -> str:
    """The chain hash of an event row (hex SHA-256 of :func:`canonical`)."""
    return hashlib.sha256(canonical(row)).hexdigest()


def subject_ids(record_ids: Iterable[str]) -> list[str]:
    """The data subjects indexed for an event: its distinct record ids that fit the index, sorted."""
    return sorted({r for r in record_ids if 0 < len(r) <= MAX_SUBJECT_LENGTH})


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An exchange waiting to be appended to the chain: everything but its place (``seq``) and the hashes.

    It holds identifiers only (client, actor, purpose, record ids), never personal data; the answer is
    represented by the SHA-256 of its body.
    """

    occurred_at: datetime
    request_id: str
    client_id: str | None
    actor: str | None
    purpose: str | None
    database: str | None
    operation: str
    record_ids: tuple[str, ...]
    outcome: Outcome
    status: int
    reason: str | None
    latency_ms: float
    response_sha256: str
    fields: tuple[str, ...] | None = None
    """The fields the answer could carry (:data:`EVERY_FIELD` for all), for an allowed data exchange."""
    action: str | None = None
    """What an administrator did (``grant.add``...), for an administration event."""
    target_client: str | None = None
    """The client an administrator acted on, or asked to."""
    change: dict[str, Any] | None = None
    """What the administrator's action changed: identifiers only (see :mod:`gateway.audit.administration`)."""

    def chained(self, seq: int, prev_hash: str) -> dict[str, Any]:
        """The event's row at position ``seq`` after the event whose hash is ``prev_hash``, hash included."""
        row: dict[str, Any] = {
            "seq": seq,
            "occurred_at": self.occurred_at,
            "request_id": self.request_id,
            "client_id": self.client_id,
            "actor": self.actor,
            "purpose": self.purpose,
            "database": self.database,
            "operation": self.operation,
            "record_ids": list(self.record_ids),
            "outcome": self.outcome,
            "status": self.status,
            "reason": self.reason,
            "latency_ms": self.latency_ms,
            "response_sha256": self.response_sha256,
            "fields": None if self.fields is None else list(self.fields),
            "action": self.action,
            "target_client": self.target_client,
            "change": self.change,
            "prev_hash": prev_hash,
        }
        row["hash"] = event_hash(row)
        return row
