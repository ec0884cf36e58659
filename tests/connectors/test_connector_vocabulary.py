"""The SDK's vocabulary: the optional operations (``submit``, ``search``, ``sample``) say they are not offered unless
a connector does, and a connector declares them in ``capabilities``; the health probe (``health``, ``check``); the
deprecated ways of the earlier SDK (``ping``, undeclared capabilities, ``accepts_submissions``) still work."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import pytest

from connectors.base import (
    Capability,
    Connector,
    ConnectorConfig,
    HealthReport,
    HealthState,
    OperationKind,
    OperationNotSupported,
    Page,
    RecordNotFound,
    SubmitOperation,
    SubmitResult,
    SubmitStatus,
    UpstreamUnavailable,
    implemented_capabilities,
)
from contracts import Contract, ContractQuery
from contracts.population import Citizen

pytestmark = pytest.mark.anyio

EXAMPLE = Citizen.model_validate(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


class ReadOnly(Connector[ConnectorConfig]):
    slug = "read_only"
    title = "Reads only"
    contract = Citizen
    config_model = ConnectorConfig
    capabilities = frozenset({Capability.READ})

    async def health(self) -> HealthReport:
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Contract:
        if record_id == EXAMPLE.record_id():
            return EXAMPLE
        raise RecordNotFound("no such record")


class Writable(ReadOnly):
    """Keeps submissions by idempotency key."""

    slug = "writable"
    capabilities = frozenset({Capability.READ, Capability.SUBMIT})

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
    with pytest.raises(OperationNotSupported) as sampled:
        await connector.sample(5)
    assert all("read_only" in info.value.message for info in (submitted, searched, sampled))
    assert [c for c in Capability if connector.offers(c)] == [Capability.READ]


async def test_a_connector_that_offers_them() -> None:
    connector = Writable.from_config({})
    assert connector.offers(Capability.SUBMIT) and not connector.offers(Capability.SEARCH)
    first = await connector.submit(CREATE)
    again = await connector.submit(CREATE)
    other = await connector.submit(replace(CREATE, idempotency_key="k2"))
    assert (first.status, again.status, other.status) == (SubmitStatus.APPLIED, SubmitStatus.DUPLICATE, "applied")
    assert again.reference == first.reference != other.reference


async def test_check_never_raises_and_reports_the_probe() -> None:
    """``check()`` is the probe (``health()``) made safe: a failure becomes a report that the system is down."""
    connector = ReadOnly.from_config({})
    up = await connector.check()
    assert up.ok and up.state is HealthState.UP and up.message == "ok"
    assert up.latency_seconds is not None and up.latency_seconds >= 0

    class Failing(ReadOnly):
        async def health(self) -> HealthReport:
            raise UpstreamUnavailable("cannot connect")

    class Broken(ReadOnly):
        async def health(self) -> HealthReport:
            raise KeyError("oops")

    class Degraded(ReadOnly):
        async def health(self) -> HealthReport:
            return HealthReport(HealthState.DEGRADED, latency_seconds=0.5, message="replica behind")

    down = await Failing.from_config({}).check()
    assert (down.ok, down.state, down.message) == (False, HealthState.DOWN, "cannot connect")
    broken = await Broken.from_config({}).check()
    assert (broken.ok, broken.message) == (False, "KeyError: 'oops'")
    degraded = await Degraded.from_config({}).check()
    assert (degraded.ok, degraded.state, degraded.latency_seconds, degraded.message) == (
        True,
        HealthState.DEGRADED,
        0.5,
        "replica behind",
    )


async def test_a_connector_of_the_earlier_sdk_still_works() -> None:
    """A connector that implements ``ping()`` (the earlier SDK's probe) instead of ``health()`` is warned about
    when defined, and its ``health()`` calls its ``ping()``."""
    with pytest.warns(DeprecationWarning, match=r"Old: Connector\.ping\(\) is deprecated, implement health\(\)"):

        class Old(Connector[ConnectorConfig]):
            slug = "old"
            title = "Earlier SDK"
            contract = Citizen
            config_model = ConnectorConfig
            capabilities = frozenset({Capability.READ})
            up = True

            async def ping(self) -> None:
                if not self.up:
                    raise UpstreamUnavailable("cannot connect")

            async def get(self, record_id: str) -> Contract:
                raise RecordNotFound("no such record")

    connector = Old.from_config({})
    assert await connector.health() == HealthReport(HealthState.UP)
    connector.up = False
    with pytest.raises(UpstreamUnavailable):
        await connector.health()
    assert (await connector.check()).message == "cannot connect"


def test_a_connector_must_implement_health_and_not_check() -> None:
    class Nothing(Connector[ConnectorConfig]):
        slug = "nothing"
        title = "No probe"
        contract = Citizen
        config_model = ConnectorConfig

        async def get(self, record_id: str) -> Contract:
            raise RecordNotFound("no such record")

    with pytest.raises(TypeError, match="health"):
        Nothing.from_config({})
    with pytest.raises(TypeError, match=r"overrides Connector\.check\(\)"):

        class Checking(ReadOnly):
            async def check(self) -> HealthReport:  # type: ignore[misc]
                return HealthReport(HealthState.UP)


def test_capabilities_implemented_are_those_overridden() -> None:
    class Searching(ReadOnly):
        capabilities = frozenset({Capability.READ, Capability.SEARCH})
        query_model = ContractQuery

        async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
            return Page([])

    class Claiming(ReadOnly):
        """Declares a search it does not implement (the conformance kit fails it)."""

        capabilities = frozenset({Capability.READ, Capability.SEARCH})
        query_model = ContractQuery

    assert implemented_capabilities(ReadOnly) == {Capability.READ}
    assert implemented_capabilities(Writable) == {Capability.READ, Capability.SUBMIT}
    assert implemented_capabilities(Searching) == {Capability.READ, Capability.SEARCH}
    assert implemented_capabilities(Claiming) == {Capability.READ}
    searching = Searching.from_config({})
    assert searching.offers(Capability.SEARCH)
    searching.query_model = None  # a search needs a query model
    assert not searching.offers(Capability.SEARCH)


def test_undeclared_capabilities_are_inferred_with_a_warning() -> None:
    """A connector of the earlier SDK declares no capabilities: they are inferred from its methods, as the gateway
    did before, with a DeprecationWarning; an abstract intermediate class is left alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)

        class Base(Connector[ConnectorConfig]):  # abstract: get() and health() are missing
            async def submit(self, operation: SubmitOperation) -> SubmitResult:
                return SubmitResult(SubmitStatus.APPLIED)

    with pytest.warns(DeprecationWarning, match=r"Old does not declare its capabilities.*Capability\.SUBMIT"):

        class Old(Base):
            slug = "old"
            title = "Earlier SDK"
            contract = Citizen
            config_model = ConnectorConfig

            async def health(self) -> HealthReport:
                return HealthReport(HealthState.UP)

            async def get(self, record_id: str) -> Contract:
                raise RecordNotFound("no such record")

    assert "capabilities" not in Base.__dict__
    assert Old.capabilities == {Capability.READ, Capability.SUBMIT}
    with pytest.warns(DeprecationWarning, match="accepts_submissions is deprecated, override offers"):

        class Configured(Old):
            capabilities = frozenset({Capability.READ, Capability.SUBMIT})
            writes = False

            @property
            def accepts_submissions(self) -> bool:
                return self.writes

    configured = Configured.from_config({})
    assert not configured.offers(Capability.SUBMIT) and configured.offers(Capability.READ)
    configured.writes = True
    assert configured.offers(Capability.SUBMIT)
