"""Walking a SOAP service's numbered result pages behind the gateway's opaque cursors.

A :class:`Position` says where a walk stands: the upstream page, the page size chosen on the first call (kept for
the whole walk, so that pages stay aligned when a caller changes its page size), and how many records of that
page were already returned. Cursors come back from API callers, so decoding checks every part; the query's
filters are never in a cursor, they are always taken from the query itself.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from connectors.errors import BadQuery

__all__ = ["Position", "decode_cursor", "encode_cursor", "next_position"]

_VERSION = 1
_STYLE = "soap-page"
_MAX_PAGE = 10**9


@dataclass(frozen=True, slots=True)
class Position:
    """``size`` records per upstream page, the upstream ``page`` number, and ``skip`` records of it returned."""

    size: int
    page: int
    skip: int = 0


def encode_cursor(position: Position) -> str:
    """The opaque cursor of ``position``."""
    payload = [_VERSION, _STYLE, position.size, position.page, position.skip]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def decode_cursor(cursor: str, *, max_page_size: int, first_page: int, label: str) -> Position:
    """The position in ``cursor``; :class:`BadQuery` if it is not a cursor of this connector's searches."""
    bad = BadQuery(f"{label}: the cursor is not one of this search")
    try:
        payload: Any = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if not (isinstance(payload, list) and len(payload) == 5 and payload[:2] == [_VERSION, _STYLE]):
        raise bad
    size, page, skip = payload[2:]
    if not (_is_int(size, 1, max_page_size) and _is_int(page, first_page, _MAX_PAGE) and _is_int(skip, 0, size - 1)):
        raise bad
    return Position(size, page, skip)


def next_position(
    position: Position, *, limit: int, received: int, total: int | None, first_page: int
) -> Position | None:
    """Where the walk goes after returning ``limit`` records from ``position`` on a page of ``received`` records
    (``total`` matching records in all, when the service says): further into the same page, the next page, or
    nowhere (``None``) after the last."""
    if position.skip + limit < received:
        return Position(position.size, position.page, position.skip + limit)
    seen = (position.page - first_page + 1) * position.size
    more = seen < total if total is not None else received == position.size
    return Position(position.size, position.page + 1) if more and received else None
