"""The generic SQL connector: one table or view of any database SQLAlchemy supports, read asynchronously."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Executable

from connectors.base import (
    BadQuery,
    Connector,
    OperationNotSupported,
    Page,
    RecordNotFound,
    UpstreamTimeout,
)
from connectors.fields import has_field_path, timestamp_fields
from contracts import Contract, ContractQuery, UnknownContract, get_contract

from .config import SqlConnectorConfig
from .executors import Executor, PoolOptions, Row, make_executor
from .mapping import RowMapper
from .statements import Statements

# The cursor is the last key returned; API callers can forge one, so it is checked before it reaches the driver.
_MAX_CURSOR = 256


class SqlConnector(Connector[SqlConnectorConfig]):
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

    def __init__(self, config: SqlConnectorConfig) -> None:
        super().__init__(config)
        if config.contract is not None:
            name, _, version = config.contract.partition("@")
            try:
                self.contract = get_contract(name, int(version) if version else None)
            except (UnknownContract, ValueError):
                raise self.config_error(f"unknown contract {config.contract!r}") from None
            if config.search_filters and self.query_model is None:
                self.query_model = self.contract.query_model
        if not hasattr(self, "contract"):
            raise self.config_error("it needs a contract (set 'contract')")
        self._check_mapping(self.contract, self.query_model)
        self._mapper = RowMapper(
            config.fields,
            config.value_maps,
            timestamp_fields=timestamp_fields(self.contract),
            naive_timezone=config.naive_datetime_timezone,
        )
        self._statements = Statements(
            config, columns=self._mapper.columns, key_column=config.fields[self.contract.record_key]
        )
        self._executor = self._make_executor()

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

    def _check_mapping(self, contract: type[Contract], query_model: type[ContractQuery] | None) -> None:
        config = self.config
        if contract.record_key not in config.fields:
            raise self.config_error(f"the field mapping lacks the record key {contract.record_key!r}")
        unknown = sorted(p for p in config.fields if not has_field_path(contract, p))
        if unknown:
            raise self.config_error(f"fields not in {contract.contract_id()}: {', '.join(unknown)}")
        unmapped = sorted(set(config.value_maps) - set(config.fields))
        if unmapped:
            raise self.config_error(f"value maps for fields the mapping lacks: {', '.join(unmapped)}")
        query_fields = set(query_model.model_fields) if query_model else set()
        unknown = sorted(set(config.search_filters) - query_fields)
        if unknown:
            raise self.config_error(f"search filters for fields the query lacks: {', '.join(unknown)}")

    async def start(self) -> None:
        """Prepare the connection pool (connections open on demand, so a sector system that is down does not
        block the gateway's start)."""
        await self._executor.start()

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._executor.close()

    async def _fetch(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row]:
        """Run a statement under the call's deadline; driver errors arrive already translated."""
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                return await self._executor.fetch(statement, params)
        except TimeoutError:
            raise UpstreamTimeout(f"{self.slug}: no answer within {self.config.timeout_seconds:g} s") from None

    async def ping(self) -> None:
        """Read at most one key from the table: proves the database is up and the table is there."""
        await self._fetch(self._statements.ping, {})

    async def get(self, record_id: str) -> Contract:
        """Read the row whose key column equals ``record_id`` and return it as a contract record."""
        rows = await self._fetch(self._statements.get, {"key": record_id})
        if not rows:
            raise RecordNotFound(f"no {self.slug} record with that key")
        return self.to_record(self._mapper.to_data(rows[0]), record_id=record_id)

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        """Return records matching every given query field, ordered by key; the cursor is the last key seen."""
        if self.query_model is None:
            raise OperationNotSupported(f"connector {self.slug!r} does not support search")
        if not isinstance(query, self.query_model):
            raise BadQuery(f"{self.slug}: expected a {self.query_model.__name__}")
        if cursor is not None and (len(cursor) > _MAX_CURSOR or not cursor.isprintable()):
            raise BadQuery(f"{self.slug}: the cursor is not one of this search")  # the database would choke on it
        values = query.model_dump(mode="json", exclude_none=True)
        unsupported = sorted(set(values) - set(self.config.search_filters))
        if unsupported:
            raise BadQuery(f"{self.slug}: searching by {', '.join(map(repr, unsupported))} is not supported")
        statements = self._statements
        params = statements.search_params({k: self._mapper.to_stored(k, v) for k, v in values.items()})
        params["limit"] = limit + 1
        if cursor is not None:
            params["after"] = cursor
        rows = await self._fetch(statements.search(values, after=cursor is not None), params)
        key = statements.key_column
        items = [self.to_record(self._mapper.to_data(r), record_id=str(r[key])) for r in rows[:limit]]
        next_cursor = str(rows[limit - 1][key]) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)
