"""The conformance kit's checks of what the gateway does to a connector beyond calling it: it cancels a call it stops
waiting for (its request deadline), and closes the connector on shutdown. A connector that swallows the
cancellation, or outwaits it, and one whose ``close()`` leaves its connections open, fail them, saying what to fix;
the ``rest`` adapter, which does neither, passes. The checks are run directly, against the simulated population API
on 127.0.0.1 (and a copy of it that never answers)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from connectors.base import UpstreamTimeout
from connectors.rest import RestConnector
from connectors.testing import ConformanceCase, ConnectorConformance, connector_test_class
from contracts import Contract
from simulators.population import generate_citizens
from simulators.population_api import ApiServer, Misbehaviour, PopulationApi, rest_connector_config

ROWS = list(generate_citizens(20, seed=6))
KNOWN = [ROWS[0]["so_dinh_danh"], ROWS[1]["so_dinh_danh"]]


class SwallowsCancellation(RestConnector):
    """Turns the gateway's cancellation into an error of its own."""

    async def get(self, record_id: str) -> Contract:
        try:
            return await super().get(record_id)
        except asyncio.CancelledError:
            raise UpstreamTimeout("the population API did not answer in time") from None


class OutwaitsCancellation(RestConnector):
    """Shields its call from cancellation, and waits for it again when cancelled: until its own deadline."""

    async def get(self, record_id: str) -> Contract:
        call = asyncio.ensure_future(super().get(record_id))
        while True:
            try:
                return await asyncio.shield(call)
            except asyncio.CancelledError:
                continue


class KeepsItsConnections(RestConnector):
    """Its ``close()`` forgets to close the pooled client (the test closes it afterwards)."""

    left_open: ClassVar[list[RestConnector]] = []

    async def close(self) -> None:
        KeepsItsConnections.left_open.append(self)


@pytest.fixture(scope="module")
def urls() -> Iterator[tuple[str, str]]:
    with (
        ApiServer(PopulationApi(ROWS)) as server,
        ApiServer(PopulationApi(ROWS, misbehaviour=Misbehaviour(mode="hang"))) as hanging,
    ):
        yield server.url, hanging.url


@pytest.fixture
def case(urls: tuple[str, str]) -> ConformanceCase:
    url, hanging_url = urls
    return ConformanceCase(
        config=rest_connector_config(url),
        known_ids=KNOWN,
        missing_id="068099000000",
        unreachable_config=rest_connector_config("http://127.0.0.1:9"),
        slow_config=rest_connector_config(hanging_url, timeout_seconds=0.5),
        grace_seconds=0.5,
    )


def _checks(connector_class: type[RestConnector]) -> ConnectorConformance:
    kit: Any = connector_test_class(connector_class, config={}, known_ids=KNOWN, missing_id="", unreachable_config={})
    return kit()  # type: ignore[no-any-return]


@pytest.mark.anyio
async def test_the_kit_passes_a_connector_that_lets_cancellation_through(case: ConformanceCase) -> None:
    await _checks(RestConnector).test_a_cancelled_call_stops_at_once(case)


@pytest.mark.anyio
async def test_the_kit_fails_a_connector_that_turns_cancellation_into_an_error(case: ConformanceCase) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        await _checks(SwallowsCancellation).test_a_cancelled_call_stops_at_once(case)
    message = str(failed.value)
    assert "cancelled, raised UpstreamTimeout (the population API did not answer in time)" in message, message
    assert "let it through (re-raise it)" in message


@pytest.mark.anyio
async def test_the_kit_fails_a_connector_that_outwaits_cancellation(case: ConformanceCase) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        await _checks(OutwaitsCancellation).test_a_cancelled_call_stops_at_once(case)
    message = str(failed.value)
    assert "went on for more than 0.5 s after it was cancelled" in message, message
    assert "near its own deadline of 1.5 s" in message


@pytest.mark.anyio
async def test_the_kit_passes_a_connector_that_closes_its_connections(case: ConformanceCase) -> None:
    await _checks(RestConnector).test_close_releases_the_connections(case)


@pytest.mark.anyio
async def test_the_kit_fails_a_connector_whose_close_leaves_connections_open(
    case: ConformanceCase, urls: tuple[str, str]
) -> None:
    try:
        with pytest.raises(pytest.fail.Exception) as failed:
            await _checks(KeepsItsConnections).test_close_releases_the_connections(case)
    finally:
        while KeepsItsConnections.left_open:
            await RestConnector.close(KeepsItsConnections.left_open.pop())
    message = str(failed.value)
    port = urls[0].rsplit(":", 1)[1]
    assert re.search(
        rf"close\(\) left (\d+) of the \1 connections the connector opened open \(to 127\.0\.0\.1:{port}\)", message
    ), message
    assert "close the clients and pools the connector opened in close()" in message
