"""The generic SOAP connector: a WSDL-described sector service, read through zeep and one pooled HTTP client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from zeep.helpers import serialize_object

from connectors.base import (
    BadQuery,
    Capability,
    Connector,
    ContractViolation,
    HealthReport,
    HealthState,
    OperationNotSupported,
    Page,
    RecordNotFound,
    UpstreamError,
)
from connectors.conversions import check_conversions, compile_conversions
from connectors.fields import ConversionFailed, has_field_path, timestamp_fields
from connectors.record_mapping import Getter, RecordMapping, compile_expression
from connectors.sampling import raw_data
from contracts import Contract, ContractQuery, UnknownContract, get_contract

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


class SoapConnector(Connector[SoapConnectorConfig]):
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
    capabilities = frozenset({Capability.READ, Capability.SEARCH, Capability.SAMPLE})

    def __init__(self, config: SoapConnectorConfig) -> None:
        super().__init__(config)
        if config.contract is not None:
            name, _, version = config.contract.partition("@")
            try:
                self.contract = get_contract(name, int(version) if version else None)
            except (UnknownContract, ValueError):
                raise self.config_error(f"unknown contract {config.contract!r}") from None
            if config.search is not None and self.query_model is None:
                self.query_model = self.contract.query_model
        if not hasattr(self, "contract"):
            raise self.config_error("it needs a contract (set 'contract')")
        self._check_mapping()
        stamps = timestamp_fields(self.contract)
        converters = compile_conversions(config.conversions, ZoneInfo(config.naive_datetime_timezone))
        self._zeep = config.mapping == "zeep"
        self._xpath_mapping: XPathRecordMapping | None = None
        self._zeep_mapping: RecordMapping | None = None
        self._xpaths: dict[str, XPathEvaluator] = {}
        self._jmespaths: dict[str, Getter] = {}
        expressions = {"record": config.get.record, "not_found": config.get.not_found_when}
        if config.search is not None:
            expressions |= {"items": config.search.items, "total": config.search.total}
        try:
            if self._zeep:
                self._zeep_mapping = RecordMapping(
                    config.fields,
                    config.value_maps,
                    timestamp_fields=stamps,
                    naive_timezone=config.naive_datetime_timezone,
                    conversions=converters,
                )
                self._jmespaths = {k: compile_expression(v) for k, v in expressions.items() if v is not None}
            else:
                namespaces = xpath_namespaces(config.namespaces)
                self._xpath_mapping = XPathRecordMapping(
                    config.fields,
                    config.value_maps,
                    namespaces,
                    timestamp_fields=stamps,
                    naive_timezone=config.naive_datetime_timezone,
                    conversions=converters,
                )
                self._xpaths = {k: compile_xpath(v, namespaces) for k, v in expressions.items() if v is not None}
        except ValueError as exc:
            raise self.config_error(str(exc)) from None
        self._not_found = frozenset(config.not_found_faults)
        self._client = SoapClient(config, label=self.slug)
        self._sampler = SoapSampler(self, config.sample) if config.sample is not None else None

    def _check_mapping(self) -> None:
        config, contract = self.config, self.contract
        if contract.record_key not in config.fields:
            raise self.config_error(f"the field mapping lacks the record key {contract.record_key!r}")
        unknown = [path for path in config.fields if not has_field_path(contract, path)]
        if unknown:
            raise self.config_error(f"fields not in {contract.contract_id()}: {', '.join(sorted(unknown))}")
        if config.search is not None and self.query_model is not None:
            unknown = [name for name in config.search.filters if name not in self.query_model.model_fields]
            if unknown:
                raise self.config_error(f"search filters not in the query model: {', '.join(sorted(unknown))}")
        problems = check_conversions(contract, config.conversions, config.fields, config.value_maps)
        if problems:
            raise self.config_error("; ".join(problems))

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
        if self._zeep:
            assert self._zeep_mapping is not None
            return raw_data(self._zeep_mapping.to_data, item) if isinstance(item, dict) else {}
        assert self._xpath_mapping is not None
        return raw_data(self._xpath_mapping.to_data, item)

    def _to_record(self, item: Any, record_id: str | None = None) -> Contract:
        data: Mapping[str, Any]
        try:
            if self._zeep:
                assert self._zeep_mapping is not None
                if not isinstance(item, dict):
                    raise self.violation(["(record): not an object"], record_id=record_id)
                data = self._zeep_mapping.to_data(item)
            else:
                assert self._xpath_mapping is not None
                data = self._xpath_mapping.to_data(item)
        except ConversionFailed as exc:
            raise self.violation(exc.errors, record_id=record_id or self.key_in(exc.data)) from None
        return self.to_record(data, record_id=record_id)

    def _to_stored(self, path: str, value: Any) -> Any:
        mapping = self._zeep_mapping if self._zeep else self._xpath_mapping
        assert mapping is not None
        return mapping.to_stored(path, value)

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
        if record.record_id() != record_id:
            raise ContractViolation(
                f"record from {self.slug!r} is not the one asked for",
                record_id=record_id,
                errors=[f"{self.contract.record_key}: not the requested key"],
            )
        return record

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
            _set(arguments, operation.filters[name], str(self._to_stored(name, value)))
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
        if isinstance(total, str) and total.strip().isdigit():
            total = int(total.strip())
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
            return total
        raise UpstreamError(f"{self.slug}: the service's total is not a number", reason="protocol")
