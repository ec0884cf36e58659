"""The request context over real sockets: a caller's request id, trace, purpose and actor, and its client's agency
code, travel through a live gateway to the sector systems behind it (a REST API, a SOAP service, and a system
that takes submissions, delivered later by the dispatcher), each a real server on 127.0.0.1 recording what it
receives. The gateway's own calls (health checks, the readiness probe) carry a context of their own."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from judicial_records_fixtures import citizens, planted_requests
from support import STATED, ClientCredentials, LiveServer, fetch_token, install_distribution, postgres_database

from connectors.context import parse_traceparent
from connectors.sql.urls import to_async_url
from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.http import Misbehaving, MisbehaviourSwitch, RequestLog, SimulatorServer
from simulators.judicial_records_soap import JudicialRecordsService, judicial_records_config
from simulators.population_api import PopulationApi, rest_connector_config

AGENCY = "000.00.00.H41"
SYSTEM_PURPOSE = "1.000000.000.00.00.H41"
EVERY_FIELD = {
    "request_id": "X-Request-Id",
    "traceparent": "traceparent",
    "tracestate": "tracestate",
    "client_id": "X-Client-Id",
    "agency_code": "X-Agency-Code",
    "purpose": "X-Purpose",
    "actor": "X-Actor-Id",
    "deadline": "X-Deadline-Ms",
}
PLUGIN_MODULE = "ctx_ledger_connector_for_tests"
PLUGIN_SOURCE = '''
"""A sector system that takes submissions over HTTP, as an agency's own connector would reach it."""

import httpx
from pydantic import Field

from connectors.base import Capability, Connector, ConnectorConfig, HealthReport, HealthState, RecordNotFound
from connectors.base import SubmitResult, SubmitStatus, UpstreamError
from connectors.context import ContextForwarding, forwarded_headers
from contracts.population import Citizen


class LedgerConfig(ConnectorConfig, ContextForwarding):
    base_url: str = Field(description="The ledger API.")


class LedgerConnector(Connector[LedgerConfig]):
    slug = "ctx_ledger"
    title = "Ledger"
    contract = Citizen
    config_model = LedgerConfig
    capabilities = frozenset({Capability.READ, Capability.SUBMIT})

    async def _send(self, method, path, body=None):
        headers = forwarded_headers(self.context, self.config.context_headers)
        async with httpx.AsyncClient(base_url=self.config.base_url, timeout=self.config.timeout_seconds) as http:
            answer = await http.request(method, path, json=body, headers=headers)
        if answer.status_code >= 300:
            raise UpstreamError(f"ledger: HTTP {answer.status_code}", reason="status_5xx")
        return answer

    async def health(self):
        await self._send("GET", "/api/ledger")
        return HealthReport(HealthState.UP)

    async def get(self, record_id):
        raise RecordNotFound("the ledger keeps no records")

    async def submit(self, operation):
        body = {"record_id": operation.record_id, "key": operation.idempotency_key, "meta": dict(operation.metadata)}
        answer = await self._send("POST", "/api/ledger", body)
        return SubmitResult(SubmitStatus.APPLIED, answer.json()["reference"])
'''


class Ledger:
    """The simulated system behind the ledger connector: takes any submission, records every request."""

    def __init__(self) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        self.bodies: list[dict[str, Any]] = []

        async def status(_request: Request) -> JSONResponse:
            return JSONResponse({"ok": True})

        async def take(request: Request) -> JSONResponse:
            self.bodies.append(await request.json())
            return JSONResponse({"reference": f"L-{len(self.bodies)}"}, status_code=201)

        routes = [Route("/api/ledger", status, methods=["GET"]), Route("/api/ledger", take, methods=["POST"])]
        self.middleware = Misbehaving(Starlette(routes=routes), MisbehaviourSwitch())
        self.app = self.middleware


@pytest.fixture(scope="module")
def ledger_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The ledger connector, installed as a distribution with a ``gateway.connectors`` entry point."""
    root = tmp_path_factory.mktemp("ledger-plugin")
    entry_points = f"[gateway.connectors]\nctx_ledger = {PLUGIN_MODULE}:LedgerConnector\n"
    modules = {PLUGIN_MODULE: textwrap.dedent(PLUGIN_SOURCE)}
    install_distribution(root, "ctx-ledger-connector", entry_points, modules=modules)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        yield
    sys.modules.pop(PLUGIN_MODULE, None)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, SimulatorServer]]:
    """The REST population API, the judicial records SOAP service and the ledger, on 127.0.0.1."""
    rows, _ = planted_requests()
    with (
        SimulatorServer(PopulationApi([dict(row) for row in citizens()])) as rest,
        SimulatorServer(JudicialRecordsService(rows)) as soap,
        SimulatorServer(Ledger()) as ledger,
    ):
        yield {"rest": rest, "soap": soap, "ledger": ledger}


def received(server: SimulatorServer) -> RequestLog:
    return server.api.middleware.received


@pytest.fixture(scope="module")
def module_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway database of this module's own: its gateway holds the health checks' lease (on the suite's shared
    database another gateway may hold it, and this one would check nothing)."""
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwcontext") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('context-db') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def gateway(
    make_settings: Callable[..., Settings],
    upstreams: dict[str, SimulatorServer],
    ledger_plugin: None,
    module_database: str,
) -> Iterator[LiveServer]:
    fast_checks = {"interval_seconds": 0.2, "timeout_seconds": 5}
    settings = make_settings(
        database_url=module_database,
        connectors={
            "population": {
                "connector": "rest",
                "config": rest_connector_config(upstreams["rest"].url, context_headers=EVERY_FIELD),
                "health": fast_checks,
            },
            "judicial_records": {
                "config": judicial_records_config(upstreams["soap"].url, context_headers=EVERY_FIELD),
                "health": fast_checks,
            },
            "ledger": {
                "connector": "ctx_ledger",
                "config": {"base_url": upstreams["ledger"].url, "context_headers": EVERY_FIELD},
            },
        },
        system_purpose=SYSTEM_PURPOSE,
        exchange_poll_seconds=0.05,
        log_format="json",
        log_level="INFO",
        access_log=True,
    )
    with LiveServer(create_app(settings)) as server:
        yield server


@pytest.fixture(scope="module")
def http(gateway: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def caller(module_database: str, gateway: LiveServer) -> ClientCredentials:
    """A client of the agency ``AGENCY`` allowed to read and search both databases and to submit to the ledger."""

    async def run() -> ClientCredentials:
        async with standalone_session(module_database) as session:
            client, secret = await create_client(
                session,
                name="Context test",
                client_id=f"ctx-{uuid.uuid4().hex[:8]}",
                agency_code=AGENCY,
                scopes=[
                    "population:read",
                    "population:search",
                    "judicial_records:read",
                    "ledger:read",
                    "ledger:submit",
                ],
            )
            return ClientCredentials(client.client_id, secret)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def headers(http: httpx.Client, caller: ClientCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(http, caller)}", **STATED}


def caller_trace() -> tuple[str, str, str]:
    """A caller's ``traceparent``, its trace id and its span id."""
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def arrived(log: RequestLog, request_id: str, timeout: float = 0.0) -> list[Mapping[str, str]]:
    """The headers of the requests that reached a system with ``request_id`` (waiting up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [headers for headers in log.headers() if headers.get("x-request-id") == request_id]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def assert_carries_the_call(
    headers: Mapping[str, str], *, request_id: str, trace_id: str, caller_span: str, client_id: str
) -> None:
    assert headers["x-request-id"] == request_id
    parsed = parse_traceparent(headers["traceparent"])
    assert parsed is not None, headers["traceparent"]
    assert parsed[0] == trace_id, "the call is not in the caller's trace"
    assert parsed[1] != caller_span, "the call is not a span of its own"
    assert parsed[2] == "01"
    assert headers["tracestate"] == "vendor=opaque"
    assert headers["x-purpose"] == STATED["X-Purpose"]
    assert headers["x-actor-id"] == STATED["X-Actor-Id"]
    assert headers["x-agency-code"] == AGENCY
    assert headers["x-client-id"] == client_id
    assert 0 < int(headers["x-deadline-ms"]) <= 30_000  # the gateway's request deadline


def test_a_read_and_a_search_carry_the_callers_context_to_a_rest_api(
    http: httpx.Client, headers: dict[str, str], caller: ClientCredentials, upstreams: dict[str, SimulatorServer]
) -> None:
    person = citizens()[3]["so_dinh_danh"]
    traceparent, trace_id, caller_span = caller_trace()
    request_id = f"req-{uuid.uuid4().hex}"
    context_headers = {"X-Request-Id": request_id, "traceparent": traceparent, "tracestate": "vendor=opaque"}
    answer = http.get(f"/v1/databases/population/records/{person}", headers={**headers, **context_headers})
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Request-Id"] == request_id
    (upstream,) = arrived(received(upstreams["rest"]), request_id)
    assert_carries_the_call(
        upstream, request_id=request_id, trace_id=trace_id, caller_span=caller_span, client_id=caller.client_id
    )

    search_id = f"req-{uuid.uuid4().hex}"
    answer = http.post(
        "/v1/databases/population/search",
        json={"full_name": citizens()[3]["ho_ten"], "date_of_birth": citizens()[3]["ngay_sinh"][:4]},
        headers={**headers, **context_headers, "X-Request-Id": search_id},
    )
    assert answer.status_code == 200, answer.text
    (searched,) = arrived(received(upstreams["rest"]), search_id)
    assert_carries_the_call(
        searched, request_id=search_id, trace_id=trace_id, caller_span=caller_span, client_id=caller.client_id
    )
    assert searched["traceparent"] != upstream["traceparent"]  # each call a span of its own


def test_a_read_carries_the_callers_context_to_a_soap_service(
    http: httpx.Client, headers: dict[str, str], caller: ClientCredentials, upstreams: dict[str, SimulatorServer]
) -> None:
    rows, _ = planted_requests()
    traceparent, trace_id, caller_span = caller_trace()
    request_id = f"req-{uuid.uuid4().hex}"
    answer = http.get(
        f"/v1/databases/judicial_records/records/{rows[0]['so_ho_so']}",
        headers={**headers, "X-Request-Id": request_id, "traceparent": traceparent, "tracestate": "vendor=opaque"},
    )
    assert answer.status_code == 200, answer.text
    (upstream,) = arrived(received(upstreams["soap"]), request_id)
    assert_carries_the_call(
        upstream, request_id=request_id, trace_id=trace_id, caller_span=caller_span, client_id=caller.client_id
    )


def test_without_a_valid_traceparent_each_request_starts_a_trace_of_its_own(
    http: httpx.Client, headers: dict[str, str], upstreams: dict[str, SimulatorServer]
) -> None:
    person = citizens()[4]["so_dinh_danh"]
    traces = []
    for sent in ({}, {"traceparent": "00-not-a-trace-01", "tracestate": "vendor=dropped"}, {}):
        request_id = f"req-{uuid.uuid4().hex}"
        answer = http.get(
            f"/v1/databases/population/records/{person}", headers={**headers, **sent, "X-Request-Id": request_id}
        )
        assert answer.status_code == 200, answer.text
        (upstream,) = arrived(received(upstreams["rest"]), request_id)
        parsed = parse_traceparent(upstream["traceparent"])
        assert parsed is not None
        assert "tracestate" not in upstream  # a tracestate without its trace is not passed on
        traces.append(parsed[0])
    assert len(set(traces)) == 3


def test_a_submission_is_delivered_with_the_submitters_context(
    http: httpx.Client, headers: dict[str, str], caller: ClientCredentials, upstreams: dict[str, SimulatorServer]
) -> None:
    traceparent, trace_id, caller_span = caller_trace()
    request_id = f"sub-{uuid.uuid4().hex}"
    record_id = "068185900001"
    operation = {"op": "delete", "record_id": record_id, "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"}}
    answer = http.post(
        "/v1/databases/ledger/records",
        json={"operations": [operation]},
        headers={
            **headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "X-Request-Id": request_id,
            "traceparent": traceparent,
            "tracestate": "vendor=opaque",
        },
    )
    assert answer.status_code == 202, answer.text
    # Delivered later, by the dispatcher, outside any request: with the submission's context all the same.
    delivered = [h for h in arrived(received(upstreams["ledger"]), request_id, timeout=20) if "content-type" in h]
    assert len(delivered) == 1
    upstream = delivered[0]
    assert upstream["x-request-id"] == request_id
    parsed = parse_traceparent(upstream["traceparent"])
    assert parsed is not None and parsed[0] == trace_id and parsed[1] != caller_span
    assert upstream["tracestate"] == "vendor=opaque"
    assert upstream["x-purpose"] == STATED["X-Purpose"]
    assert upstream["x-actor-id"] == STATED["X-Actor-Id"]
    assert upstream["x-agency-code"] == AGENCY
    assert upstream["x-client-id"] == caller.client_id
    assert 0 < int(upstream["x-deadline-ms"]) <= 60_000  # the dispatcher's claim
    # The context is not passed on as the operation's metadata.
    ledger: Ledger = upstreams["ledger"].api  # type: ignore[assignment]
    # (the system logs a request's headers as it arrives, and its body once it has read it)
    deadline = time.monotonic() + 20
    while not (bodies := [b for b in ledger.bodies if b["record_id"] == record_id]) and time.monotonic() < deadline:
        time.sleep(0.05)
    (body,) = bodies
    assert body["meta"] == {"changed_at": "2026-11-20T08:00:00+07:00", "officer": STATED["X-Actor-Id"]}


def test_the_gateways_own_checks_carry_a_context_of_their_own(
    http: httpx.Client, upstreams: dict[str, SimulatorServer]
) -> None:
    # Health checks: a request id of their own, no client, the system purpose.
    deadline = time.monotonic() + 20
    while True:
        checks = [
            h
            for h in received(upstreams["soap"]).headers()
            if h.get("x-purpose") == SYSTEM_PURPOSE and "x-client-id" not in h
        ]
        if checks or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert checks, "no health check reached the SOAP service"
    assert all(parse_traceparent(h["traceparent"]) is not None and h["x-request-id"] for h in checks)
    assert "x-actor-id" not in checks[0] and "x-agency-code" not in checks[0]
    assert int(checks[0]["x-deadline-ms"]) <= 5_000  # the health check's timeout
    # The readiness probe: its own request id, passed on to every connector's check.
    request_id = f"ready-{uuid.uuid4().hex}"
    answer = http.get("/readyz", headers={"X-Request-Id": request_id})
    assert answer.status_code == 200, answer.text
    for system in ("rest", "soap", "ledger"):
        (probe,) = arrived(received(upstreams[system]), request_id)
        assert probe["x-purpose"] == SYSTEM_PURPOSE and "x-client-id" not in probe


def test_the_logs_of_a_request_carry_its_trace_id(
    http: httpx.Client, headers: dict[str, str], upstreams: dict[str, SimulatorServer]
) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    traceparent, trace_id, caller_span = caller_trace()
    request_id = f"log-{uuid.uuid4().hex}"
    try:
        answer = http.get(
            f"/v1/databases/population/records/{citizens()[5]['so_dinh_danh']}",
            headers={**headers, "X-Request-Id": request_id, "traceparent": traceparent},
        )
        assert answer.status_code == 200
        time.sleep(0.2)  # the access line is written once the answer has gone
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if request_id in line]
    (access,) = [line for line in lines if line["event"] == "request"]
    assert access["trace_id"] == trace_id
    assert len(access["span_id"]) == 16 and access["span_id"] != caller_span
    (upstream,) = arrived(received(upstreams["rest"]), request_id)
    # The connector's call is a child span: another span id in the same trace.
    call = parse_traceparent(upstream["traceparent"])
    assert call is not None and call[0] == trace_id and call[1] not in {access["span_id"], caller_span}
