"""OpenTelemetry traces, turned on by the standard ``OTEL_*`` variables and exported over OTLP/HTTP to a real
receiver on 127.0.0.1: the gateway continues its caller's trace through its request, its query of its database and
its call to a sector system (which receives the trace context), and its logs name the spans. Without the
variables nothing is instrumented, imported or exported."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from starlette.types import ASGIApp, Receive, Scope, Send
from support import STATED, ClientCredentials, LiveServer, fetch_token

from gateway.core import telemetry
from gateway.core.settings import Settings
from gateway.http.app import create_app
from simulators.population import seed_population
from simulators.population_api import PopulationApi, rest_connector_config
from simulators.population_api.records import load_rows

# -- a real OTLP/HTTP receiver and a recording sector system --------------------------------------------------


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    scope: str
    attributes: dict[str, Any]
    resource: dict[str, Any]


@dataclass
class OtlpReceiver:
    """Accepts ``POST /v1/traces`` (protobuf, maybe gzipped) on 127.0.0.1 and keeps the spans."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    posts: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces" or self.headers["Content-Type"] != "application/x-protobuf":
                    self.send_error(404)
                    return
                receiver.collect(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def collect(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            self.posts += 1
            for resource_spans in request.resource_spans:
                resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            ReceivedSpan(
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(),
                                kind=span.kind,
                                scope=scope_spans.scope.name,
                                attributes={kv.key: _value(kv.value) for kv in span.attributes},
                                resource=resource,
                            )
                        )

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class RecordingHeaders:
    """ASGI middleware keeping the path and headers of every request (the sector system's view)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
            self.requests.append((scope["path"], headers))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path = tmp_path_factory.mktemp("tracing-sector") / "population.db"
    asyncio.run(seed_population(f"sqlite:///{path}", count=50, seed=68))
    return load_rows(path)


@pytest.fixture(scope="module")
def sector(rows: list[dict[str, Any]]) -> Iterator[tuple[LiveServer, RecordingHeaders]]:
    """The population REST API on 127.0.0.1, recording the headers it receives."""
    recording = RecordingHeaders(PopulationApi(rows).app)
    with LiveServer(recording) as live:
        yield live, recording


@contextmanager
def otel_environment(**values: str) -> Iterator[None]:
    """Exactly the ``OTEL_*`` variables ``values`` (none of the developer's own) for the duration."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("OTEL_")]:
            patch.delenv(name)
        for name, value in values.items():
            patch.setenv(name, value)
        yield


@dataclass
class Run:
    """What one gateway run left: the receiver's spans, the sector's requests, the gateway's log lines."""

    receiver: OtlpReceiver
    sector_requests: list[tuple[str, dict[str, str]]]
    logs: list[dict[str, Any]]
    trace_id: str
    caller_span: str
    record_id: str
    app: Any


def run_gateway(
    make_settings: Callable[..., Settings],
    sector: tuple[LiveServer, RecordingHeaders],
    credentials: ClientCredentials,
    record_id: str,
    **environment: str,
) -> Run:
    """Start a gateway with the ``OTEL_*`` variables ``environment`` (plus the receiver's endpoint, unless
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is given as ""), read a record through it in a trace of the caller's, stop it."""
    live_sector, recording = sector
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    traced = {"traceparent": f"00-{trace_id}-{caller_span}-01"}
    config = rest_connector_config(live_sector.url, auth="api_key")
    settings = make_settings(
        connectors={"population": {"connector": "rest", "config": config}},
        log_format="json",
        log_level="INFO",
        access_log=True,
    )
    with OtlpReceiver() as receiver:
        endpoint = environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        variables = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint} if endpoint else {}
        with otel_environment(**variables, **environment):
            app = create_app(settings)
            stream = io.StringIO()
            handler = logging.getLogger().handlers[0]
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(stream)
            recording.requests.clear()
            with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as http:
                http.headers.update(traced)
                token = fetch_token(http, credentials)
                response = http.get(
                    f"/v1/databases/population/records/{record_id}",
                    headers={"Authorization": f"Bearer {token}", **STATED},
                )
                assert response.status_code == 200, response.text
                assert http.get("/healthz").status_code == 200
            handler.setStream(sys.stderr)
    logs = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return Run(receiver, list(recording.requests), logs, trace_id, caller_span, record_id, app)


@pytest.fixture(scope="module")
def credentials(make_client: Callable[..., ClientCredentials]) -> ClientCredentials:
    return make_client("population:read")


@pytest.fixture(scope="module")
def traced(
    make_settings: Callable[..., Settings],
    sector: tuple[LiveServer, RecordingHeaders],
    credentials: ClientCredentials,
    rows: list[dict[str, Any]],
) -> Run:
    """A gateway told by OTEL_* variables to export its traces to the receiver."""
    originals = (httpx.Client.__init__, httpx.AsyncClient.__init__, aiohttp.ClientSession.__init__)
    run = run_gateway(
        make_settings,
        sector,
        credentials,
        rows[7]["so_dinh_danh"],
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test",
    )
    # Once the gateway has closed, the process's HTTP clients are as they were.
    assert (httpx.Client.__init__, httpx.AsyncClient.__init__, aiohttp.ClientSession.__init__) == originals
    return run


def _in_trace(run: Run) -> list[ReceivedSpan]:
    return [span for span in run.receiver.spans if span.trace_id == run.trace_id]


# -- traces on ------------------------------------------------------------------------------------------------


def test_the_callers_trace_continues_through_the_request(traced: Run) -> None:
    spans = _in_trace(traced)
    servers = [span for span in spans if span.kind == ProtoSpan.SPAN_KIND_SERVER]
    assert sorted(span.name for span in servers) == [
        "GET /v1/databases/population/records/{personal_id}",
        "POST /oauth/token",
    ]
    # Both requests are children of the caller's span.
    assert {span.parent_id for span in servers} == {traced.caller_span}
    resource = servers[0].resource
    assert resource["service.name"] == "axis-gateway"
    assert resource["deployment.environment"] == "test"
    # The probes are not traced.
    assert not [span for span in traced.receiver.spans if "/healthz" in span.name]


def test_the_database_queries_are_spans_of_the_request(traced: Run) -> None:
    spans = _in_trace(traced)
    ids = {span.span_id for span in spans}
    queries = [span for span in spans if span.scope == "opentelemetry.instrumentation.sqlalchemy"]
    assert queries, [span.name for span in spans]
    assert all(span.kind == ProtoSpan.SPAN_KIND_CLIENT and span.parent_id in ids for span in queries)
    assert any(span.name.startswith("SELECT") for span in queries)


def test_the_call_to_the_sector_system_carries_the_trace(traced: Run) -> None:
    spans = _in_trace(traced)
    # The REST connector's client is an aiohttp session (traced by gateway.core._otel), httpx's clients are traced by
    # OpenTelemetry's instrumentation.
    calls = [span for span in spans if span.scope in {"opentelemetry.instrumentation.httpx", "gateway.otel.aiohttp"}]
    assert len(calls) == 1, [(span.name, span.attributes) for span in calls]
    call = calls[0]
    record = next(span for span in spans if span.name.endswith("/records/{personal_id}"))
    assert call.kind == ProtoSpan.SPAN_KIND_CLIENT
    assert call.parent_id in {span.span_id for span in spans}
    # The sector system received the call's span as its parent, in the caller's trace.
    received = [headers for path, headers in traced.sector_requests if path.endswith(traced.record_id)]
    assert len(received) == 1
    assert received[0]["traceparent"].startswith(f"00-{traced.trace_id}-{call.span_id}-")
    # The record's key (a personal id) is masked in the spans' URLs, as in the logs.
    masked = traced.record_id[:3] + "*" * 9
    assert masked in str(call.attributes) and masked in str(record.attributes)
    for span in traced.receiver.spans:
        assert traced.record_id not in f"{span.name} {span.attributes}"


def test_work_outside_requests_makes_no_traces_of_its_own(traced: Run) -> None:
    # The gateway queried its database as it started (schema, signing keys), outside any request: had those
    # queries made spans, they would be traces of their own. Every span exported is in the caller's trace (both
    # its requests carried it; the probe is not traced).
    assert {span.trace_id for span in traced.receiver.spans} == {traced.trace_id}
    # The connector's health checks (if this gateway held the checks' lease) sent no span of the gateway's.
    exported = {span.span_id for span in traced.receiver.spans}
    for path, headers in traced.sector_requests:
        if path == "/api/v1/trang-thai" and "traceparent" in headers:
            assert headers["traceparent"].split("-")[2] not in exported


def test_logs_name_the_trace_and_span(traced: Run) -> None:
    exported = {span.span_id for span in _in_trace(traced)}
    access = [line for line in traced.logs if line.get("path", "").startswith("/v1/databases/population/records/")]
    assert access, traced.logs
    for line in access:
        assert line["trace_id"] == traced.trace_id
        assert line["span_id"] in exported
    started = next(line for line in traced.logs if line["event"] == "gateway started")
    assert "trace_id" not in started and "span_id" not in started


def test_the_trace_context_given_to_connectors(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    monkeypatch.setattr(telemetry, "_trace_api", None)
    assert telemetry.active_traceparent() is None
    assert telemetry.current_span_ids() is None
    monkeypatch.setattr(telemetry, "_trace_api", trace)
    assert telemetry.active_traceparent() is None
    provider = TracerProvider(shutdown_on_exit=False)
    with provider.get_tracer("test").start_as_current_span("call") as span:
        context = span.get_span_context()
        expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
        assert telemetry.active_traceparent() == (expected, None)
        assert telemetry.current_span_ids() == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert telemetry.active_traceparent() is None


# -- traces off -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "gateway", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ],
)
def test_what_turns_tracing_on(environment: dict[str, str], on: bool) -> None:
    assert telemetry.tracing_requested(environment) is on


def test_unsupported_exporters_are_refused(make_settings: Callable[..., Settings]) -> None:
    for environment in (
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    ):
        with otel_environment(**environment), pytest.raises(ValueError, match="OTEL_"):
            create_app(make_settings())


def test_disabled_tracing_exports_nothing(
    make_settings: Callable[..., Settings],
    sector: tuple[LiveServer, RecordingHeaders],
    credentials: ClientCredentials,
    rows: list[dict[str, Any]],
    traced: Run,
) -> None:
    """An endpoint is set but OTEL_SDK_DISABLED wins; and it runs after a traced gateway in the same process."""
    run = run_gateway(make_settings, sector, credentials, rows[8]["so_dinh_danh"], OTEL_SDK_DISABLED="true")
    assert not getattr(run.app, "_is_instrumented_by_opentelemetry", False)
    assert run.receiver.posts == 0 and run.receiver.spans == []
    # The logs still carry the gateway's own W3C trace context (the caller's trace, spans of its own), made
    # without OpenTelemetry.
    traced_lines = [line for line in run.logs if "trace_id" in line]
    assert traced_lines and {line["trace_id"] for line in traced_lines} == {run.trace_id}
    assert all(line.get("span_id") != run.caller_span for line in traced_lines)


def test_without_variables_opentelemetry_is_not_even_imported(tmp_path: Path) -> None:
    """Neither the SDK, nor an exporter, nor an instrumentation (FastAPI itself imports the API when it is
    installed)."""
    script = (
        "import sys\n"
        "from gateway.http.app import create_app\n"
        "from gateway.core.settings import Settings\n"
        f"create_app(Settings(data_dir={str(tmp_path)!r}, connectors={{}}, log_level='WARNING'))\n"
        "prefixes = ('opentelemetry.sdk', 'opentelemetry.exporter', 'opentelemetry.instrumentation',"
        " 'gateway.core._otel')\n"
        "print([name for name in sys.modules if name.startswith(prefixes)])\n"
    )
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
