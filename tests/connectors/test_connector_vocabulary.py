"""The SDK's optional operations: ``submit`` and ``search`` say they are not offered unless a connector does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from connectors.base import (
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
    """Keeps submissions by idempotency key."""

    slug = "writable"

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(config)
        self.applied: dict[str, SubmitResult] = {}

    async def submit(self, operation: SubmitOperation) -> SubmitResult:
        if operation.idempotency_key in self.applied:
            first = self.applied[operation.idempotency_key]
            return SubmitResult(SubmitStatus.DUPLICATE, first.reference)
        result = SubmitResult(SubmitStatus.APPLIED, f"R{len(self.applied) + 1}")
        self.applied[operation.idempotency_key] = result
        return result


CREATE = SubmitOperation(
    OperationKind.CREATE, EXAMPLE.record_id(), idempotency_key="k1", fields=EXAMPLE.model_dump(mode="json")
)


async def test_operations_not_offered_say_so() -> None:
    connector = ReadOnly.from_config({})
    with pytest.raises(OperationNotSupported) as submitted:
        await connector.submit(CREATE)
    with pytest.raises(OperationNotSupported) as searched:
        await connector.search(Any, limit=10)  # type: ignore[arg-type]
    assert "read_only" in submitted.value.message and "read_only" in searched.value.message
    assert not connector.accepts_submissions


async def test_a_connector_that_offers_them() -> None:
    connector = Writable.from_config({})
    assert connector.accepts_submissions
    first = await connector.submit(CREATE)
    again = await connector.submit(CREATE)
    other = await connector.submit(replace(CREATE, idempotency_key="k2"))
    assert (first.status, again.status, other.status) == (SubmitStatus.APPLIED, SubmitStatus.DUPLICATE, "applied")
    assert again.reference == first.reference != other.reference
