"""Configuration of the generic SQL connector."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.mapped import MappedConfig

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
    return value


class SearchFilter(BaseModel):
    """How one field of the contract's query is matched against a column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(title="Column", description="The column compared with the query value.")
    match: Literal["exact", "prefix"] = Field(
        default="exact",
        title="Match",
        description=(
            "``exact``: equality. ``prefix``: the column starts with the value (used for partial dates "
            "stored as ISO text, so that ``1985`` finds every date of 1985)."
        ),
    )

    case: Literal["title", "upper", "lower"] | None = Field(
        default=None,
        title="Letter case",
        description=(
            "Put the query value in the case the column is stored in before comparing (``title``: every word "
            "capitalised, as names are registered), so that ``TRẦN THỊ MẪU`` finds ``Trần Thị Mẫu`` with an "
            "index and on every database."
        ),
    )

    value_type: Literal["text", "integer"] = Field(
        default="text",
        title="Value type",
        description=(
            "How the value is bound: ``integer`` for a column of whole numbers (a code list stored as 1, 2...), "
            "so that strict databases such as PostgreSQL compare numbers with numbers. Exact match only."
        ),
    )

    _check_column = field_validator("column")(_identifier)

    @model_validator(mode="after")
    def _integers_match_exactly(self) -> Self:
        if self.value_type == "integer" and (self.match != "exact" or self.case is not None):
            raise ValueError("an integer search filter matches exactly and has no letter case")
        return self


class SqlWrites(BaseModel):
    """How submitted operations are written: into the mapped table, each one recorded in a ledger table in the
    same transaction, so that an operation delivered twice is applied once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ledger_table: str = Field(
        default="gateway_applied_operations",
        title="Ledger table",
        description="Table of the idempotency keys of the operations applied (created on first use).",
    )
    create_ledger: bool = Field(
        default=True,
        title="Create the ledger",
        description="Create the ledger table if it is missing; turn off where the gateway may not run DDL.",
    )

    _check_ledger = field_validator("ledger_table")(_identifier)


class SqlConnectorConfig(MappedConfig):
    """Where the sector table is and how its columns become contract fields.

    Values are read with parameterised queries only; table and column names must be plain identifiers.
    """

    url: SecretStr = Field(
        title="Database URL",
        description=(
            "SQLAlchemy URL of the sector database, e.g. ``postgresql://user:pass@host/db`` or "
            "``sqlite:///path/to/file.db``. Plain URLs get an asyncio driver (asyncpg, aiosqlite)."
        ),
    )
    db_schema: str | None = Field(default=None, title="Schema", description="Database schema of the table.")
    table: str = Field(title="Table or view", description="The table or view holding one record per row.")
    fields: dict[str, str] = Field(
        title="Field mapping",
        description=(
            "Contract field path -> column. Nested fields use dots: ``permanent_address.ward_code``. "
            "A nested object whose columns are all NULL is left out of the record."
        ),
        min_length=1,
    )
    search_filters: dict[str, SearchFilter] = Field(
        default_factory=dict,
        title="Search filters",
        description="Query field -> how it is matched. A query field without a filter cannot be searched.",
    )
    read_only: bool = Field(
        default=True,
        title="Read only",
        description="Open SQLite files read-only, so that a wrong path fails instead of creating a database.",
    )
    writes: SqlWrites | None = Field(
        default=None,
        title="Writes",
        description="Accept submitted records (create, update, delete) into the table; read only when unset.",
    )
    pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        title="Pool size",
        description=(
            "Connections kept open; requests beyond wait. On SQLite, one thread per connection, at most as many "
            "as the CPUs the gateway may run on (at least two)."
        ),
    )
    max_overflow: int = Field(
        default=0,
        ge=0,
        le=200,
        title="Pool overflow",
        description="Extra connections opened under bursts and closed when returned (each costs a new login).",
    )
    connect_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, title="Connect timeout", description="Deadline for opening a connection."
    )

    _check_table = field_validator("table")(_identifier)

    @field_validator("db_schema")
    @classmethod
    def _check_schema(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value)

    @field_validator("fields")
    @classmethod
    def _check_columns(cls, value: dict[str, str]) -> dict[str, str]:
        for column in value.values():
            _identifier(column)
        return value

    def searched_fields(self) -> list[str] | None:
        """The query fields of ``search_filters``; ``None`` when there are none."""
        return list(self.search_filters) or None
