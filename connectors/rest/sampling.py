"""Sampling a REST sector API for data-quality scans: a paged listing (or a search without filters) the API
offers, declared in the configuration's ``sample`` (the sector presets declare it), read bounded and rate-limited
(:mod:`connectors.sampling`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import Field, field_validator

from connectors.errors import UpstreamError
from connectors.record_mapping import answer_expression
from connectors.sampling import Pacer, SamplePolicy, raw_data, records_of, sample_pages

if TYPE_CHECKING:
    from .connector import RestConnector

__all__ = ["RestSampleListing", "RestSampler"]


def _jmespath(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        jmespath.compile(value)
    except JMESPathError:
        raise ValueError(f"{value!r} is not a JMESPath expression") from None
    return value


class RestSampleListing(SamplePolicy):
    """A listing of every record in numbered pages (``paging: page``: ``?page=3&size=50``) or windows from an offset
    (``paging: offset``: ``?offset=100&limit=50``): ``GET <base_url><path>``."""

    path: str = Field(title="Path", description="Path below base_url of the listing, e.g. ``/citizens``.")
    params: dict[str, str] = Field(
        default_factory=dict, title="Fixed parameters", description="Query parameters sent on every call."
    )
    paging: Literal["page", "offset"] = Field(
        default="page", title="Paging", description="``page`` (numbered pages) or ``offset`` (windows)."
    )
    page_param: str = Field(
        default="page", title="Page parameter", description="Parameter of the page number (of the offset)."
    )
    size_param: str = Field(default="size", title="Size parameter", description="Parameter of the page size.")
    first_page: int = Field(default=1, ge=0, le=1, title="First page", description="Number of the first page.")
    items: str = Field(title="Items", description="JMESPath to the list of records in the answer (``data.items``).")
    total: str | None = Field(
        default=None,
        title="Total",
        description="JMESPath to the number of records in the answer; without it pages are read in order.",
    )
    error_when: str | None = Field(
        default=None, title="Error when", description="JMESPath condition on a 200 answer meaning the call failed."
    )

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/") or "//" in value or "?" in value or "#" in value or "{" in value:
            raise ValueError("a path starts with '/' and has no query, fragment or placeholder")
        return value

    _check_expressions = field_validator("items", "total", "error_when")(_jmespath)


class RestSampler:
    """Takes the samples of one :class:`~connectors.rest.connector.RestConnector` (one rate limit for all)."""

    def __init__(self, connector: RestConnector, listing: RestSampleListing) -> None:
        self.connector = connector
        self.listing = listing
        self.pacer = Pacer(listing.requests_per_second)
        self._items = answer_expression(listing.items)
        self._total = answer_expression(listing.total) if listing.total else None
        self._error = answer_expression(listing.error_when) if listing.error_when else None

    async def _page(self, index: int, size: int) -> tuple[Sequence[Any], int | None]:
        listing, connector = self.listing, self.connector
        at = index * size if listing.paging == "offset" else index + listing.first_page
        params = {**listing.params, listing.page_param: str(at), listing.size_param: str(size)}
        _, body = await connector._search_call("GET", listing.path, params, listing.timeout_seconds)
        if self._error is not None and self._error(body):
            raise UpstreamError(f"{connector.slug}: the sector system reported an error", reason="protocol")
        items = records_of(self._items(body))
        total: Any = self._total(body) if self._total is not None else None
        if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
            raise UpstreamError(f"{connector.slug}: the listing's total is not a number", reason="protocol")
        return items, total

    async def sample(self, limit: int, *, rng: random.Random | None = None) -> list[dict[str, Any]]:
        """At most ``limit`` records (and ``max_records``) picked at random, mapped but not validated."""
        items = await sample_pages(self._page, limit, self.listing, self.pacer, rng=rng)
        mapping = self.connector.mapping
        return [raw_data(mapping.to_data, item) for item in items if isinstance(item, dict)]
