"""The WSDL is an upstream answer like any other: a service that serves it without end, or drips it in, cannot make
the gateway read for ever or fill its memory. The service is a real server on 127.0.0.1 whose ``?wsdl`` never
ends; it records how much it sent and when the gateway hung up."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from support import LiveServer

from connectors.base import UpstreamError, UpstreamTimeout
from connectors.soap import SoapConnector
from simulators.judicial_records_soap import SERVICE_PATH, soap_connector_config

pytestmark = pytest.mark.anyio

CHUNK = b"<!--" + b"x" * (64 * 1024 - 7) + b"-->"


@dataclass
class EndlessWsdl:
    """Serves ``?wsdl`` as a stream that never ends: ``chunk`` bytes every ``pause`` seconds."""

    chunk: bytes = CHUNK
    pause: float = 0.0
    sent: int = 0
    requests: int = 0
    hung_up: threading.Event = field(default_factory=threading.Event)

    def app(self) -> Starlette:
        async def wsdl(request: Request) -> StreamingResponse:
            self.requests += 1
            return StreamingResponse(self._stream(), media_type="text/xml")

        return Starlette(routes=[Route(SERVICE_PATH, wsdl)])

    async def _stream(self) -> AsyncIterator[bytes]:
        try:
            yield b'<?xml version="1.0" encoding="UTF-8"?><wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">'
            while True:
                self.sent += len(self.chunk)
                yield self.chunk
                await asyncio.sleep(self.pause)
        finally:
            self.hung_up.set()  # the gateway closed the connection: the stream is cancelled


@pytest.fixture
def endless() -> Iterator[tuple[EndlessWsdl, str]]:
    wsdl = EndlessWsdl()
    with LiveServer(wsdl.app()) as live:
        yield wsdl, live.url


def _connector(url: str, **options: Any) -> SoapConnector:
    return SoapConnector.from_config(soap_connector_config(url, **options))


async def test_a_wsdl_without_end_is_refused_at_the_size_limit(endless: tuple[EndlessWsdl, str]) -> None:
    wsdl, url = endless
    limit = 512 * 1024
    async with _connector(url, max_response_bytes=limit, timeout_seconds=10) as connector:
        started = time.monotonic()
        with pytest.raises(UpstreamError) as info:
            await connector.get("LLTP-68-2020-000001")
        assert time.monotonic() - started < 5
        assert not isinstance(info.value, UpstreamTimeout)
        assert info.value.reason == "protocol" and f"the WSDL is larger than {limit} bytes" in info.value.message
        # The gateway hung up: the server stops sending (what it sent is the limit and the sockets' buffers).
        assert await asyncio.to_thread(wsdl.hung_up.wait, 5)
        sent = wsdl.sent
        await asyncio.sleep(0.3)
        assert wsdl.sent == sent
        assert sent < limit + 16 * 1024 * 1024
        assert (await connector.check()).ok is False  # the health probe reads the WSDL first: refused the same way


async def test_a_wsdl_dripping_in_without_end_is_abandoned_at_its_deadline(endless: tuple[EndlessWsdl, str]) -> None:
    wsdl, url = endless
    wsdl.chunk, wsdl.pause = b"<!-- -->", 0.02  # far below any size limit, and never a pause long enough to time out
    async with _connector(url, wsdl_timeout_seconds=1, timeout_seconds=5) as connector:
        started = time.monotonic()
        with pytest.raises(UpstreamError) as info:
            await connector.get("LLTP-68-2020-000001")
        elapsed = time.monotonic() - started
        assert 0.9 < elapsed < 2.5, elapsed
        assert info.value.reason == "protocol" and "the WSDL did not end within 1 s" in info.value.message
        assert await asyncio.to_thread(wsdl.hung_up.wait, 2)


async def test_the_wsdl_is_abandoned_at_its_deadline_even_when_no_caller_waits(
    endless: tuple[EndlessWsdl, str],
) -> None:
    """A caller whose own deadline comes first gets its timeout; the download it started does not go on for ever
    behind it, and the next call starts a new one."""
    wsdl, url = endless
    wsdl.chunk, wsdl.pause = b"<!-- -->", 0.02
    async with _connector(url, wsdl_timeout_seconds=1.5, timeout_seconds=0.3) as connector:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await connector.get("LLTP-68-2020-000001")
        assert time.monotonic() - started < 1
        assert not wsdl.hung_up.is_set()  # still loading, for whoever calls next
        assert await asyncio.to_thread(wsdl.hung_up.wait, 3)
        assert time.monotonic() - started > 1.3
        sent = wsdl.sent
        await asyncio.sleep(0.3)
        assert wsdl.sent == sent
        with pytest.raises(UpstreamError, match="the WSDL did not end within"):  # the abandoned reading's outcome
            await connector.get("LLTP-68-2020-000001")
        wsdl.hung_up.clear()
        with pytest.raises(UpstreamTimeout):  # a new reading
            await connector.get("LLTP-68-2020-000001")
    assert wsdl.requests == 2
    assert await asyncio.to_thread(wsdl.hung_up.wait, 3)  # closing the connector abandons it at once
