"""Reading and searching records of a national database through its connector."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import time
from typing import Any

import orjson

from connectors.context import RequestContext
from connectors.errors import ConnectorError, ContractViolation, UpstreamError
from contracts import Contract, ContractQuery
from gateway.core import metrics
from gateway.core.logs import get_logger
from gateway.core.problems import CircuitOpen, InvalidCursor
from gateway.records.circuit import FAILURE_REASONS, CircuitOpenError
from gateway.records.context import connector_call
from gateway.records.registry import Database

_CURSOR_VERSION = 1

log = get_logger(__name__)


def _fingerprint(query: ContractQuery) -> str:
    canonical = orjson.dumps(query.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode_cursor(database: Database, query: ContractQuery, inner: str) -> str:
    """Wrap a connector's cursor so that it is only accepted back for the same database and query."""
    payload = orjson.dumps([_CURSOR_VERSION, database.id, _fingerprint(query), inner])
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def decode_cursor(database: Database, query: ContractQuery, cursor: str) -> str:
    """The connector's cursor inside ``cursor``; :class:`InvalidCursor` if it is not ours for this search."""
    try:
        payload: Any = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor("The cursor is malformed.") from None
    if (
        not isinstance(payload, list)
        or len(payload) != 4
        or payload[0] != _CURSOR_VERSION
        or not isinstance(payload[3], str)
    ):
        raise InvalidCursor("The cursor is malformed.")
    if payload[1] != database.id or payload[2] != _fingerprint(query):
        raise InvalidCursor("The cursor belongs to another search.")
    return payload[3]


class _UpstreamCall:
    """One call to the sector system: passes the database's circuit breaker (or raises :class:`CircuitOpen`),
    times the call into the latency histogram, counts its failures and tells the breaker how it went."""

    __slots__ = ("_database", "_started", "_trial", "skipped")

    def __init__(self, database: Database) -> None:
        self._database = database
        self._started = 0.0
        self._trial = False
        self.skipped = 0
        """Records of a search page left out because they break the contract (counted as contract violations)."""

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
        if isinstance(exc, UpstreamError):
            metrics.UPSTREAM_ERRORS.labels(database.id, exc.reason).inc()
            # The rules broken, never the values or the record's key: both may be personal data.
            errors = exc.errors if isinstance(exc, ContractViolation) else None
            log.warning("upstream error", database=database.id, reason=exc.reason, errors=errors)
        if exc is None or isinstance(exc, (UpstreamError, ConnectorError)):
            failed = isinstance(exc, UpstreamError) and exc.reason in FAILURE_REASONS
            database.circuit.record(failed=failed, trial=self._trial)
            violation = isinstance(exc, ContractViolation) or self.skipped > 0
            database.evidence.record_call(elapsed, failed=failed, violation=violation)
        elif self._trial:
            database.circuit.release_trial()


async def read_record(database: Database, record_id: str, context: RequestContext) -> Contract:
    """The record ``record_id`` of ``database``, read in ``context`` (connector errors propagate to the problem
    handlers)."""
    with connector_call(context), _UpstreamCall(database):
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
    call = _UpstreamCall(database)
    with connector_call(context), call:
        page = await database.connector.search(query, limit=limit, cursor=inner)
        call.skipped = len(page.skipped)
    if page.skipped:
        metrics.UPSTREAM_ERRORS.labels(database.id, "contract_violation").inc(len(page.skipped))
        errors = sorted({error for violation in page.skipped for error in violation.errors})
        log.warning("search skipped records", database=database.id, skipped=len(page.skipped), errors=errors)
    next_cursor = encode_cursor(database, query, page.next_cursor) if page.next_cursor is not None else None
    return list(page.items), next_cursor, len(page.skipped)
