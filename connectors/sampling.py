"""Sampling a sector system that is read over the network (REST, SOAP), for data-quality scans.

A sector API rarely offers "N records at random"; most offer a listing (or a search without filters) in numbered
pages, with the number of records. :func:`sample_pages` reads the first page to learn that number, then a few
pages chosen at random, and picks the records of the sample among them. It never hurts the sector system:

* *bounded*: at most ``max_records`` records whatever the scan asks, so at most ``max_records / page_size + 3``
  calls (the first page, for the count, then the pages drawn and one spare);
* *rate-limited*: one call at a time, each starting ``1 / requests_per_second`` seconds after the previous one
  ended (:class:`Pacer`, shared by every sample a connector instance takes).

Where the listing is and how it pages is declared in the connector's configuration (``sample``), usually by the
sector preset (:mod:`connectors.presets`); :class:`SamplePolicy` holds the settings every protocol shares.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .fields import ConversionFailed

__all__ = [
    "DEFAULT_MAX_RECORDS",
    "DEFAULT_REQUESTS_PER_SECOND",
    "Pacer",
    "SamplePolicy",
    "raw_data",
    "records_of",
    "sample_pages",
]

DEFAULT_MAX_RECORDS: Final = 5000
"""Records one sample reads at most, unless the configuration says otherwise."""
DEFAULT_REQUESTS_PER_SECOND: Final = 5.0
"""Calls a sample makes per second at most, unless the configuration says otherwise."""

Item = TypeVar("Item")


class SamplePolicy(BaseModel):
    """How much a sample may read from the sector system, and how fast."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page_size: int = Field(
        default=50,
        ge=1,
        le=1000,
        title="Page size",
        description="Records asked for per call (at most the largest page the system accepts).",
    )
    max_records: int = Field(
        default=DEFAULT_MAX_RECORDS,
        ge=1,
        le=1_000_000,
        title="Largest sample",
        description="Records one sample reads at most, whatever size a scan asks for.",
    )
    requests_per_second: float = Field(
        default=DEFAULT_REQUESTS_PER_SECOND,
        gt=0,
        le=1000,
        title="Rate limit",
        description="Calls per second a sample makes at most (one at a time, each this fraction of a second after the "
        "previous one ended), so that a scan never hurts the system.",
    )
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=300,
        title="Timeout",
        description="Deadline of one call of the listing, retries included; the connector's when unset.",
    )


class Pacer:
    """One call at a time, each starting at least ``1 / rate`` seconds after the previous one *ended*: whatever a
    call does before its request leaves (opening a connection, reading a WSDL), two requests never reach the sector
    system closer than that (for every task sharing the pacer)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold the slot for one call: wait for its turn, and start the next one's interval when the call ends."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            if self._next > loop.time():
                await asyncio.sleep(self._next - loop.time())
            try:
                yield
            finally:
                self._next = loop.time() + self.interval


Fetch = Callable[[int, int], Awaitable[tuple[Sequence[Item], int | None]]]
"""``fetch(index, size)``: the records of page ``index`` (0 for the first) of ``size`` records, and the number of
records in all when the system says (``None`` otherwise)."""


async def sample_pages(
    fetch: Fetch[Item],
    limit: int,
    policy: SamplePolicy,
    pacer: Pacer,
    *,
    rng: random.Random | None = None,
) -> list[Item]:
    """At most ``min(limit, policy.max_records)`` records picked at random from a paged listing.

    The first page tells how many records there are; when the wanted records are most of them, every page is read,
    else pages are chosen at random (uniformly: the first one only if drawn) and records drawn at random from them.
    Without a count, pages are read in order until a short page or ``max_records`` records.
    """
    rng = rng or random.Random()  # noqa: S311 - sampling, not security
    wanted = min(limit, policy.max_records)
    if wanted <= 0:
        return []
    size = policy.page_size

    async def page(index: int) -> tuple[Sequence[Item], int | None]:
        async with pacer.slot():
            return await fetch(index, size)

    first, total = await page(0)
    found: list[Item] = list(first)
    if total is None:
        index = 0
        while len(first) >= size and len(found) < policy.max_records:
            index += 1
            first, _ = await page(index)
            found += first
        found = found[: policy.max_records]
    else:
        # Pages chosen uniformly, the first one only if drawn (it was read for the count): every record has the same
        # chance to be in the sample.
        pages = max(1, math.ceil(total / size))
        needed = min(pages, math.ceil(wanted / size) + (1 if wanted < total else 0))
        chosen = sorted(rng.sample(range(pages), needed))
        found = list(first) if chosen and chosen[0] == 0 else []
        for index in chosen:
            if index:
                items, _ = await page(index)
                found += items
    return rng.sample(found, min(wanted, len(found)))


def raw_data(to_data: Callable[[Item], dict[str, Any]], item: Item) -> dict[str, Any]:
    """The contract data ``to_data`` maps ``item`` to, not validated; a value whose conversion cannot read it is left
    out (the record then lacks that field, as the scan should see it) rather than failing the whole sample."""
    try:
        return to_data(item)
    except ConversionFailed as exc:
        return exc.data


def records_of(found: Any) -> list[Any]:
    """The records a listing's ``items`` expression found (``None``: none)."""
    if found is None:
        return []
    return found if isinstance(found, list) else [found]
