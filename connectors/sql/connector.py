"""The generic SQL connector: one table or view of any database SQLAlchemy supports, read asynchronously."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, bindparam, column, select, table
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.base import (
    BadQuery,
    Connector,
    ConnectorConfigError,
    Page,
    RecordNotFound,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from contracts import Contract, ContractQuery, UnknownContract, get_contract

from .config import SqlConnectorConfig
from .mapping import RowMapper
from .urls import is_sqlite, sqlite_read_only, to_async_url

logger = logging.getLogger(__name__)


def timestamp_fields(model: type[BaseModel]) -> set[str]:
    """Dotted paths of the fields of ``model``, nested models included, whose JSON Schema is a date-time."""
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})
    found: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, prop in node.get("properties", {}).items():
            for option in (prop, *prop.get("anyOf", ()), *prop.get("allOf", ())):
                if "$ref" in option:
                    walk(definitions[option["$ref"].rsplit("/", 1)[-1]], f"{prefix}{name}.")
                elif option.get("format") == "date-time":
                    found.add(prefix + name)

    walk(schema, "")
    return found


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
                raise ConnectorConfigError(f"unknown contract {config.contract!r}") from None
        if not hasattr(self, "contract"):
            raise ConnectorConfigError(f"connector {self.slug!r} needs a contract")
        self._check_mapping(self.contract, self.query_model)
        self._mapper = RowMapper(
            config.fields,
            config.value_maps,
            timestamp_fields=timestamp_fields(self.contract),
            naive_timezone=config.naive_datetime_timezone,
        )
        names = dict.fromkeys([*self._mapper.columns, *(f.column for f in config.search_filters.values())])
        source = table(config.table, *(column(name) for name in names), schema=config.db_schema)
        self._key = source.c[config.fields[self.contract.record_key]]
        self._columns = [source.c[name] for name in self._mapper.columns]
        self._filters = {name: (source.c[f.column], f.match) for name, f in config.search_filters.items()}
        self._get_stmt = select(*self._columns).where(self._key == bindparam("key"))
        self._ping_stmt = select(self._key).select_from(source).limit(1)
        self._search_base: Select[Any] = select(*self._columns).order_by(self._key)
        self._engine: AsyncEngine | None = None

    def _check_mapping(self, contract: type[Contract], query_model: type[ContractQuery] | None) -> None:
        config = self.config
        if contract.record_key not in config.fields:
            raise ConnectorConfigError(f"the field mapping lacks the record key {contract.record_key!r}")
        top_fields = set(contract.model_fields)
        unknown = sorted(p for p in config.fields if p.split(".")[0] not in top_fields)
        if unknown:
            raise ConnectorConfigError(f"fields not in {contract.contract_id()}: {', '.join(unknown)}")
        query_fields = set(query_model.model_fields) if query_model else set()
        unknown = sorted(set(config.search_filters) - query_fields)
        if unknown:
            raise ConnectorConfigError(f"search filters for fields the query lacks: {', '.join(unknown)}")

    @property
    def engine(self) -> AsyncEngine:
        """The pooled engine, created on first use."""
        if self._engine is None:
            url = to_async_url(self.config.url.get_secret_value())
            kwargs: dict[str, Any] = {
                "pool_size": self.config.pool_size,
                "max_overflow": self.config.max_overflow,
                "pool_timeout": self.config.connect_timeout_seconds,
            }
            if is_sqlite(url):
                if self.config.read_only:
                    url = sqlite_read_only(url)
                kwargs["connect_args"] = {"timeout": self.config.connect_timeout_seconds}
            elif url.get_backend_name() == "postgresql":
                kwargs["connect_args"] = {"timeout": self.config.connect_timeout_seconds}
            self._engine = create_async_engine(url, **kwargs)
        return self._engine

    async def start(self) -> None:
        """Create the engine (connections open lazily, so a sector system that is down does not block)."""
        _ = self.engine

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def _upstream(self) -> AsyncIterator[None]:
        """Run a block against the database under the deadline, translating failures to connector errors.

        Driver messages may quote SQL and parameters (personal data): they are logged at debug level only and
        never copied into the error that reaches the caller.
        """
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                yield
        except TimeoutError:
            raise UpstreamTimeout(f"{self.slug}: no answer within {self.config.timeout_seconds:g} s") from None
        except (OSError, sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            logger.debug("%s: database unreachable: %r", self.slug, exc)
            raise UpstreamUnavailable(
                f"{self.slug}: the sector database cannot be reached ({type(exc).__name__})"
            ) from None
        except sa_exc.DBAPIError as exc:
            logger.debug("%s: database error: %r", self.slug, exc)
            if exc.connection_invalidated:
                raise UpstreamUnavailable(f"{self.slug}: the connection to the sector database was lost") from None
            raise UpstreamError(
                f"{self.slug}: the sector database failed ({type(exc.orig).__name__})", reason="protocol"
            ) from None
        except sa_exc.SQLAlchemyError as exc:
            logger.debug("%s: database error: %r", self.slug, exc)
            raise UpstreamError(f"{self.slug}: the sector database failed ({type(exc).__name__})") from None

    async def ping(self) -> None:
        """Read at most one key from the table: proves the database is up and the table is there."""
        async with self._upstream(), self.engine.connect() as conn:
            await conn.execute(self._ping_stmt)

    async def get(self, record_id: str) -> Contract:
        """Read the row whose key column equals ``record_id`` and return it as a contract record."""
        async with self._upstream(), self.engine.connect() as conn:
            row = (await conn.execute(self._get_stmt, {"key": record_id})).mappings().first()
        if row is None:
            raise RecordNotFound(f"no {self.slug} record with that key")
        return self.to_record(self._mapper.to_data(row), record_id=record_id)

    def _where(self, query: ContractQuery) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        for name, value in query.model_dump(mode="json", exclude_none=True).items():
            if name not in self._filters:
                raise BadQuery(f"{self.slug}: searching by {name!r} is not supported")
            col, match = self._filters[name]
            stored = self._mapper.to_stored(name, value)
            if match == "prefix":
                clauses.append(col.startswith(str(stored), autoescape=True))
            else:
                clauses.append(col == stored)
        return clauses

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        """Return records matching every given query field, ordered by key; the cursor is the last key seen."""
        if self.query_model is not None and not isinstance(query, self.query_model):
            raise BadQuery(f"{self.slug}: expected a {self.query_model.__name__}")
        stmt = self._search_base.where(*self._where(query))
        if cursor is not None:
            stmt = stmt.where(self._key > cursor)
        stmt = stmt.limit(limit + 1)
        async with self._upstream(), self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        key_column = self._key.name
        items = [self.to_record(self._mapper.to_data(r), record_id=str(r[key_column])) for r in rows[:limit]]
        next_cursor = str(rows[limit - 1][key_column]) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)
