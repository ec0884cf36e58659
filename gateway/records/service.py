"""Reading and searching records of a national database through its connector."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
import time
import traceback
from functools import lru_cache
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectors.context import RequestContext
from connectors.errors import ConnectorError, ContractViolation, UpstreamError, UpstreamRefused
from contracts import Contract, ContractQuery
from gateway.core import metrics
from gateway.core.logs import get_logger
from gateway.core.problems import CircuitOpen, InvalidCursor
from gateway.identity.passwords import keyed_tag
from gateway.records.circuit import CONNECTOR_ERROR, FAILURE_REASONS, CircuitOpenError
from gateway.records.context import connector_call
from gateway.records.registry import Database

_CURSOR_VERSION = 3
_CURSOR_KEY = b"cursor-key"
_NONCE_BYTES = 12

log = get_logger(__name__)


def _fingerprint(query: ContractQuery) -> str:
    canonical = orjson.dumps(query.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


@lru_cache(maxsize=4)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(key)


def _cursor_cipher() -> AESGCM:
    """The cipher of search cursors: AES-128-GCM under a key only a holder of the pepper can derive
    (:func:`~gateway.identity.passwords.keyed_tag`), the same in every replica."""
    return _cipher(keyed_tag(_CURSOR_KEY, b"search cursors"))


def encode_cursor(database: Database, query: ContractQuery, inner: str) -> str:
    """Wrap a connector's cursor so that it is only accepted back for the same database and query, and only as the
    gateway gave it, and so that the caller cannot read it: the connector's cursor is encrypted (AES-GCM, the
    database and the query's fingerprint authenticated with it). A connector's cursor may hold what the caller was
    not given: the key of the page's last row, which a contract violation left out, or the sector system's own
    next-page link; and a cursor a caller made up never reaches the connector."""
    header = orjson.dumps([_CURSOR_VERSION, database.id, _fingerprint(query)])
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cursor_cipher().encrypt(nonce, inner.encode(), header)
    return f"{_b64(header)}.{_b64(nonce + sealed)}"


def decode_cursor(database: Database, query: ContractQuery, cursor: str) -> str:
    """The connector's cursor inside ``cursor``; :class:`InvalidCursor` if the gateway did not give it for this
    search."""
    encoded, _, sealed = cursor.partition(".")
    try:
        header = _unb64(encoded)
        box = _unb64(sealed)
        content: Any = orjson.loads(header)
    except (binascii.Error, ValueError):
        raise InvalidCursor("The cursor is malformed.") from None
    if not isinstance(content, list) or len(content) != 3 or content[0] != _CURSOR_VERSION:
        raise InvalidCursor("The cursor is malformed.")
    try:
        inner = _cursor_cipher().decrypt(box[:_NONCE_BYTES], box[_NONCE_BYTES:], header).decode()
    except (InvalidTag, ValueError):
        raise InvalidCursor("The cursor is not one the gateway gave: use next_cursor as it was answered.") from None
    if content[1] != database.id or content[2] != _fingerprint(query):
        raise InvalidCursor("The cursor belongs to another search.")
    return inner


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _UpstreamCall:
    """One call to the sector system: passes the database's circuit breaker (or raises :class:`CircuitOpen`),
    times the call into the latency histogram, counts its failures and tells the breaker how it went."""

    __slots__ = ("_database", "_operation", "_search", "_started", "_trial", "records", "skipped")

    def __init__(
        self,
        database: Database,
        operation: str,
        records: tuple[str, ...] = (),
        search: tuple[ContractQuery, str | None] | None = None,
    ) -> None:
        self._database = database
        self._operation = operation
        # A search's query and cursor: what a failure of the call was about (a read's is its record).
        self._search = search
        self._started = 0.0
        self._trial = False
        self.skipped = 0
        """Records of a search page left out because they break the contract (counted as contract violations)."""
        self.records = records
        """The keys of the records a contract violation of this call is about, when known (the evidence counts a
        record's violation once per window, however often it is asked for)."""

    def __enter__(self) -> None:
        try:
            self._trial = self._database.circuit.before_call()
        except CircuitOpenError as exc:
            retry_after = max(1, math.ceil(exc.retry_after))
            raise CircuitOpen(
                f"The sector system behind {self._database.id} is failing; requests are refused for "
                f"{retry_after} s to let it recover.",
                headers={"Retry-After": str(retry_after)},
            ) from None
        self._started = time.perf_counter()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        database = self._database
        elapsed = time.perf_counter() - self._started
        metrics.upstream_duration(database.id).observe(elapsed)
        unexpected = exc if isinstance(exc, Exception) and not isinstance(exc, ConnectorError) else None
        if unexpected is not None:
            exc = failure = _unexpected(database, unexpected)
        if isinstance(exc, UpstreamError):
            metrics.UPSTREAM_ERRORS.labels(database.id, exc.reason).inc()
            # The rules broken, never the values or the record's key: both may be personal data.
            errors = exc.errors if isinstance(exc, ContractViolation) else None
            log.warning("upstream error", database=database.id, reason=exc.reason, errors=errors)
        if exc is None or isinstance(exc, ConnectorError):
            failed = isinstance(exc, UpstreamError) and exc.reason in FAILURE_REASONS
            database.circuit.record(failed=failed, trial=self._trial, about=self._about() if failed else ())
            violation = isinstance(exc, ContractViolation) or self.skipped > 0
            # A call the sector system refused (credentials, metadata) was not answered, though retrying it at once
            # would not help either, so it does not count towards opening the circuit.
            unanswered = failed or isinstance(exc, UpstreamRefused)
            database.evidence.record_call(
                elapsed, failed=unanswered, violation=violation, records=self.records, operation=self._operation
            )
        elif self._trial:
            database.circuit.release_trial()
        if unexpected is not None:
            raise failure from unexpected

    def _about(self) -> tuple[str, ...]:
        """What the failed call asked for: its record, or its search (the query's fingerprint and the cursor)."""
        if self._search is None:
            return self.records
        query, cursor = self._search
        return (f"search {_fingerprint(query)} {cursor or ''}",)


def _unexpected(database: Database, exc: Exception) -> UpstreamError:
    """The failure answered for an exception a connector let out instead of a ``ConnectorError`` (a ``KeyError``
    on a sector system's malformed answer, say): the call failed all the same, and counts as the sector system's
    failure. It is logged with where it was raised, for the connector's developers, but not its message, which
    may hold a record's values."""
    frames = [f"{frame.filename}:{frame.lineno} {frame.name}" for frame in traceback.extract_tb(exc.__traceback__)]
    log.error("connector raised an unexpected error", database=database.id, error=type(exc).__name__, where=frames[-8:])
    return UpstreamError(
        f"The connector of {database.id} failed unexpectedly; the gateway's logs say where.", reason=CONNECTOR_ERROR
    )


async def read_record(database: Database, record_id: str, context: RequestContext) -> Contract:
    """The record ``record_id`` of ``database``, read in ``context`` (connector errors propagate to the problem
    handlers)."""
    with connector_call(context), _UpstreamCall(database, "read", (record_id,)):
        return await database.connector.get(record_id)


async def search_records(
    database: Database, query: ContractQuery, context: RequestContext, *, limit: int, cursor: str | None
) -> tuple[list[Contract], str | None, int]:
    """One page of records matching ``query``, searched in ``context``, the opaque cursor of the next page, and
    how many records of the page were left out because they break the contract.

    A record that breaks the contract does not fail the page (the search rules of ``Connector.search``): each one
    is counted in ``gateway_upstream_errors_total{reason="contract_violation"}`` and logged with the rules it
    breaks (never its values or key, which may be personal data)."""
    inner = decode_cursor(database, query, cursor) if cursor else None
    call = _UpstreamCall(database, "search", search=(query, inner))
    with connector_call(context), call:
        page = await database.connector.search(query, limit=limit, cursor=inner)
        call.skipped = len(page.skipped)
        keys = tuple(violation.record_id for violation in page.skipped if violation.record_id is not None)
        call.records = keys if len(keys) == len(page.skipped) else ()
    if page.skipped:
        metrics.UPSTREAM_ERRORS.labels(database.id, "contract_violation").inc(len(page.skipped))
        errors = sorted({error for violation in page.skipped for error in violation.errors})
        log.warning("search skipped records", database=database.id, skipped=len(page.skipped), errors=errors)
    next_cursor = encode_cursor(database, query, page.next_cursor) if page.next_cursor is not None else None
    return list(page.items), next_cursor, len(page.skipped)
