"""The base of the HTTP adapters (connectors.http) and of the mapped connectors (connectors.mapped)."""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from pathlib import Path

import certifi
import httpx
import pytest

from connectors.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from connectors.http import (
    HttpClient,
    HttpConnectorConfig,
    Retrier,
    RetryPolicy,
    SharedToken,
    Token,
    WithoutRequestLines,
    check_http_url,
    from_response,
    issued_token,
    parse_links,
    ssl_context,
    without_request_lines,
)
from connectors.mapped import MappedConfig
from connectors.rest import RestConnectorConfig
from connectors.soap import SoapConnectorConfig
from connectors.sql import SqlConnectorConfig

pytestmark = pytest.mark.anyio


def test_the_adapters_share_the_http_settings() -> None:
    shared = set(HttpConnectorConfig.model_fields)
    assert {"connect_timeout_seconds", "max_response_bytes", "retry", "ca_bundle", "value_maps"} <= shared
    assert {"naive_datetime_timezone", "context_headers", "conversions", "contract"} <= shared
    for adapter in (RestConnectorConfig, SoapConnectorConfig):
        assert issubclass(adapter, HttpConnectorConfig)
        assert shared <= set(adapter.model_json_schema()["properties"])
    assert issubclass(SqlConnectorConfig, MappedConfig)
    assert not issubclass(SqlConnectorConfig, HttpConnectorConfig)


def test_the_adapters_keep_their_own_defaults() -> None:
    assert RestConnectorConfig.model_fields["max_connections"].default == 64
    assert SoapConnectorConfig.model_fields["max_connections"].default == 32
    assert RetryPolicy().statuses == [429, 500, 502, 503, 504]
    assert SoapConnectorConfig.model_fields["retry"].default_factory is not None
    soap_retry = SoapConnectorConfig.model_fields["retry"].annotation
    assert soap_retry is not RetryPolicy
    assert soap_retry().statuses == [502, 503, 504]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        ("ftp://host/x", True, "the URL is an http:// or https:// URL with a host"),
        ("https://user:pw@host/x", True, "the URL carries no credentials; use 'auth'"),
        ("https://host/x#part", True, "the URL has no fragment"),
        ("https://host/x?wsdl", False, "the URL has no query or fragment"),
    ],
)
def test_http_urls_are_checked(url: str, query: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_http_url(url, "the URL", query=query)


def test_a_query_is_allowed_where_it_may_be() -> None:
    assert check_http_url("https://host/x?wsdl", "the URL") == "https://host/x?wsdl"


def test_the_request_line_filter_is_installed_once() -> None:
    logger = logging.getLogger("connectors.tests.http_base")
    without_request_lines(logger.name)
    without_request_lines(logger.name)
    try:
        filters = [f for f in logger.filters if isinstance(f, WithoutRequestLines)]
        assert len(filters) == 1
        info = logging.LogRecord(logger.name, logging.INFO, __file__, 1, "GET /citizens/001", None, None)
        warning = logging.LogRecord(logger.name, logging.WARNING, __file__, 1, "broken", None, None)
        assert not filters[0].filter(info)
        assert filters[0].filter(warning)
    finally:
        for installed in filters:
            logger.removeFilter(installed)
    assert any(isinstance(f, WithoutRequestLines) for f in logging.getLogger("httpx").filters)


def test_retry_after_is_read_from_429_and_503_only() -> None:
    headers = {"Retry-After": "7"}
    assert from_response(429, headers, "x", retry=frozenset({429})).retry_after == 7
    assert from_response(503, headers, "x", retry=frozenset({503})).retry_after == 7
    assert from_response(502, headers, "x", retry=frozenset({502})).retry_after is None


async def test_the_retrier_waits_what_the_answer_asks_within_the_deadline() -> None:
    retrier = Retrier(RetryPolicy(max_attempts=3), label="x", rng=random.Random(1))
    loop = asyncio.get_running_loop()
    failure = from_response(503, {"Retry-After": "0"}, "x", retry=retrier.statuses)
    await retrier.pause(failure, 1, deadline=loop.time() + 5)  # waits 0 s, then the next attempt
    with pytest.raises(UpstreamUnavailable):  # the attempts are spent
        await retrier.pause(failure, 3, deadline=loop.time() + 5)
    too_long = from_response(503, {"Retry-After": "60"}, "x", retry=retrier.statuses)
    started = loop.time()
    with pytest.raises(UpstreamUnavailable):  # waiting would overrun the deadline
        await retrier.pause(too_long, 1, deadline=loop.time() + 5)
    assert loop.time() - started < 1
    with pytest.raises(UpstreamError, match="HTTP 400"):  # not worth another attempt
        await retrier.pause(from_response(400, {}, "x", retry=retrier.statuses), 1, deadline=loop.time() + 5)


@pytest.mark.parametrize(
    "header",
    [
        '<https://api.example/search?page=2>; rel="next"',
        '</search?page=2>; rel=next, </search?page=9>; rel="last"; title="end"',
        "<https://api.example/a>, <https://api.example/b>; rel=prev",
        '<https://api.example/a>; rel="next"; broken=a=b; after="x"',
        "  ",
        "<https://api.example/a>",
    ],
)
def test_link_headers_are_read_as_httpx_reads_them(header: str) -> None:
    # The aiohttp engine reads the Link header itself: the same links as the httpx engine's.
    assert parse_links([header]) == httpx.Response(200, headers={"Link": header}).links


def test_clients_that_trust_the_same_cas_share_one_tls_context(tmp_path: Path) -> None:
    """A context holds its certificate store (about a mebibyte): one per set of CAs, not one per client."""
    bundle, other = tmp_path / "ca.pem", tmp_path / "other-ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    other.write_bytes(bundle.read_bytes())
    assert ssl_context(None) is ssl_context(None)
    shared = ssl_context(bundle)
    assert ssl_context(tmp_path / "." / "ca.pem") is shared
    assert ssl_context(other) is not shared and ssl_context(None) is not shared
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname
    # The bundle rewritten (a CA rotated in): the next client gets a context of the new content.
    bundle.write_bytes(bundle.read_bytes() + b"\n")
    assert ssl_context(bundle) is not shared
    with pytest.raises(FileNotFoundError):
        ssl_context(tmp_path / "missing.pem")


CONFIG = HttpConnectorConfig(fields={"personal_id": "so_dinh_danh"})


@pytest.mark.parametrize(
    ("engine", "error"), [("aiohttp", UpstreamTimeout), ("httpx", httpx.ReadTimeout)], ids=["aiohttp", "httpx"]
)
async def test_a_request_ends_at_its_deadline(hanging_api_url: str, engine: str, error: type[Exception]) -> None:
    """A sector system that never answers: the request ends when the deadline passes (aiohttp's with
    :func:`deadline_passed`'s error, httpx's with its own timeout, for the caller to classify)."""
    client = HttpClient(CONFIG, label="population", engine=engine)  # type: ignore[arg-type]
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(error):
            await client.request("GET", f"{hanging_api_url}/api/v1/cong-dan/068099000123", deadline=started + 0.4)
        assert 0.35 <= loop.time() - started < 2
    finally:
        await client.aclose()


async def test_a_request_under_its_callers_deadline_is_ended_by_the_caller(hanging_api_url: str) -> None:
    """``under_deadline``: the caller's ``asyncio.timeout_at`` ends the request; the request sets no timer that
    would end it first."""
    client = HttpClient(CONFIG, label="population")
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 0.4
        with pytest.raises(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await client.request(
                    "GET", f"{hanging_api_url}/api/v1/cong-dan/068099000123", deadline=deadline, under_deadline=True
                )
        assert loop.time() - deadline < 1.5
    finally:
        await client.aclose()


# -- the shared token (connectors.http.tokens) -------------------------------------------------------------------


async def test_a_shared_token_request_is_let_go_of_when_the_connection_closes() -> None:
    """A token request that never ends while the connection closes: closing cancels it (after its grace), and the
    call waiting for the token gets an upstream error (its connection is gone), not a cancellation, which would
    read as the caller's own."""
    started = asyncio.Event()
    requests = 0

    async def fetch(http: HttpClient, deadline: float) -> Token[str]:
        nonlocal requests
        requests += 1
        started.set()
        await asyncio.Event().wait()  # never answered
        raise AssertionError("unreachable")

    shared: SharedToken[str] = SharedToken(fetch, label="population")
    client = HttpClient(CONFIG, label="population")
    waiting = asyncio.create_task(shared.get(client, asyncio.get_running_loop().time() + 60))
    await started.wait()
    await shared.aclose()
    with pytest.raises(UpstreamUnavailable, match="population: the connection closed while its token was fetched"):
        await waiting
    assert requests == 1 and shared.cached is None


async def test_a_token_answered_while_the_connection_closes_is_kept() -> None:
    """Closing lets a token request under way end (within its grace): the token it brings is cached, for the
    connection's next use, and the call waiting for it gets it."""
    started, answer = asyncio.Event(), asyncio.Event()

    async def fetch(http: HttpClient, deadline: float) -> Token[str]:
        started.set()
        await answer.wait()
        return issued_token("Bearer t1", requested=time.monotonic(), lifetime=300, refresh_margin=30)

    shared: SharedToken[str] = SharedToken(fetch, label="population")
    client = HttpClient(CONFIG, label="population")
    waiting = asyncio.create_task(shared.get(client, asyncio.get_running_loop().time() + 60))
    await started.wait()
    closing = asyncio.create_task(shared.aclose())
    answer.set()
    await closing
    token = await waiting
    assert token.value == "Bearer t1" and shared.cached is token
