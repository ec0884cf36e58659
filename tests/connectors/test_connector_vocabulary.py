"""The SDK's optional operations: ``submit`` and ``changes`` say they are not offered unless a connector does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import (
    Change,
    ChangeKind,
    ChangePage,
    Connector,
    ConnectorConfig,
    OperationKind,
    OperationNotSupported,
    RecordNotFound,
    SubmitOperation,
    SubmitResult,
    SubmitStatus,
)
from contracts import Contract
from contracts.population import Citizen

pytestmark = pytest.mark.anyio

EXAMPLE = Citizen.model_validate(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


class ReadOnly(Connector[ConnectorConfig]):
    slug = "read_only"
    title = "Reads only"
    contract = Citizen
    config_model = ConnectorConfig

    async def ping(self) -> None:
        return None

    async def get(self, record_id: str) -> Contract:
        if record_id == EXAMPLE.record_id():
            return EXAMPLE
        raise RecordNotFound("no such record")


class Writable(ReadOnly):
    """Keeps submissions by idempotency key, and lists them as a change feed."""

    slug = "writable"

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(config)
        self.applied: dict[str, SubmitResult] = {}
        self.log: list[Change] = []

    async def submit(self, operation: SubmitOperation) -> SubmitResult:
        if operation.idempotency_key in self.applied:
            first = self.applied[operation.idempotency_key]
            return SubmitResult(SubmitStatus.DUPLICATE, first.reference)
        result = SubmitResult(SubmitStatus.APPLIED, f"R{len(self.applied) + 1}")
        self.applied[operation.idempotency_key] = result
        record = Citizen.model_validate(operation.fields)
        self.log.append(Change(operation.record_id, record=record, changed_at=datetime.now(UTC)))
        return result

    async def changes(self, since: str | None, *, limit: int) -> ChangePage:
        start = int(since or 0)
        chunk = self.log[start : start + limit]
        return ChangePage(chunk, cursor=str(start + len(chunk)), more=start + len(chunk) < len(self.log))


CREATE = SubmitOperation(
    OperationKind.CREATE, EXAMPLE.record_id(), idempotency_key="k1", fields=EXAMPLE.model_dump(mode="json")
)


async def test_operations_not_offered_say_so() -> None:
    connector = ReadOnly.from_config({})
    with pytest.raises(OperationNotSupported) as submitted:
        await connector.submit(CREATE)
    with pytest.raises(OperationNotSupported) as fed:
        await connector.changes(None, limit=10)
    with pytest.raises(OperationNotSupported):
        await connector.search(Any, limit=10)  # type: ignore[arg-type]
    assert "read_only" in submitted.value.message and "read_only" in fed.value.message
    assert not connector.accepts_submissions


async def test_a_connector_that_offers_them() -> None:
    connector = Writable.from_config({})
    assert connector.accepts_submissions
    first = await connector.submit(CREATE)
    again = await connector.submit(CREATE)
    other = await connector.submit(replace(CREATE, idempotency_key="k2"))
    assert (first.status, again.status, other.status) == (SubmitStatus.APPLIED, SubmitStatus.DUPLICATE, "applied")
    assert again.reference == first.reference != other.reference
    page = await connector.changes(None, limit=1)
    assert [c.record_id for c in page.changes] == [EXAMPLE.record_id()] and page.more
    rest = await connector.changes(page.cursor, limit=10)
    assert len(rest.changes) == 1 and not rest.more
    assert rest.changes[0].kind is ChangeKind.UPSERT and rest.changes[0].record == EXAMPLE
    empty = await connector.changes(rest.cursor, limit=10)
    assert empty.changes == [] and empty.cursor == rest.cursor  # a reader can store the cursor and poll later
