"""The write statements of a SQL connector that accepts submissions: the record's insert, update and delete,
and the ledger of applied operations that makes a repeated delivery harmless."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Delete, Insert, Update, bindparam, column, delete, insert, table, update

from .config import SqlConnectorConfig, SqlWrites
from .statements import equals

_LEDGER_COLUMNS = ("idempotency_key", "record_id", "kind", "applied_at")


class Writes:
    """Statements built once per set of columns written, every value a bound parameter (``c0``, ``c1``...)."""

    def __init__(
        self, config: SqlConnectorConfig, writes: SqlWrites, *, key_column: str, collation: str | None = None
    ) -> None:
        """``collation``: as :class:`connectors.sql.statements.Statements`' (the key of an update or a delete
        matched exactly as stored, the ledger's idempotency keys told apart by case)."""
        self._config = config
        self._collation = collation
        self._key_column = key_column
        self._ledger = table(writes.ledger_table, *(column(c) for c in _LEDGER_COLUMNS), schema=config.db_schema)
        self.ledger_insert: Insert = insert(self._ledger).values({c: bindparam(c) for c in _LEDGER_COLUMNS})
        qualified = f"{config.db_schema}.{writes.ledger_table}" if config.db_schema else writes.ledger_table
        exact = f" CHARACTER SET utf8mb4 COLLATE {collation}" if collation else ""
        self.ledger_ddl = (
            f"CREATE TABLE IF NOT EXISTS {qualified} (idempotency_key VARCHAR(200){exact} PRIMARY KEY, "
            "record_id VARCHAR(200) NOT NULL, kind VARCHAR(8) NOT NULL, applied_at VARCHAR(40) NOT NULL)"
        )
        self._inserts: dict[tuple[str, ...], Insert] = {}
        self._updates: dict[tuple[str, ...], Update] = {}
        source = table(config.table, column(key_column), schema=config.db_schema)
        self.delete: Delete = delete(source).where(equals(source.c[key_column], bindparam("key"), collation))

    def _table(self, columns: Collection[str]) -> Any:
        names = dict.fromkeys([self._key_column, *columns])
        return table(self._config.table, *(column(name) for name in names), schema=self._config.db_schema)

    def insert(self, columns: tuple[str, ...]) -> Insert:
        """``INSERT`` of a record into ``columns``."""
        statement = self._inserts.get(columns)
        if statement is None:
            statement = insert(self._table(columns)).values({c: bindparam(f"c{i}") for i, c in enumerate(columns)})
            self._inserts[columns] = statement
        return statement

    def update(self, columns: tuple[str, ...]) -> Update:
        """``UPDATE`` of ``columns`` of the record whose key is the ``key`` parameter."""
        statement = self._updates.get(columns)
        if statement is None:
            source = self._table(columns)
            statement = (
                update(source)
                .where(equals(source.c[self._key_column], bindparam("key"), self._collation))
                .values({c: bindparam(f"c{i}") for i, c in enumerate(columns)})
            )
            self._updates[columns] = statement
        return statement

    @staticmethod
    def params(values: Mapping[str, Any]) -> dict[str, Any]:
        """Bound parameters of :meth:`insert` or :meth:`update` for ``values`` (column -> value), in key order."""
        return {f"c{i}": values[c] for i, c in enumerate(sorted(values))}

    @staticmethod
    def ledger_params(idempotency_key: str, record_id: str, kind: str) -> dict[str, Any]:
        """Bound parameters of the ledger insert."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return {"idempotency_key": idempotency_key, "record_id": record_id, "kind": kind, "applied_at": now}
