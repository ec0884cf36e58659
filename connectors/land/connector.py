"""The national land database connector."""

from __future__ import annotations

from typing import Any

from connectors.base import Page
from connectors.sql import SqlConnector
from connectors.sql.config import SearchFilter
from connectors.sql.connector import decode_cursor, encode_cursor
from connectors.sql.statements import Statements
from contracts import ContractQuery
from contracts.land import LandParcel, LandParcelQuery

from .config import LandConnectorConfig


class LandConnector(SqlConnector):
    """Serves ``land.parcel`` records from the national land database's parcels table.

    Lookup by parcel id (``<ward code>-<map sheet>-<parcel number>``); search by a holder's personal id, which
    finds the parcels the person holds alone or as either spouse of a couple, and/or by certificate serial.
    """

    slug = "land"
    title = "National land database"
    description = "Land parcels, their certificates and holders (Cơ sở dữ liệu đất đai)."
    contract = LandParcel
    query_model = LandParcelQuery
    config_model = LandConnectorConfig

    def __init__(self, config: LandConnectorConfig) -> None:
        super().__init__(config)
        self._co_owner_statements: Statements | None = None
        owner_filter = config.search_filters.get("owner_personal_id")
        if config.co_owner_column is not None and owner_filter is not None:
            filters = {**config.search_filters, "owner_personal_id": SearchFilter(column=config.co_owner_column)}
            self._co_owner_statements = Statements(
                config.model_copy(update={"search_filters": filters}),
                columns=self.mapping.columns,
                key_column=config.fields[self.contract.record_key],
                collation=self._executor.text_collation,
            )

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        """Records matching the query, ordered by parcel id. A search by holder reads the first and the second
        holder's columns and merges both, ordered by key, so that pages and cursors stay those of one search."""
        first = await super().search(query, limit=limit, cursor=cursor)
        statements = self._co_owner_statements
        if statements is None or not isinstance(query, LandParcelQuery) or query.owner_personal_id is None:
            return first
        values = query.model_dump(mode="json", exclude_none=True)
        params: dict[str, Any] = statements.search_params({k: self.mapping.to_stored(k, v) for k, v in values.items()})
        params["limit"] = limit + 1
        if cursor is not None:
            params["after"] = decode_cursor(cursor, self.slug)  # checked by the first search already
        rows = await self._fetch(statements.search(values, after=cursor is not None), params)
        second, second_skipped = self.page_records(rows, limit)
        merged = {record.record_id(): record for record in [*first.items, *second]}
        ordered = [merged[k] for k in sorted(merged)]
        more = first.next_cursor is not None or len(rows) > limit or len(ordered) > limit
        items = ordered[:limit]
        last = items[-1].record_id() if more and items else None
        # Broken rows are reported once, on the page whose key range holds them (the others come again later).
        broken = {v.record_id: v for v in [*first.skipped, *second_skipped] if v.record_id is not None}
        skipped = [v for k, v in sorted(broken.items()) if last is None or k <= last]
        return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None, skipped=skipped)
