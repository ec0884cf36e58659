"""The SQL statements of a connector, built once from its configuration, every value a bound parameter."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    collate,
    column,
    func,
    or_,
    select,
    table,
)

from ..errors import BadQuery
from ..spellings import spellings
from .config import SqlConnectorConfig

LIKE_ESCAPE = "\\"
_WORD_START = re.compile(r"(^|[\s'\-])(\w)")


def escape_like(value: str) -> str:
    """Escape LIKE wildcards so that ``value`` matches itself only."""
    return value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def to_case(value: str, case: Literal["title", "upper", "lower"] | None) -> str:
    """Put ``value`` in a letter case: ``title`` capitalises every word, and every part after an apostrophe or
    a hyphen (``h'hen niê`` becomes ``H'Hen Niê``)."""
    if case == "upper":
        return value.upper()
    if case == "lower":
        return value.lower()
    if case == "title":
        return _WORD_START.sub(lambda m: m.group(1) + m.group(2).upper(), value.lower())
    return value


def equals(col: ColumnElement[Any], parameter: BindParameter[Any], collation: str | None) -> ColumnElement[bool]:
    """``col = parameter``; under ``collation`` too when given (:attr:`Executor.text_collation`): the plain
    comparison lets the database use the column's index, the second keeps only the rows equal as stored (not
    merely equal under a collation that ignores case and accents)."""
    if collation is None:
        return col == parameter
    return and_(col == parameter, col == collate(parameter, collation))


def starts_with(col: ColumnElement[Any], pattern: BindParameter[Any], collation: str | None) -> ColumnElement[bool]:
    """``col LIKE pattern`` (escaped by :func:`escape_like`), exactly as stored under ``collation`` (see
    :func:`equals`)."""
    if collation is None:
        return col.like(pattern, escape=LIKE_ESCAPE)
    return and_(col.like(pattern, escape=LIKE_ESCAPE), col.like(collate(pattern, collation), escape=LIKE_ESCAPE))


class Statements:
    """Get, ping and search statements. Search statements are built once per combination of filters used.

    ``collation``: the collation under which text is compared exactly, for databases whose columns may ignore
    case and accents (MariaDB, MySQL); text then matches as PostgreSQL and SQLite match it."""

    def __init__(
        self, config: SqlConnectorConfig, *, columns: Collection[str], key_column: str, collation: str | None = None
    ) -> None:
        self._collation = collation
        names = dict.fromkeys([*columns, *(f.column for f in config.search_filters.values())])
        source = table(config.table, *(column(name) for name in names), schema=config.db_schema)
        self.key_column = key_column
        self._key = source.c[key_column]
        self._columns = [source.c[name] for name in columns]
        self._filters = config.search_filters
        self._source = source
        self.get: Select[Any] = select(*self._columns).where(equals(self._key, bindparam("key"), collation)).limit(2)
        """The rows of one key: at most two, enough to tell a key the table holds twice (a view, a table without
        a unique key) from one it holds once."""
        self.ping: Select[Any] = select(self._key).select_from(source).limit(1)
        self.sample: Select[Any] = (
            select(*self._columns).order_by(func.random()).limit(bindparam("limit", type_=Integer))
        )
        """At most ``limit`` rows in random order (``random()`` as SQLite and PostgreSQL name it, ``rand()`` in
        MariaDB and MySQL)."""
        self._search: dict[tuple[tuple[str, ...], bool], Select[Any]] = {}

    def search(self, filters: Collection[str], *, after: bool) -> Select[Any]:
        """The statement filtering on ``filters`` (bound as ``f_<name>``), after the key ``after`` when asked,
        ordered by key and limited by the ``limit`` parameter."""
        shape = (tuple(sorted(filters)), after)
        statement = self._search.get(shape)
        if statement is None:
            clauses: list[ColumnElement[bool]] = []
            for name in shape[0]:
                rule = self._filters[name]
                col = self._source.c[rule.column]
                parameter: BindParameter[Any] = (
                    bindparam(f"f_{name}", type_=Integer) if rule.value_type == "integer" else bindparam(f"f_{name}")
                )
                if rule.value_type == "integer":
                    clauses.append(col == parameter)
                    continue
                # Text: in each of the forms the database may hold it (see search_params).
                forms = [parameter, *(bindparam(f"f_{name}_{i}") for i in (1, 2))]
                if rule.match == "prefix":
                    clauses.append(or_(*(starts_with(col, form, self._collation) for form in forms)))
                elif self._collation is None:
                    clauses.append(col.in_(forms))
                else:
                    clauses.append(or_(*(equals(col, form, self._collation) for form in forms)))
            if after:
                clauses.append(self._key > bindparam("after"))
            statement = (
                select(*self._columns).where(*clauses).order_by(self._key).limit(bindparam("limit", type_=Integer))
            )
            self._search[shape] = statement
        return statement

    def search_value(self, name: str, stored: Any) -> Any:
        """The bound value of filter ``name`` for the stored form of a query value."""
        rule = self._filters[name]
        if rule.value_type == "integer":
            try:
                return int(stored)
            except (TypeError, ValueError):
                raise BadQuery(f"{name}: the value is not one of the stored codes") from None
        if isinstance(stored, str):
            stored = to_case(stored, rule.case)
        if rule.match == "prefix":
            return escape_like(str(stored)) + "%"
        return stored

    def search_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Bound parameters for filter values given by query field name. A text value is bound in each form a
        database may hold Vietnamese text in (:func:`connectors.spellings.spellings`: precomposed, decomposed,
        tone marks apart), as ``f_<name>``, ``f_<name>_1`` and ``f_<name>_2``."""
        params: dict[str, Any] = {}
        for name, value in values.items():
            if self._filters[name].value_type == "integer":
                params[f"f_{name}"] = self.search_value(name, value)
                continue
            forms = spellings(value) if isinstance(value, str) else (value, value, value)
            for i, form in enumerate(forms):
                params[f"f_{name}" if i == 0 else f"f_{name}_{i}"] = self.search_value(name, form)
        return params
