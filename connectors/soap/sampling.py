"""Sampling a SOAP sector service for data-quality scans: an operation listing every record in numbered pages,
declared in the configuration's ``sample`` (the sector presets declare it), called bounded and rate-limited
(:mod:`connectors.sampling`)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from connectors.errors import UpstreamError
from connectors.record_mapping import answer_expression
from connectors.sampling import Pacer, SamplePolicy, sample_pages

from .mapping import compile_xpath, xpath_namespaces, xpath_value

if TYPE_CHECKING:
    from .connector import SoapConnector

__all__ = ["SoapSampleOperation", "SoapSampler"]


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
_ARGUMENT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)*$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not an XML name")
    return value


def _argument_path(value: str) -> str:
    if not _ARGUMENT_PATH.fullmatch(value):
        raise ValueError(f"{value!r} is not an argument path (names joined by '.')")
    return value


class SoapSampleOperation(SamplePolicy):
    """An operation listing every record in numbered pages: its arguments, the paging arguments, and where the
    records and their number are in the answer (XPath from the SOAP Body, or JMESPath in ``zeep`` mapping)."""

    operation: str = Field(title="Operation", description="Name of the WSDL operation listing the records.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, title="Arguments", description="Fixed arguments of the operation."
    )
    page_argument: str = Field(title="Page argument", description="Argument path of the page number.")
    size_argument: str = Field(title="Size argument", description="Argument path of the page size.")
    first_page: int = Field(default=1, ge=0, le=1, title="First page", description="Number of the first page.")
    items: str = Field(title="Items", description="Where the records are in the answer.")
    total: str | None = Field(
        default=None,
        title="Total",
        description="Where the number of records is in the answer; without it pages are read in order.",
    )

    _check_operation = field_validator("operation")(_name)
    _check_paths = field_validator("page_argument", "size_argument")(_argument_path)


def _set(arguments: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    target = arguments
    for part in parents:
        nested = target.get(part)
        target[part] = nested = dict(nested) if isinstance(nested, dict) else {}
        target = nested
    target[leaf] = value


#: A total as a service may write it: ASCII digits, at most 18.
_DIGITS = re.compile(r"[0-9]{1,18}")


class SoapSampler:
    """Takes the samples of one :class:`~connectors.soap.connector.SoapConnector` (one rate limit for all)."""

    def __init__(self, connector: SoapConnector, operation: SoapSampleOperation) -> None:
        self.connector = connector
        self.operation = operation
        self.pacer = Pacer(operation.requests_per_second)
        self._zeep = connector.config.mapping == "zeep"
        compile_one: Callable[[str], Callable[[Any], Any]]
        if self._zeep:
            compile_one = answer_expression
        else:
            namespaces = xpath_namespaces(connector.config.namespaces)

            def compile_one(expression: str) -> Callable[[Any], Any]:
                return compile_xpath(expression, namespaces)

        try:
            self._items = compile_one(operation.items)
            self._total = compile_one(operation.total) if operation.total else None
        except ValueError as exc:
            raise connector.config_error(f"sample: {exc}") from None

    async def _page(self, index: int, size: int) -> tuple[Sequence[Any], int | None]:
        operation, connector = self.operation, self.connector
        arguments: dict[str, Any] = dict(operation.arguments)
        _set(arguments, operation.page_argument, index + operation.first_page)
        _set(arguments, operation.size_argument, size)
        seconds = operation.timeout_seconds or connector.config.timeout_seconds
        envelope = await connector._client.call(operation.operation, arguments, seconds=seconds)
        result = connector._result(operation.operation, envelope)
        items = connector._records(self._items(result))
        total: Any = None
        if self._total is not None:
            total = self._total(result)
            if not self._zeep:
                total = xpath_value(total)
            if isinstance(total, str) and _DIGITS.fullmatch(total.strip()):  # not 5,000 digits: int() would fail
                total = int(total.strip())
            if not isinstance(total, int) or isinstance(total, bool) or total < 0:
                raise UpstreamError(f"{connector.slug}: the listing's total is not a number", reason="protocol")
        return items, total

    async def sample(self, limit: int, *, rng: random.Random | None = None) -> list[dict[str, Any]]:
        """At most ``limit`` records (and ``max_records``) picked at random, mapped but not validated."""
        items = await sample_pages(self._page, limit, self.operation, self.pacer, rng=rng)
        return [self.connector._raw(item) for item in items]
