"""The generic SOAP connector: a WSDL-described sector service, read through zeep and one pooled HTTP client."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lxml import etree
from zeep.helpers import serialize_object

from connectors.base import (
    BadQuery,
    Capability,
    ContractViolation,
    HealthReport,
    HealthState,
    OperationNotSupported,
    Page,
    RecordNotFound,
    UpstreamError,
)
from connectors.fields import ConversionFailed
from connectors.mapped import MappedConnector
from connectors.record_mapping import Getter, RecordMapping, answer_expression
from connectors.sampling import raw_data
from contracts import Contract, ContractQuery

from .client import SoapClient
from .config import RECORD_ID, SoapConnectorConfig
from .envelope import Envelope
from .mapping import XPathEvaluator, XPathRecordMapping, compile_xpath, xpath_namespaces, xpath_value
from .paging import Position, decode_cursor, encode_cursor, next_position
from .sampling import SoapSampler

__all__ = ["SoapConnector"]


def _fill(template: Any, record_id: str) -> Any:
    if isinstance(template, str):
        return template.replace(RECORD_ID, record_id)
    if isinstance(template, dict):
        return {key: _fill(value, record_id) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, record_id) for value in template]
    return template


def _set(arguments: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    target = arguments
    for part in parents:
        nested = target.get(part)
        if not isinstance(nested, dict):
            nested = target[part] = {}
        else:
            nested = target[part] = dict(nested)
        target = nested
    target[leaf] = value


#: A total as a service may write it: ASCII digits, at most 18 (any count of records fits).
_DIGITS = re.compile(r"[0-9]{1,18}")


class SoapConnector(MappedConnector[SoapConnectorConfig, RecordMapping | XPathRecordMapping]):
    """Serves a contract from a SOAP sector service, configured without code.

    ``get`` calls the read operation with the key in its argument template; ``search`` sends the query's fields
    as the configured arguments and walks the service's numbered pages behind opaque cursors. Answers are parsed
    with a hardened XML parser, SOAP Faults become connector errors (those in ``not_found_faults`` mean "not
    found"), records are mapped with XPath (or JMESPath over zeep's objects) and validated against the contract.
    Dedicated connectors subclass it and fix ``contract``, ``query_model`` and defaults in their config model.
    """

    slug = "soap"
    title = "Generic SOAP web service"
    description = "Any SOAP 1.1/1.2 sector service described by a WSDL, mapped field by field with XPath or zeep."
    config_model = SoapConnectorConfig
    strict_value_maps = False
    capabilities = frozenset({Capability.READ, Capability.SEARCH, Capability.SAMPLE})

    def __init__(self, config: SoapConnectorConfig) -> None:
        super().__init__(config)
        self._zeep = config.mapping == "zeep"
        self._xpaths: dict[str, XPathEvaluator] = {}
        self._jmespaths: dict[str, Getter] = {}
        expressions = {"record": config.get.record, "not_found": config.get.not_found_when}
        if config.search is not None:
            expressions |= {"items": config.search.items, "total": config.search.total}
        try:
            if self._zeep:
                self._jmespaths = {k: answer_expression(v) for k, v in expressions.items() if v is not None}
            else:
                namespaces = xpath_namespaces(config.namespaces)
                self._xpaths = {k: compile_xpath(v, namespaces) for k, v in expressions.items() if v is not None}
        except ValueError as exc:
            raise self.config_error(str(exc)) from None
        self._not_found = frozenset(config.not_found_faults)
        self._client = SoapClient(config, label=self.slug)
        self._sampler = SoapSampler(self, config.sample) if config.sample is not None else None

    def make_mapping(self) -> RecordMapping | XPathRecordMapping:
        """XPath per field over the record element, or JMESPath over zeep's record object (``mapping``)."""
        config = self.config
        if config.mapping == "zeep":
            return RecordMapping(config.fields, config.value_maps, **self.mapping_options())
        namespaces = xpath_namespaces(config.namespaces)
        return XPathRecordMapping(config.fields, config.value_maps, namespaces, **self.mapping_options())

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._client.close()

    def _timeout(self, seconds: float | None) -> float:
        return seconds if seconds is not None else self.config.timeout_seconds

    async def health(self) -> HealthReport:
        """Call the health operation, or fetch the service address when none is configured."""
        ping = self.config.ping
        if ping is None:
            await self._client.get_endpoint(self.config.timeout_seconds)
            return HealthReport(HealthState.UP)
        await self._client.call(ping.operation, ping.arguments, seconds=self._timeout(ping.timeout_seconds))
        return HealthReport(HealthState.UP)

    # -- reading the answers ---------------------------------------------------------------------------------

    def _result(self, operation: str, envelope: Envelope) -> Any:
        """What the expressions are evaluated on: the SOAP Body, or zeep's result as plain data."""
        if not self._zeep:
            return envelope.body
        return serialize_object(self._client.deserialize(operation, envelope), dict)  # type: ignore[no-untyped-call]

    def _evaluate(self, name: str, result: Any) -> Any:
        if self._zeep:
            return self._jmespaths[name](result)
        return self._xpaths[name](result)

    def _records(self, found: Any) -> list[Any]:
        """The record elements (or objects) an expression found."""
        if found is None:
            return []
        if self._zeep:
            return found if isinstance(found, list) else [found]
        if not isinstance(found, list) or not all(isinstance(node, etree._Element) for node in found):
            raise UpstreamError(f"{self.slug}: the answer's records are not elements", reason="protocol")
        return found

    def _raw(self, item: Any) -> dict[str, Any]:
        """The contract data of a record element (or object), mapped but not validated."""
        if self._zeep and not isinstance(item, dict):
            return {}
        return raw_data(self.mapping.to_data, item)

    def _to_record(self, item: Any, record_id: str | None = None) -> Contract:
        if self._zeep and not isinstance(item, dict):
            raise self.violation(["(record): not an object"], record_id=record_id)
        try:
            data = self.mapping.to_data(item)
        except ConversionFailed as exc:
            raise self.violation(exc.errors, record_id=record_id or self.key_in(exc.data)) from None
        return self.to_record(data, record_id=record_id)

    # -- operations ------------------------------------------------------------------------------------------

    async def get(self, record_id: str) -> Contract:
        """Call the read operation for ``record_id`` and return the record validated."""
        operation = self.config.get
        envelope = await self._client.call(
            operation.operation,
            _fill(operation.arguments, record_id),
            seconds=self._timeout(operation.timeout_seconds),
            not_found=self._not_found,
        )
        result = self._result(operation.operation, envelope)
        if "not_found" in self._xpaths or "not_found" in self._jmespaths:
            found = self._evaluate("not_found", result)
            if found if not isinstance(found, list) else bool(found):
                raise RecordNotFound(f"no {self.slug} record with that key")
        records = self._records(self._evaluate("record", result))
        if len(records) != 1:
            raise ContractViolation(
                f"answer from {self.slug!r} violates {self.contract.contract_id()}",
                record_id=record_id,
                errors=[f"(record): {len(records)} records where one was expected"],
            )
        record = self._to_record(records[0], record_id)
        return self.asked_for(record, record_id)

    def offers(self, capability: Capability) -> bool:
        """As :meth:`Connector.offers`, with samples only when the configuration declares the listing to sample
        (``sample``): without it, data-quality scans skip the database rather than fail on it."""
        if capability is Capability.SAMPLE and self._sampler is None:
            return False
        return super().offers(capability)

    async def sample(self, limit: int) -> Sequence[dict[str, Any]]:
        """Records picked at random from the listing operation ``sample`` declares (bounded, rate-limited; see
        :mod:`connectors.soap.sampling`), mapped but not validated."""
        if self._sampler is None:
            raise OperationNotSupported(f"connector {self.slug!r} cannot sample its records")
        return await self._sampler.sample(limit)

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        """Return records matching ``query`` in the service's order; the cursor is where the walk stands."""
        operation = self.config.search
        if operation is None or self.query_model is None:
            raise OperationNotSupported(f"connector {self.slug!r} does not support search")
        if not isinstance(query, self.query_model):
            raise BadQuery(f"{self.slug}: expected a {self.query_model.__name__}")
        values = query.model_dump(mode="json", exclude_none=True)
        unsupported = sorted(set(values) - set(operation.filters))
        if unsupported:
            raise BadQuery(f"{self.slug}: searching by {', '.join(map(repr, unsupported))} is not supported")
        if cursor is not None:
            position = decode_cursor(
                cursor, max_page_size=operation.max_page_size, first_page=operation.first_page, label=self.slug
            )
        else:
            position = Position(max(1, min(limit, operation.max_page_size)), operation.first_page)
        arguments: dict[str, Any] = dict(operation.arguments)
        for name, value in values.items():
            _set(arguments, operation.filters[name], str(self.mapping.to_stored(name, value)))
        _set(arguments, operation.page_argument, position.page)
        _set(arguments, operation.size_argument, position.size)
        try:
            envelope = await self._client.call(
                operation.operation,
                arguments,
                seconds=self._timeout(operation.timeout_seconds),
                not_found=self._not_found,
            )
        except RecordNotFound:
            return Page(items=[], next_cursor=None)
        result = self._result(operation.operation, envelope)
        items = self._records(self._evaluate("items", result))
        if len(items) > position.size:
            raise UpstreamError(f"{self.slug}: the service returned more records than the page size", reason="protocol")
        total = self._total(result)
        window = items[position.skip : position.skip + limit]
        following = next_position(
            position, limit=limit, received=len(items), total=total, first_page=operation.first_page
        )
        records, skipped = self.valid_records(window, self._to_record)  # a bad record does not fail its page
        next_cursor = encode_cursor(following) if following is not None else None
        return Page(items=records, next_cursor=next_cursor, skipped=skipped)

    def _total(self, result: Any) -> int | None:
        if "total" not in self._xpaths and "total" not in self._jmespaths:
            return None
        total = self._evaluate("total", result)
        if not self._zeep:
            total = xpath_value(total)
        if isinstance(total, str) and _DIGITS.fullmatch(total.strip()):  # not "²" nor 5,000 digits: int() fails
            total = int(total.strip())
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
            return total
        raise UpstreamError(f"{self.slug}: the service's total is not a number", reason="protocol")
