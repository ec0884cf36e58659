"""What the axis makes of a connector's health probe (``Connector.health``), its canary included: up, degraded,
down, a probe that raises, one that hangs, and a connector written for the earlier SDK (``ping`` only)."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any, TypeVar

import pytest

from connectors.base import (
    Capability,
    Connector,
    ConnectorConfig,
    HealthReport,
    HealthState,
    RecordNotFound,
    UpstreamUnavailable,
)
from connectors.context import RequestContext
from contracts.population import Citizen
from gateway.axis.health import check_connector

pytestmark = pytest.mark.anyio

C = TypeVar("C", bound=Connector[Any])
EXAMPLE = Citizen.model_validate(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


class Reporting(Connector[ConnectorConfig]):
    """Reports what it is told to, and counts the canary fetches."""

    slug = "reporting"
    title = "Reporting"
    contract = Citizen
    config_model = ConnectorConfig
    capabilities = frozenset({Capability.READ})

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(config)
        self.report: HealthReport | Exception = HealthReport(HealthState.UP)
        self.fetched = 0

    async def health(self) -> HealthReport:
        if isinstance(self.report, Exception):
            raise self.report
        return self.report

    async def get(self, record_id: str) -> Citizen:
        self.fetched += 1
        if record_id == EXAMPLE.record_id():
            return EXAMPLE
        raise RecordNotFound("no such record")


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    class Legacy(Connector[ConnectorConfig]):
        """Written for the earlier SDK: ``ping()`` only."""

        slug = "legacy"
        title = "Legacy"
        contract = Citizen
        config_model = ConnectorConfig
        capabilities = frozenset({Capability.READ})
        fail: Exception | None = None
        pinged = 0
        fetched = 0

        async def ping(self) -> None:
            self.pinged += 1
            if self.fail is not None:
                raise self.fail

        async def get(self, record_id: str) -> Citizen:
            self.fetched += 1
            return EXAMPLE


def canary(connector_class: type[C], record_id: str = EXAMPLE.record_id()) -> C:
    return connector_class.from_config({"canary": record_id})


async def test_up_checks_the_canary() -> None:
    connector = canary(Reporting)
    outcome = await check_connector(connector, 5.0, RequestContext())
    assert outcome.ok and not outcome.degraded and outcome.reason is None and outcome.error is None
    assert outcome.latency_seconds is not None and outcome.latency_seconds >= 0
    assert connector.fetched == 1


async def test_degraded_keeps_its_latency_and_message() -> None:
    connector = canary(Reporting)
    connector.report = HealthReport(HealthState.DEGRADED, latency_seconds=0.25, message="replica behind")
    outcome = await check_connector(connector, 5.0, RequestContext())
    assert (outcome.ok, outcome.degraded, outcome.latency_seconds, outcome.error) == (
        True,
        True,
        0.25,
        "replica behind",
    )
    assert connector.fetched == 1


async def test_down_skips_the_canary() -> None:
    connector = canary(Reporting)
    connector.report = HealthReport(HealthState.DOWN)
    outcome = await check_connector(connector, 5.0, RequestContext())
    assert (outcome.ok, outcome.reason, outcome.error) == (False, "down", "the connector reports down")
    assert connector.fetched == 0


async def test_a_probe_that_raises_gives_its_reason() -> None:
    connector = canary(Reporting)
    connector.report = UpstreamUnavailable("cannot connect")
    outcome = await check_connector(connector, 5.0, RequestContext())
    assert (outcome.ok, outcome.reason, outcome.error) == (False, "connect", "cannot connect")
    assert connector.fetched == 0


async def test_a_missing_canary_and_a_hanging_probe() -> None:
    connector = canary(Reporting, "nobody")
    outcome = await check_connector(connector, 5.0, RequestContext())
    assert (outcome.ok, outcome.reason) == (False, "canary_missing")

    class Hanging(Reporting):
        async def health(self) -> HealthReport:
            await asyncio.sleep(10)
            raise AssertionError("not reached")

    outcome = await check_connector(canary(Hanging), 0.05, RequestContext())
    assert (outcome.ok, outcome.reason, outcome.error) == (False, "timeout", "no answer in 0.05 s")


async def test_a_ping_only_connector_is_checked_as_before() -> None:
    connector = canary(Legacy)
    outcome = await check_connector(connector, 5.0, RequestContext())
    assert outcome.ok and not outcome.degraded and outcome.error is None and outcome.reason is None
    assert connector.pinged == 1 and connector.fetched == 1
    connector.fail = UpstreamUnavailable("cannot connect")
    outcome = await check_connector(connector, 5.0, RequestContext())
    assert (outcome.ok, outcome.reason, outcome.error) == (False, "connect", "cannot connect")
    assert connector.fetched == 1
