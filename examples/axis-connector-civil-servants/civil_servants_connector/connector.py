"""The civil_servants connector: reads the provincial database of cadres, civil servants and public employees over
HTTP and hands out ``civil_servants.official`` records."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import httpx
from connectors.base import (
    BadQuery,
    Capability,
    Connector,
    HealthReport,
    HealthState,
    Page,
    RecordNotFound,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from contracts import ContractQuery

from . import mapping
from .config import CivilServantsConfig
from .contract import Official, OfficialQuery

#: A cursor is the offset of the next page, in ASCII digits (never "²" or "٣", which str.isdigit() takes), no
#: larger than the sector system can take: anything else is not one of this connector's cursors.
_CURSOR = re.compile(r"[1-9][0-9]{0,9}")
_MAX_OFFSET = 2**31 - 1


class CivilServantsConnector(Connector[CivilServantsConfig]):
    """Serves ``civil_servants.official`` records by staff code, and searches them by agency and personal id."""

    slug = "civil_servants"
    title = "Provincial civil servants database"
    description = (
        "Cadres, civil servants and public employees of the province (Cơ sở dữ liệu cán bộ, công chức, viên chức), "
        "read from the Department of Home Affairs' HTTP API."
    )
    contract = Official
    query_model = OfficialQuery
    config_model = CivilServantsConfig
    # What it implements beyond get(): the conformance kit checks this against the methods below. Add
    # Capability.SUBMIT with submit(), Capability.SAMPLE with sample() (for data-quality scans).
    capabilities = frozenset({Capability.READ, Capability.SEARCH})

    def __init__(self, config: CivilServantsConfig) -> None:
        super().__init__(config)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # one pooled client for the connector's lifetime
            self._client = httpx.AsyncClient(
                base_url=str(self.config.base_url).rstrip("/"),
                headers={"X-API-Key": self.config.api_key.get_secret_value(), "Accept": "application/json"},
                timeout=self.config.timeout_seconds,
                verify=self.config.verify_tls,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _call(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        deadline = self.config.timeout_seconds
        try:
            async with asyncio.timeout(deadline):
                response = await self._http().get(path, params=params)
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamTimeout(f"{self.title} did not answer within {deadline:g} s") from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"{self.title} cannot be reached ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise UpstreamError(f"{self.title} answered {response.status_code}", reason="status_5xx")
        if response.status_code in (401, 403):
            raise UpstreamError(f"{self.title} refused the gateway's credentials ({response.status_code})")
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise UpstreamError("the sector system answered something that is not JSON") from None

    async def health(self) -> HealthReport:
        response = await self._call(mapping.PING_PATH)
        if response.status_code != 200:
            raise UpstreamError(f"{self.title}'s status check answered {response.status_code}")
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Official:
        response = await self._call(f"{mapping.RECORDS_PATH}/{quote(record_id, safe='')}")
        if response.status_code == 404:
            raise RecordNotFound(f"no such record in {self.title}")  # never quote the key: it may be personal
        if response.status_code != 200:
            raise UpstreamError(f"{self.title} answered {response.status_code}")
        data = self._json(response)
        if not isinstance(data, dict):
            raise UpstreamError("the sector system's record is not a JSON object")
        record = self.to_record(mapping.to_contract(data), record_id=record_id)
        assert isinstance(record, Official)
        return record

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        if not isinstance(query, OfficialQuery):
            raise BadQuery(f"{self.slug} is searched with {OfficialQuery.__name__}")
        if cursor is not None and (not _CURSOR.fullmatch(cursor) or int(cursor) > _MAX_OFFSET):
            raise BadQuery("the cursor is not one of this connector's")
        offset = int(cursor or 0)
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        for field, parameter in mapping.SEARCH_PARAMETERS.items():
            if (value := getattr(query, field)) is not None:
                params[parameter] = value
        response = await self._call(mapping.RECORDS_PATH, params=params)
        if response.status_code != 200:
            raise UpstreamError(f"{self.title} answered {response.status_code} to a search")
        body = self._json(response)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("items"), list)
            or not isinstance(body.get("total"), int)
        ):
            raise UpstreamError("the sector system's search answer lacks items or total")
        # A record that breaks the contract does not fail the page: it is left out and reported in `skipped`.
        items, skipped = self.valid_records(body["items"], lambda item: self.to_record(mapping.to_contract(item)))
        following = offset + len(body["items"])
        more = bool(body["items"]) and following < body["total"]
        return Page(items=items, next_cursor=str(following) if more else None, skipped=skipped)
