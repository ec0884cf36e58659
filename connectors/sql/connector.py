"""The generic SQL connector: one table or view of any database SQLAlchemy supports, read asynchronously."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Executable

from connectors.base import (
    BadQuery,
    Capability,
    ConnectorError,
    ContractViolation,
    HealthReport,
    HealthState,
    OperationKind,
    OperationNotSupported,
    Page,
    RecordNotFound,
    SubmissionRejected,
    SubmitOperation,
    SubmitResult,
    SubmitStatus,
    UpstreamTimeout,
)
from connectors.mapped import MappedConnector
from connectors.sampling import raw_data
from contracts import Contract, ContractQuery

from .config import SqlConnectorConfig
from .executors import Executor, PoolOptions, Row, Step, StepFailed, make_executor
from .mapping import RowMapper
from .statements import Statements
from .writes import Writes

SAMPLE_TIMEOUT_SECONDS = 300.0
"""The shortest deadline of :meth:`SqlConnector.sample` (a scan reads the whole table once)."""

T = TypeVar("T")

# The cursor holds the last key returned; API callers can forge one, so it is checked before it reaches the driver.
_MAX_CURSOR = 256


def encode_cursor(after: str) -> str:
    """The opaque cursor of a search page that follows the row whose key is ``after``: ``{"after": key}`` as
    JSON in URL-safe base64, unpadded."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, label: str) -> str:
    """The key in ``cursor``; :class:`BadQuery` unless it is a cursor :func:`encode_cursor` made (a foreign
    cursor, a bare key, text that is not one, would otherwise be taken for a key and searched from)."""
    bad = BadQuery(f"{label}: the cursor is not one of this search")
    if not cursor.isascii() or len(cursor) > 4 * _MAX_CURSOR:
        raise bad
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    after = payload.get("after") if isinstance(payload, dict) and len(payload) == 1 else None
    if not (isinstance(after, str) and 0 < len(after) <= _MAX_CURSOR and after.isprintable()):
        raise bad
    if encode_cursor(after) != cursor:  # one spelling only: base64's ignored characters, padding, JSON spacing
        raise bad
    return after


class SqlConnector(MappedConnector[SqlConnectorConfig, RowMapper]):
    """Serves a contract from one table or view through a declarative column mapping.

    Every statement is built once, from the configuration, with bound parameters; query values never become
    SQL text. Connections are pooled per connector; every call runs under ``timeout_seconds``.
    Database-specific connectors (population, ...) subclass it and fix ``contract``, ``query_model`` and the
    default mapping in their config model.
    """

    slug = "sql"
    title = "Generic SQL database"
    description = "Any table or view of a database supported by SQLAlchemy, mapped column by column."
    config_model = SqlConnectorConfig
    capabilities = frozenset({Capability.READ, Capability.SEARCH, Capability.SUBMIT, Capability.SAMPLE})

    def __init__(self, config: SqlConnectorConfig) -> None:
        super().__init__(config)
        self._executor = self._make_executor()
        key_column, collation = config.fields[self.contract.record_key], self._executor.text_collation
        self._statements = Statements(config, columns=self.mapping.columns, key_column=key_column, collation=collation)
        self._writes = (
            None if config.writes is None else Writes(config, config.writes, key_column=key_column, collation=collation)
        )
        self._ledger_ready = False

    def _make_executor(self) -> Executor:
        """Choose and build the executor now (no connection is opened), so that an unparsable URL or a driver
        that is not installed is a configuration error at load time, not a failure at start. The URL may carry
        a password: it is never quoted."""
        config = self.config
        options = PoolOptions(
            size=config.pool_size,
            max_overflow=config.max_overflow,
            connect_timeout=config.connect_timeout_seconds,
            statement_timeout=config.timeout_seconds,
            read_only=config.read_only,
            writable=config.writes is not None,
            naive_timezone=config.naive_datetime_timezone,
        )
        try:
            return make_executor(make_url(config.url.get_secret_value()), options, self.slug)
        except (sa_exc.NoSuchModuleError, sa_exc.InvalidRequestError, ImportError) as exc:
            problem = f"url: no asyncio driver is available for this database ({type(exc).__name__}: {exc})"
        except (sa_exc.ArgumentError, ValueError, TypeError) as exc:
            problem = f"url: not a valid SQLAlchemy database URL ({type(exc).__name__})"
        secret = config.url.get_secret_value()
        if secret and secret in problem:
            problem = problem.replace(secret, "**********")
        raise self.config_error(problem)

    def make_mapping(self) -> RowMapper:
        """Column per field (:class:`connectors.fields.FieldMapper`)."""
        return RowMapper(self.config.fields, self.config.value_maps, zoneless_timestamps=True, **self.mapping_options())

    async def start(self) -> None:
        """Prepare the connection pool (connections open on demand, so a sector system that is down does not
        block the gateway's start)."""
        await self._executor.start()

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._executor.close()

    async def _fetch(
        self, statement: Executable, params: Mapping[str, Any], *, seconds: float | None = None
    ) -> Sequence[Row]:
        """Run a statement under the call's deadline (``seconds``, else the configured timeout); driver errors
        arrive already translated."""
        deadline = seconds or self.config.timeout_seconds
        try:
            async with asyncio.timeout(deadline):
                return await self._executor.fetch(statement, params)
        except TimeoutError:
            raise UpstreamTimeout(f"{self.slug}: no answer within {deadline:g} s") from None

    async def health(self) -> HealthReport:
        """Read at most one key from the table: proves the database is up and the table is there."""
        await self._fetch(self._statements.ping, {})
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Contract:
        """Read the row whose key column equals ``record_id`` and return it as a contract record."""
        rows = await self._fetch(self._statements.get, {"key": record_id})
        if not rows:
            raise RecordNotFound(f"no {self.slug} record with that key")
        if len(rows) > 1:  # which one is the citizen? Serving either would be a guess
            raise self.repeated_key(record_id)
        return self.to_record(self.mapping.to_data(rows[0]), record_id=record_id)

    def repeated_key(self, record_id: str | None) -> ContractViolation:
        """The violation of a key the table holds in more than one row: the contract's keys are unique, so none
        of those rows is served."""
        return self.violation(
            [f"{self.contract.record_key}: more than one row of the sector database has this key"],
            record_id=record_id,
        )

    def page_records(self, rows: Sequence[Row], limit: int) -> tuple[list[Contract], list[ContractViolation]]:
        """The records of the first ``limit`` of ``rows`` (ordered by key, one more than the page when there
        are more) and the violations of those that break the contract. A key held by two rows or more of
        ``rows`` is one violation (:meth:`repeated_key`), none of its rows served; a group of rows of one key
        that runs past the page is seen by the extra row, and the next page starts after that key."""
        key = self._statements.key_column
        keys = [str(row[key]) for row in rows]
        repeated = {k for k, n in Counter(keys).items() if n > 1}
        single: list[Row] = []
        duplicates: list[ContractViolation] = []
        for row, record_key in zip(rows[:limit], keys, strict=False):
            if record_key not in repeated:
                single.append(row)
            elif not any(v.record_id == record_key for v in duplicates):
                duplicates.append(self.repeated_key(record_key))
        items, skipped = self.valid_records(
            single, lambda r: self.to_record(self.mapping.to_data(r), record_id=str(r[key]))
        )
        return items, [*skipped, *duplicates]

    async def sample(self, limit: int) -> list[dict[str, Any]]:
        """Read at most ``limit`` rows in random order and map them to contract data, without validating them.

        The rows are ordered by ``random()`` (SQLite, PostgreSQL and most databases): one full read of the table, so
        the deadline is that of a batch job (at least :data:`SAMPLE_TIMEOUT_SECONDS`), not of a request."""
        if limit < 1:
            return []
        deadline = max(self.config.timeout_seconds, SAMPLE_TIMEOUT_SECONDS)
        rows = await self._fetch(self._statements.sample, {"limit": limit}, seconds=deadline)
        return [raw_data(self.mapping.to_data, row) for row in rows]

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        """Return records matching every given query field, ordered by key; the cursor holds the last key seen."""
        if self.query_model is None:
            raise OperationNotSupported(f"connector {self.slug!r} does not support search")
        if not isinstance(query, self.query_model):
            raise BadQuery(f"{self.slug}: expected a {self.query_model.__name__}")
        after = decode_cursor(cursor, self.slug) if cursor is not None else None
        values = query.model_dump(mode="json", exclude_none=True)
        unsupported = sorted(set(values) - set(self.config.search_filters))
        if unsupported:
            raise BadQuery(f"{self.slug}: searching by {', '.join(map(repr, unsupported))} is not supported")
        statements = self._statements
        params = statements.search_params({k: self.mapping.to_stored(k, v) for k, v in values.items()})
        params["limit"] = limit + 1
        if after is not None:
            params["after"] = after
        rows = await self._fetch(statements.search(values, after=after is not None), params)
        key = statements.key_column
        # A row that breaks the contract does not fail its page: it is left out and reported (Connector.search).
        items, skipped = self.page_records(rows, limit)
        next_cursor = encode_cursor(str(rows[limit - 1][key])) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor, skipped=skipped)

    def offers(self, capability: Capability) -> bool:
        """As :meth:`Connector.offers`, with submissions only when the configuration turns writes on (``writes``)."""
        if capability is Capability.SUBMIT and self._writes is None:
            return False
        return super().offers(capability)

    async def submit(self, operation: SubmitOperation) -> SubmitResult:
        """Apply one operation to the table, and record its idempotency key in the ledger table, in one
        transaction: a key already in the ledger is answered :attr:`SubmitStatus.DUPLICATE` and changes nothing.

        A create of a key that exists, or an update or delete of one that does not, is refused for good
        (:class:`SubmissionRejected`).
        """
        (outcome,) = await self.submit_many([operation])
        if isinstance(outcome, ConnectorError):
            raise outcome
        return outcome

    async def submit_many(self, operations: Sequence[SubmitOperation]) -> list[SubmitResult | ConnectorError]:
        """Apply the operations in one transaction, each under its own savepoint (one commit for the batch):
        each one succeeds or fails on its own, as :meth:`submit` would. A failure of the database itself
        raises, and nothing of the batch is kept."""
        writes = self._writes
        if writes is None:
            raise OperationNotSupported(f"connector {self.slug!r} does not accept submissions (set 'writes')")
        if not self._ledger_ready and self.config.writes is not None and self.config.writes.create_ledger:
            await self._guarded(self._executor.execute_ddl(writes.ledger_ddl))
            self._ledger_ready = True
        outcomes: list[SubmitResult | ConnectorError | None] = []
        groups: list[list[Step]] = []
        for operation in operations:
            try:
                groups.append(self._steps(writes, operation))
                outcomes.append(None)
            except SubmissionRejected as refused:
                outcomes.append(refused)
        results = iter(await self._guarded(self._executor.transact_groups(groups)))
        done: list[SubmitResult | ConnectorError] = []
        for operation, outcome in zip(operations, outcomes, strict=True):
            done.append(outcome if outcome is not None else self._result(operation, next(results)))
        return done

    def _steps(self, writes: Writes, operation: SubmitOperation) -> list[Step]:
        """The ledger insert and the change of one operation."""
        key = self.contract.record_key
        ledger = Step(
            writes.ledger_insert, writes.ledger_params(operation.idempotency_key, operation.record_id, operation.kind)
        )
        if operation.kind is OperationKind.DELETE:
            return [ledger, Step(writes.delete, {"key": operation.record_id})]
        data = dict(operation.fields)
        if operation.kind is OperationKind.CREATE:
            data[key] = operation.record_id
            # Only the columns given: the sector database's defaults apply to the others (a NULL would override).
            values = {column: value for column, value in self.mapping.to_columns(data).items() if value is not None}
            return [ledger, Step(writes.insert(tuple(sorted(values))), writes.params(values))]
        data.pop(key, None)
        values = self.mapping.to_columns(data, fields=set(data))
        values.pop(self._statements.key_column, None)
        if not values:
            raise SubmissionRejected(f"{self.slug}: the update changes no stored column")
        params = {**writes.params(values), "key": operation.record_id}
        return [ledger, Step(writes.update(tuple(sorted(values))), params)]

    def _result(
        self, operation: SubmitOperation, failed: StepFailed | SubmissionRejected | None
    ) -> SubmitResult | ConnectorError:
        if failed is None:
            return SubmitResult(SubmitStatus.APPLIED, reference=operation.idempotency_key)
        if isinstance(failed, SubmissionRejected):
            return failed
        if failed.index == 0:
            return SubmitResult(SubmitStatus.DUPLICATE, reference=operation.idempotency_key)
        if failed.conflict:
            return SubmissionRejected(
                f"{self.slug}: the record conflicts with one the sector database holds (same key or another "
                "unique value)"
            )
        if failed.rows > 1:
            return SubmissionRejected(
                f"{self.slug}: {failed.rows} rows of the sector database have that key; nothing was changed"
            )
        return SubmissionRejected(f"{self.slug}: no record with that key")

    async def _guarded(self, work: Awaitable[T]) -> T:
        """Run a write under the call's deadline."""
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                return await work
        except TimeoutError:
            raise UpstreamTimeout(f"{self.slug}: no answer within {self.config.timeout_seconds:g} s") from None
