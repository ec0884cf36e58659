"""Walking a sector API's result pages, whatever its style, behind the gateway's opaque cursors.

The gateway asks for ``limit`` records from a cursor; the sector API pages its own way (numbered pages, offsets,
next-page tokens, ``Link`` headers). A :class:`Position` says where a walk stands: the upstream page, the page
size chosen on the first call (kept for the whole walk, so that numbered pages stay aligned when a caller
changes its page size), and how many records of that upstream page were already returned. That last part lets
a walk return fewer records than an upstream page holds without losing or repeating any.

Cursors come back from API callers, so decoding checks every part: a forged cursor can only move within the
same search on the same API (link URLs must stay on the base URL's origin and the search path, and the query's
filters are always re-applied from the query itself).
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urljoin, urlsplit

import orjson

from connectors.errors import BadQuery, UpstreamError
from connectors.record_mapping import Getter, answer_expression

from .client import Answer
from .config import (
    CursorPagination,
    LinkHeaderPagination,
    OffsetPagination,
    PageNumberPagination,
    SearchEndpoint,
)

__all__ = ["Paginator", "Position", "Request", "make_paginator"]

_CURSOR_VERSION = 1
_MAX_NUMBER = 10**9
_MAX_TOKEN = 4096


@dataclass(frozen=True, slots=True)
class Position:
    """Where a walk stands: ``size`` per upstream page, ``number`` (page or offset), ``token`` (next-page token
    or link), and ``skip``, the records of that upstream page already returned."""

    size: int
    number: int = 0
    token: str | None = None
    skip: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    """The URL (a path below the base URL, or an absolute URL on its origin) and parameters of one page."""

    url: str
    params: dict[str, str]


class Paginator(ABC):
    """One pagination style: the request of a position, and the position of the next upstream page."""

    style: ClassVar[str]

    def __init__(self, endpoint: SearchEndpoint, base_url: str, label: str) -> None:
        self.endpoint = endpoint
        self.base_url = base_url
        self.label = label
        self.peek = 0
        """Records asked for beyond the page, to learn whether another page exists."""

    def first(self, limit: int) -> Position:
        """The position of a new walk returning ``limit`` records per call."""
        return Position(size=max(1, min(limit, self.endpoint.max_page_size - self.peek)))

    @abstractmethod
    def request(self, position: Position, filters: Mapping[str, str]) -> Request:
        """The call that fetches the upstream page at ``position`` with the query's ``filters``."""

    @abstractmethod
    def following(self, position: Position, received: int, body: Any, answer: Answer) -> Position | None:
        """The next upstream page's position after ``received`` records at ``position``, or ``None`` if last."""

    def usable(self, position: Position, items: list[Any]) -> list[Any]:
        """The records of an upstream page that belong to it (without any peeked record)."""
        return items

    def _params(self, filters: Mapping[str, str], **paging: str) -> dict[str, str]:
        return {**self.endpoint.params, **paging, **filters}

    # -- cursors ---------------------------------------------------------------------------------------------

    def encode(self, position: Position) -> str:
        """The opaque cursor of ``position``."""
        payload = [_CURSOR_VERSION, self.style, position.size, position.number, position.token, position.skip]
        return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()

    def decode(self, cursor: str) -> Position:
        """The position in ``cursor``; :class:`BadQuery` if it is not a cursor of this search."""
        try:
            payload: Any = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError):
            raise self._bad_cursor() from None
        if not (isinstance(payload, list) and len(payload) == 6 and payload[:2] == [_CURSOR_VERSION, self.style]):
            raise self._bad_cursor()
        size, number, token, skip = payload[2:]
        if not (
            _is_int(size, 1, self.endpoint.max_page_size)
            and _is_int(number, 0, _MAX_NUMBER)
            and _is_int(skip, 0, _MAX_NUMBER)
            and (token is None or (isinstance(token, str) and 0 < len(token) <= _MAX_TOKEN))
        ):
            raise self._bad_cursor()
        position = Position(size, number, token, skip)
        self.check(position)
        return position

    def check(self, position: Position) -> None:  # noqa: B027 - optional hook
        """Refuse a decoded position this style could not have produced."""

    def _bad_cursor(self) -> BadQuery:
        return BadQuery(f"{self.label}: the cursor is not one of this search")

    @staticmethod
    def _total_getter(expression: str | None) -> Getter | None:
        return answer_expression(expression) if expression is not None else None

    @staticmethod
    def _total(getter: Getter | None, body: Any) -> int | None:
        if getter is None:
            return None
        total = getter(body)
        return total if _is_int(total, 0, None) else None


def _is_int(value: Any, low: int, high: int | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high)


class PagePaginator(Paginator):
    """Numbered pages of ``size`` records: page ``n`` holds records ``[(n - first) * size, ... + size)``."""

    style = "page"

    def __init__(self, endpoint: SearchEndpoint, base_url: str, label: str) -> None:
        super().__init__(endpoint, base_url, label)
        assert isinstance(endpoint.pagination, PageNumberPagination)
        self.style_config = endpoint.pagination
        self._count = self._total_getter(self.style_config.total)

    def first(self, limit: int) -> Position:
        """Start at the API's first page number."""
        return replace(super().first(limit), number=self.style_config.first_page)

    def request(self, position: Position, filters: Mapping[str, str]) -> Request:
        """``?page=<number>&size=<size>``."""
        config = self.style_config
        params = self._params(
            filters, **{config.page_param: str(position.number), config.size_param: str(position.size)}
        )
        return Request(self.endpoint.path, params)

    def usable(self, position: Position, items: list[Any]) -> list[Any]:
        """All of them; more than ``size`` means the API ignored the size and its pages cannot be trusted."""
        if len(items) > position.size:
            raise UpstreamError(f"{self.label}: the API returned more records than the page size", reason="protocol")
        return items

    def following(self, position: Position, received: int, body: Any, answer: Answer) -> Position | None:
        """The next page, unless this one was short or the total says it was the last."""
        total = self._total(self._count, body)
        seen = (position.number - self.style_config.first_page + 1) * position.size
        more = seen < total if total is not None else received == position.size
        return Position(position.size, position.number + 1) if more and received else None


class OffsetPaginator(Paginator):
    """Offset windows: ``?offset=<n>&limit=<size>``; one extra record is asked for when no total is given."""

    style = "offset"

    def __init__(self, endpoint: SearchEndpoint, base_url: str, label: str) -> None:
        super().__init__(endpoint, base_url, label)
        assert isinstance(endpoint.pagination, OffsetPagination)
        self.style_config = endpoint.pagination
        self._count = self._total_getter(self.style_config.total)
        self.peek = 1 if self.style_config.total is None else 0

    def request(self, position: Position, filters: Mapping[str, str]) -> Request:
        """``?offset=<number>&limit=<size (+1)>``."""
        config = self.style_config
        window = str(position.size + self.peek)
        return Request(
            self.endpoint.path,
            self._params(filters, **{config.offset_param: str(position.number), config.limit_param: window}),
        )

    def usable(self, position: Position, items: list[Any]) -> list[Any]:
        """The window without the peeked record."""
        if len(items) > position.size + self.peek:
            raise UpstreamError(f"{self.label}: the API returned more records than the limit", reason="protocol")
        return items[: position.size]

    def following(self, position: Position, received: int, body: Any, answer: Answer) -> Position | None:
        """The next window, if the peeked record or the total says there is one."""
        total = self._total(self._count, body)
        if total is not None:
            more = position.number + position.size < total and received > 0
        else:
            more = received > position.size
        return Position(position.size, position.number + position.size) if more else None


class TokenPaginator(Paginator):
    """Next-page tokens in the answer: ``?cursor=<token>``; the API decides its page sizes."""

    style = "cursor"

    def __init__(self, endpoint: SearchEndpoint, base_url: str, label: str) -> None:
        super().__init__(endpoint, base_url, label)
        assert isinstance(endpoint.pagination, CursorPagination)
        self.style_config = endpoint.pagination
        self._next = answer_expression(self.style_config.next_cursor)

    def request(self, position: Position, filters: Mapping[str, str]) -> Request:
        """The first page without a token; the others with theirs."""
        config = self.style_config
        paging = {}
        if config.size_param:
            paging[config.size_param] = str(position.size)
        if position.token is not None:
            paging[config.cursor_param] = position.token
        return Request(self.endpoint.path, self._params(filters, **paging))

    def following(self, position: Position, received: int, body: Any, answer: Answer) -> Position | None:
        """The page of the answer's next token, if it has one."""
        token = self._next(body)
        if isinstance(token, int) and not isinstance(token, bool):
            token = str(token)
        if not isinstance(token, str) or not token:
            return None
        if len(token) > _MAX_TOKEN or token == position.token:
            raise UpstreamError(f"{self.label}: the API returned an unusable next-page token", reason="protocol")
        return Position(position.size, token=token)


class LinkPaginator(Paginator):
    """``Link: <url>; rel="next"`` headers; the next URL must stay on the base URL's origin and search path."""

    style = "link"

    def __init__(self, endpoint: SearchEndpoint, base_url: str, label: str) -> None:
        super().__init__(endpoint, base_url, label)
        assert isinstance(endpoint.pagination, LinkHeaderPagination)
        self.style_config = endpoint.pagination
        base = urlsplit(base_url)
        self._origin = f"{base.scheme}://{base.netloc}"
        self._path = base.path + endpoint.path
        self._filter_params = frozenset(endpoint.filters.values())

    def request(self, position: Position, filters: Mapping[str, str]) -> Request:
        """The search path on the first page; the linked URL after, with the query's own filters."""
        if position.token is None:
            paging = {self.style_config.size_param: str(position.size)} if self.style_config.size_param else {}
            return Request(self.endpoint.path, self._params(filters, **paging))
        link = urlsplit(position.token)
        linked = {k: v for k, v in parse_qsl(link.query, keep_blank_values=True) if k not in self._filter_params}
        return Request(self._origin + link.path, {**self.endpoint.params, **linked, **filters})

    def following(self, position: Position, received: int, body: Any, answer: Answer) -> Position | None:
        """The ``rel="next"`` link, made relative to the origin after checking where it points."""
        link = answer.links.get("next", {}).get("url")
        if not link:
            return None
        current = self._origin + (urlsplit(position.token).path if position.token else self._path)
        target = urlsplit(urljoin(current, link))
        if f"{target.scheme}://{target.netloc}" != self._origin or target.path != self._path:
            raise UpstreamError(f"{self.label}: the API's next-page link leaves the search", reason="protocol")
        token = target.path + (f"?{target.query}" if target.query else "")
        if len(token) > _MAX_TOKEN or token == position.token:
            raise UpstreamError(f"{self.label}: the API returned an unusable next-page link", reason="protocol")
        return Position(position.size, token=token)

    def check(self, position: Position) -> None:
        """A link cursor must name the search path, nothing else."""
        if position.token is not None:
            link = urlsplit(position.token)
            if link.scheme or link.netloc or link.path != self._path or link.fragment:
                raise self._bad_cursor()


_STYLES: dict[str, type[Paginator]] = {
    "page": PagePaginator,
    "offset": OffsetPaginator,
    "cursor": TokenPaginator,
    "link": LinkPaginator,
}


def make_paginator(endpoint: SearchEndpoint, base_url: str, label: str) -> Paginator:
    """The paginator of the endpoint's configured style."""
    return _STYLES[endpoint.pagination.style](endpoint, base_url, label)
