"""The generic REST connector: a JSON sector API, read through one pooled HTTP client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import orjson

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
from connectors.http import json_body
from connectors.mapped import MappedConnector
from connectors.record_mapping import Getter, RecordMapping, answer_expression
from contracts import Contract, ContractQuery

from .auth import make_authenticator
from .client import Answer, UpstreamClient
from .config import RECORD_ID, RestConnectorConfig
from .pagination import Paginator, Position, make_paginator
from .platform import RestPlatform
from .sampling import RestSampler


class RestConnector(MappedConnector[RestConnectorConfig, RecordMapping]):
    """Serves a contract from a REST/JSON sector API, configured without code.

    ``get`` fills the record endpoint's path template with the (percent-encoded) key; ``search`` sends the
    query's fields as the configured parameters and walks the API's pages behind opaque cursors. Answers are
    mapped with JMESPath and validated against the contract. Calls share one pooled client; each runs under its
    deadline, idempotent ones retried on transient failures. Dedicated connectors subclass it and fix
    ``contract``, ``query_model`` and defaults in their config model.
    """

    slug = "rest"
    title = "Generic REST API"
    description = "Any JSON-over-HTTP sector API, mapped field by field with JMESPath."
    config_model = RestConnectorConfig
    capabilities = frozenset({Capability.READ, Capability.SEARCH, Capability.SAMPLE})

    def __init__(self, config: RestConnectorConfig) -> None:
        super().__init__(config)
        self._record = answer_expression(config.get.record)
        self._not_found = answer_expression(config.get.not_found_when) if config.get.not_found_when else None
        self._get_error = answer_expression(config.get.error_when) if config.get.error_when else None
        self._paginator: Paginator | None = None
        self._items: Getter | None = None
        self._search_error: Getter | None = None
        if config.search is not None:
            self._paginator = make_paginator(config.search, config.base_url, self.slug)
            self._items = answer_expression(config.search.items)
            if config.search.error_when:
                self._search_error = answer_expression(config.search.error_when)
        authenticator = make_authenticator(config.auth, label=self.slug)
        # -- axis profile: the platform's authentication, metadata and envelope (connectors/rest/platform.py) --
        self._platform = RestPlatform(config.axis, label=self.slug) if config.axis is not None else None
        if self._platform is not None:
            authenticator = self._platform.authenticator(authenticator)
        # -- end of axis profile --
        self._client = UpstreamClient(config, authenticator, label=self.slug, envelope=self._platform)
        self._sampler = RestSampler(self, config.sample) if config.sample is not None else None

    def make_mapping(self) -> RecordMapping:
        """JMESPath per field (:class:`connectors.record_mapping.RecordMapping`)."""
        return RecordMapping(self.config.fields, self.config.value_maps, **self.mapping_options())

    async def start(self) -> None:
        """Create the pooled client (connections open on demand: a sector API that is down blocks nothing)."""
        self._client.open()

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._client.close()

    def _timeout(self, endpoint_timeout: float | None) -> float:
        return endpoint_timeout if endpoint_timeout is not None else self.config.timeout_seconds

    def _json(self, answer: Answer) -> Any:
        try:
            return json_body(answer.content)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"{self.slug}: the sector system's answer is not JSON", reason="protocol") from None

    async def health(self) -> HealthReport:
        """Call the health endpoint; any status but the expected ones is a failure (through a platform, any result
        code but a success too)."""
        ping, platform = self.config.ping, self._platform
        if platform is None:
            await self._client.call(
                "GET",
                ping.path,
                params=ping.params,
                seconds=self._timeout(ping.timeout_seconds),
                accept=ping.expect_status,
            )
            return HealthReport(HealthState.UP)
        answer = await self._client.call(
            "GET",
            ping.path,
            params=platform.params(ping.params),
            seconds=self._timeout(ping.timeout_seconds),
            accept=ping.expect_status,
        )
        try:
            platform.unwrap(answer, ping.expect_status, require_json=False)
        except RecordNotFound:
            # The platform's "not found" is the sector system's 404: up if the probe expects one.
            if 404 not in ping.expect_status:
                raise UpstreamError(f"{self.slug}: the health endpoint was not found", reason="protocol") from None
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Contract:
        """Read the record ``record_id`` from the record endpoint and return it validated."""
        endpoint = self.config.get
        if record_id in {"", ".", ".."}:
            raise RecordNotFound(f"no {self.slug} record with that key")
        path = endpoint.path.replace(RECORD_ID, quote(record_id, safe=""))
        platform = self._platform
        answer = await self._client.call(
            "GET",
            path,
            params=platform.params(endpoint.params) if platform else endpoint.params,
            seconds=self._timeout(endpoint.timeout_seconds),
            accept=(200, 404),
        )
        # Through a platform, the envelope's verdict first (a 404 without one needs no JSON body).
        body = platform.unwrap(answer, (200, 404), require_json=answer.status == 200) if platform else None
        if answer.status == 404:
            raise RecordNotFound(f"no {self.slug} record with that key")
        if platform is None:
            body = self._json(answer)
        if self._not_found is not None and self._not_found(body):
            raise RecordNotFound(f"no {self.slug} record with that key")
        if self._get_error is not None and self._get_error(body):
            raise UpstreamError(f"{self.slug}: the sector system reported an error", reason="protocol")
        record = self._to_record(self._record(body), record_id)
        return self.asked_for(record, record_id)

    def _to_record(self, item: Any, record_id: str | None = None) -> Contract:
        if not isinstance(item, dict):
            raise ContractViolation(
                f"record from {self.slug!r} violates {self.contract.contract_id()}",
                record_id=record_id,
                errors=["(record): not a JSON object"],
            )
        try:
            data = self.mapping.to_data(item)
        except ConversionFailed as exc:
            raise self.violation(exc.errors, record_id=record_id or self.key_in(exc.data)) from None
        return self.to_record(data, record_id=record_id)

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        """Return records matching ``query`` in the API's order; the cursor is where the walk stands."""
        endpoint, paginator = self.config.search, self._paginator
        if endpoint is None or paginator is None or self.query_model is None:
            raise OperationNotSupported(f"connector {self.slug!r} does not support search")
        if not isinstance(query, self.query_model):
            raise BadQuery(f"{self.slug}: expected a {self.query_model.__name__}")
        values = query.model_dump(mode="json", exclude_none=True)
        unsupported = sorted(set(values) - set(endpoint.filters))
        if unsupported:
            raise BadQuery(f"{self.slug}: searching by {', '.join(map(repr, unsupported))} is not supported")
        filters = {endpoint.filters[name]: str(self.mapping.to_stored(name, value)) for name, value in values.items()}
        position = paginator.decode(cursor) if cursor is not None else paginator.first(limit)
        request = paginator.request(position, filters)
        answer, body = await self._search_call(endpoint.method, request.url, request.params, endpoint.timeout_seconds)
        if self._search_error is not None and self._search_error(body):
            raise UpstreamError(f"{self.slug}: the sector system reported an error", reason="protocol")
        items = self._items(body) if self._items is not None else None
        if items is None:
            items = []
        elif not isinstance(items, list):
            raise ContractViolation(
                f"answer from {self.slug!r} violates {self.contract.contract_id()}", errors=["(items): not a list"]
            )
        page = paginator.usable(position, items)
        window = page[position.skip : position.skip + limit]
        following: Position | None
        if position.skip + limit < len(page):
            following = replace(position, skip=position.skip + limit)
        else:
            following = paginator.following(position, len(items), body, answer)
        records, skipped = self.valid_records(window, self._to_record)  # a bad record does not fail its page
        next_cursor = paginator.encode(following) if following is not None else None
        return Page(items=records, next_cursor=next_cursor, skipped=skipped)

    def offers(self, capability: Capability) -> bool:
        """As :meth:`Connector.offers`, with samples only when the configuration declares the listing to sample
        (``sample``): without it, data-quality scans skip the database rather than fail on it."""
        if capability is Capability.SAMPLE and self._sampler is None:
            return False
        return super().offers(capability)

    async def sample(self, limit: int) -> Sequence[dict[str, Any]]:
        """Records picked at random from the listing ``sample`` declares (bounded, rate-limited; see
        :mod:`connectors.rest.sampling`), mapped but not validated."""
        if self._sampler is None:
            raise OperationNotSupported(f"connector {self.slug!r} cannot sample its records")
        return await self._sampler.sample(limit)

    async def _search_call(
        self, method: str, url: str, params: dict[str, str], timeout_seconds: float | None
    ) -> tuple[Answer, Any]:
        """Send one search request (parameters in the query of a GET, the JSON body of a POST): the answer and its
        body (through a platform, the envelope's payload)."""
        seconds = self._timeout(timeout_seconds)
        platform = self._platform
        if platform is None:
            if method == "GET":
                answer = await self._client.call("GET", url, params=params, seconds=seconds)
            else:
                answer = await self._client.call("POST", url, json=params, seconds=seconds)
            return answer, self._json(answer)
        if method == "GET":
            answer = await self._client.call("GET", url, params=platform.params(params), seconds=seconds)
        else:
            answer = await self._client.call("POST", url, json=platform.body(params), seconds=seconds)
        return answer, platform.unwrap(answer, (200,))
