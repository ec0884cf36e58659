"""The request context as the gateway builds it: spans in the caller's W3C trace (or a new one, or OpenTelemetry's),
the context current only for the duration of a connector call and bound in the logs meanwhile, the gateway's own
context, and a submission's context stored with its operations and restored for their delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support import empty_databases

from connectors.base import (
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorError,
    HealthReport,
    HealthState,
    RecordNotFound,
    SubmitOperation,
    SubmitResult,
    SubmitStatus,
)
from connectors.context import RequestContext, current_context, parse_traceparent
from contracts.population import Citizen
from gateway.core import migrations, telemetry
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.logs import merge_request_fields
from gateway.core.settings import CircuitPolicy, HealthPolicy, Settings
from gateway.core.tracing import RequestTrace, request_trace
from gateway.exchange.dispatcher import Dispatcher
from gateway.exchange.intake import IntakeService
from gateway.exchange.operations import OperationChecker
from gateway.identity.access import Decision
from gateway.records.context import CONTEXT_KEY, connector_call, delivery_context, stored_context, system_context
from gateway.records.registry import ConnectorRegistry, Database, new_circuit

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_a_request_span_continues_the_callers_trace() -> None:
    span = request_trace(f"00-{TRACE}-{PARENT}-01".encode(), b"rojo=00f067aa0ba902b7")
    assert span.trace_id == TRACE and span.span_id != PARENT and len(span.span_id) == 16
    assert span.sampled and span.tracestate == "rojo=00f067aa0ba902b7"
    assert span.traceparent == f"00-{TRACE}-{span.span_id}-01"
    unsampled = request_trace(f"00-{TRACE}-{PARENT}-00".encode(), None)
    assert not unsampled.sampled and unsampled.traceparent.endswith("-00")


@pytest.mark.parametrize(
    "traceparent",
    [None, b"", b"garbage", f"00-{'0' * 32}-{PARENT}-01".encode(), f"00-{TRACE}-{'0' * 16}-01".encode()],
)
def test_without_a_valid_traceparent_a_request_starts_a_new_trace(traceparent: bytes | None) -> None:
    span = request_trace(traceparent, b"rojo=1")
    assert parse_traceparent(span.traceparent) is not None
    assert span.trace_id not in (TRACE, "0" * 32)
    assert span.tracestate is None  # the state of another trace is not carried into a new one
    assert request_trace(traceparent, None).trace_id != span.trace_id


@pytest.mark.parametrize("tracestate", ["x" * 513, "a=1\x00", "a=ü"])
def test_an_unusable_tracestate_is_dropped(tracestate: str) -> None:
    assert RequestTrace.child_of(f"00-{TRACE}-{PARENT}-01", tracestate).tracestate is None


def test_opentelemetrys_span_is_used_when_it_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    active = f"00-{TRACE}-{PARENT}-01"
    monkeypatch.setattr(telemetry, "active_traceparent", lambda: (active, "otel=1"))
    span = request_trace(b"00-11111111111111111111111111111111-2222222222222222-01", None)
    assert (span.trace_id, span.span_id, span.tracestate) == (TRACE, PARENT, "otel=1")
    with connector_call(RequestContext(request_id="r-1")) as call:
        assert call.traceparent == active and call.tracestate == "otel=1"


def test_a_connector_call_is_a_child_span_current_only_for_the_call() -> None:
    parent = RequestTrace(TRACE, PARENT, tracestate="rojo=1")
    context = RequestContext(request_id="req-9", purpose="1.001", traceparent=parent.traceparent, tracestate="rojo=1")
    assert current_context() is None
    with connector_call(context) as call:
        assert current_context() is call
        assert (call.request_id, call.purpose, call.tracestate) == ("req-9", "1.001", "rojo=1")
        assert call.trace_id == TRACE and call.traceparent != parent.traceparent
        bound = merge_request_fields(None, "info", {})  # what a log line written now carries
        assert bound["trace_id"] == TRACE and bound["request_id"] == "req-9"
        assert bound["span_id"] == parse_traceparent(call.traceparent)[1]  # type: ignore[index]
    assert current_context() is None
    assert "span_id" not in merge_request_fields(None, "info", {})
    with connector_call(context) as again:
        assert again.traceparent != call.traceparent  # every call a span of its own


def test_the_gateways_own_context(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(system_purpose="1.000000.000.00.00.H41")
    first = system_context(settings, deadline_seconds=5)
    second = system_context(settings)
    assert first.request_id and first.request_id != second.request_id
    assert first.purpose == "1.000000.000.00.00.H41" and first.client_id is None and first.actor is None
    assert first.trace_id and first.trace_id != second.trace_id
    assert first.deadline is not None and 4 < first.deadline - time.monotonic() <= 5
    assert second.deadline is None
    assert system_context(make_settings()).purpose is None


def test_a_submissions_context_is_stored_without_its_deadline_and_restored() -> None:
    context = RequestContext(
        request_id="req-1",
        client_id="agency-a",
        agency_code="000.00.00.H41",
        purpose="1.001",
        actor="CB-1",
        deadline=time.monotonic() + 30,
        traceparent=f"00-{TRACE}-{PARENT}-01",
    )
    stored = stored_context(context)
    assert stored == {
        "request_id": "req-1",
        "client_id": "agency-a",
        "agency_code": "000.00.00.H41",
        "purpose": "1.001",
        "actor": "CB-1",
        "traceparent": f"00-{TRACE}-{PARENT}-01",
    }
    restored = delivery_context({**stored, "unknown": "x"}, deadline_seconds=10)
    assert restored.with_values(deadline=None) == context.with_values(deadline=None)
    assert restored.deadline is not None and 9 < restored.deadline - time.monotonic() <= 10
    assert stored_context(None) == {}


# -- delivery by the dispatcher ---------------------------------------------------------------------------------


class RecordingConfig(ConnectorConfig):
    """Nothing to configure."""


class RecordingConnector(Connector[RecordingConfig]):
    """Takes every submission, noting the context and the operations of each call."""

    slug = "recording"
    title = "Recording"
    contract = Citizen
    config_model = RecordingConfig
    capabilities = frozenset({Capability.READ, Capability.SUBMIT})

    def __init__(self, config: RecordingConfig) -> None:
        super().__init__(config)
        self.calls: list[tuple[RequestContext, list[SubmitOperation]]] = []

    async def health(self) -> HealthReport:
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Citizen:
        raise RecordNotFound("nothing here")

    async def submit(self, operation: SubmitOperation) -> SubmitResult:
        return SubmitResult(SubmitStatus.APPLIED)

    async def submit_many(self, operations: Sequence[SubmitOperation]) -> list[SubmitResult | ConnectorError]:
        self.calls.append((self.context, list(operations)))
        return [SubmitResult(SubmitStatus.APPLIED) for _ in operations]


@pytest.fixture
def gateway_url(tmp_path: Path) -> Iterator[str]:
    with empty_databases(tmp_path, "ctxgateway") as (url,):
        migrations.upgrade(url)
        yield url


def _delete(record_id: str) -> dict[str, Any]:
    return {"op": "delete", "record_id": record_id, "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"}}


def test_each_delivery_carries_its_submissions_context(
    gateway_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=gateway_url, exchange_delivery_batch=100)
    connector = RecordingConnector(RecordingConfig())
    registry = ConnectorRegistry()
    registry.databases["population"] = Database(
        "population", connector, HealthPolicy(), new_circuit("population", CircuitPolicy())
    )

    async def run() -> None:
        engine = create_engine(gateway_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            service = IntakeService(sessionmaker, "population", OperationChecker(Citizen), settings)
            for n, (client, actor) in enumerate([("agency-a", "CB-1"), ("agency-b", "CB-2")]):
                decision = Decision(client, "population", "submit", f"1.00{n}", actor, None, (1,), may_delete=True)
                context = RequestContext(
                    request_id=f"req-{n}",
                    client_id=client,
                    agency_code=f"000.00.0{n}.H41",
                    purpose=f"1.00{n}",
                    actor=actor,
                    traceparent=f"00-{TRACE[:-1]}{n}-{PARENT}-01",
                )
                records = [f"06818500{n}{i:03d}" for i in range(3)]
                await service.submit(
                    [_delete(r) for r in records], decision=decision, idempotency_key=f"k-{n}", context=context
                )
            # Stored before the context was: the client, purpose and actor of its receipt.
            legacy = Decision("agency-c", "population", "submit", "1.009", "CB-9", None, (1,), may_delete=True)
            await service.submit([_delete("068185009000")], decision=legacy, idempotency_key="k-legacy")
            dispatcher = Dispatcher(settings=settings, sessionmaker=sessionmaker, registry=registry)
            assert await dispatcher.run_once() == 7
        finally:
            await engine.dispose()

    asyncio.run(run())
    assert len(connector.calls) == 3  # one call per submission, though one batch could hold them all
    by_request = {context.request_id: (context, operations) for context, operations in connector.calls}
    for n, (client, actor) in enumerate([("agency-a", "CB-1"), ("agency-b", "CB-2")]):
        context, operations = by_request[f"req-{n}"]
        assert (context.client_id, context.agency_code, context.purpose, context.actor) == (
            client,
            f"000.00.0{n}.H41",
            f"1.00{n}",
            actor,
        )
        assert context.trace_id == f"{TRACE[:-1]}{n}"
        assert parse_traceparent(context.traceparent)[1] != PARENT  # type: ignore[index]
        assert (
            context.deadline is not None and 0 < context.deadline - time.monotonic() <= settings.exchange_claim_seconds
        )
        assert sorted(op.record_id for op in operations) == [f"06818500{n}{i:03d}" for i in range(3)]
        assert all(CONTEXT_KEY not in op.metadata for op in operations)
    legacy_context, _ = by_request[None]
    assert (legacy_context.client_id, legacy_context.purpose, legacy_context.actor) == ("agency-c", "1.009", "CB-9")
    assert current_context() is None
