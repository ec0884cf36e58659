"""The request context of the connector SDK: current only inside its block, inherited by tasks, read-only, and
forwarded as headers only when set and header-safe."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from pydantic import ValidationError

from connectors.context import (
    DEFAULT_CONTEXT_HEADERS,
    ContextForwarding,
    RequestContext,
    current_context,
    forwarded_headers,
    new_traceparent,
    parse_traceparent,
    use_context,
)


def test_the_context_is_current_inside_its_block_only_and_tasks_inherit_it() -> None:
    context = RequestContext(request_id="req-1", purpose="1.001234")

    async def inner() -> RequestContext | None:
        return current_context()

    async def run() -> tuple[RequestContext | None, RequestContext | None]:
        with use_context(context):
            seen = await asyncio.create_task(inner())
        return seen, current_context()

    assert current_context() is None
    seen, after = asyncio.run(run())
    assert seen is context
    assert after is None


def test_the_context_is_read_only() -> None:
    context = RequestContext(actor="canbo-01")
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.actor = "someone else"  # type: ignore[misc]
    assert context.with_values(actor="canbo-02").actor == "canbo-02"
    assert context.actor == "canbo-01"


def test_traceparent_is_parsed_strictly() -> None:
    made = new_traceparent()
    parsed = parse_traceparent(made)
    assert parsed is not None and len(parsed[0]) == 32 and len(parsed[1]) == 16
    same_trace = new_traceparent(parsed[0])
    assert RequestContext(traceparent=same_trace).trace_id == parsed[0]
    assert same_trace != made  # a new span in the same trace
    for bad in ("", "01-" + "a" * 32 + "-" + "b" * 16 + "-01", "00-" + "0" * 32 + "-" + "b" * 16 + "-01", "00-xyz"):
        assert parse_traceparent(bad) is None


def test_forwarded_headers_carry_what_is_set_and_safe() -> None:
    context = RequestContext(
        request_id="req-7",
        agency_code="000.00.00.H41",
        actor="bad\r\nX-Injected: 1",
        deadline=time.monotonic() + 2,
        traceparent=new_traceparent(),
    )
    mapping = {**DEFAULT_CONTEXT_HEADERS, "agency_code": "MaDonVi", "actor": "MaCanBo", "deadline": "X-Timeout-Ms"}
    headers = forwarded_headers(context, mapping)
    assert headers["X-Request-Id"] == "req-7"
    assert headers["MaDonVi"] == "000.00.00.H41"
    assert headers["traceparent"] == context.traceparent
    assert "MaCanBo" not in headers  # control characters: never sent as a header
    assert "tracestate" not in headers  # unset
    assert 0 < int(headers["X-Timeout-Ms"]) <= 2000
    assert forwarded_headers(None, mapping) == {}
    with pytest.raises(KeyError):
        RequestContext().value("password")


def test_context_headers_are_validated() -> None:
    assert ContextForwarding().context_headers == dict(DEFAULT_CONTEXT_HEADERS)
    assert ContextForwarding(context_headers={}).context_headers == {}
    given = ContextForwarding.model_validate({"context_headers": '{"request_id": "X-Req", "purpose": "X-Purpose"}'})
    assert given.context_headers == {"request_id": "X-Req", "purpose": "X-Purpose"}
    for bad in (
        {"request_id": "Authorization"},
        {"request_id": "content-type"},
        {"request_id": "X Req"},
        {"request_id": "X-Id", "actor": "x-id"},
        {"nonsense": "X-Nonsense"},
        "not json",
    ):
        with pytest.raises(ValidationError):
            ContextForwarding.model_validate({"context_headers": bad})


def test_rest_and_soap_configurations_forward_the_context() -> None:
    from connectors.rest import RestConnector
    from connectors.soap import SoapConnector

    for connector in (RestConnector, SoapConnector):
        field = connector.config_model.model_fields["context_headers"]
        assert field.description and field.default_factory is not None
