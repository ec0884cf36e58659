"""The conformance kit applied to the driving licence connector, against the simulated licence API served on
127.0.0.1; the slow case is another instance of the API that never answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import pytest
from support import free_port
from upstream_failures import failing

from connectors.base import ContractViolation, UpstreamError
from connectors.driving_licences import DrivingLicencesConnector, DrivingLicencesConnectorConfig
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.driving_licences import DrivingLicenceQuery
from simulators.driving_licence_api import DEFAULT_AUTH, DrivingLicenceApi, generate_licences
from simulators.http import Misbehaviour, SimulatorServer
from simulators.population import generate_citizens

CITIZENS = 1500
TODAY = date(2025, 11, 1)
AUTH = DEFAULT_AUTH.connector_auth()


PLANTED = 8


@pytest.fixture(scope="module")
def licences() -> list[dict[str, Any]]:
    """The simulator's licences, and eight more of one holder (numbers 680000000001-8) so that a search by holder
    spans several pages."""
    generated = generate_licences(generate_citizens(CITIZENS, seed=68, today=TODAY), seed=68, today=TODAY)
    holder = next(lic for lic in generated if lic["trang_thai"] == "CON_HIEU_LUC")
    planted = [{**holder, "so_gplx": f"68{n:010d}"} for n in range(1, PLANTED + 1)]
    return generated + planted


@pytest.fixture(scope="module")
def api_server(licences: list[dict[str, Any]]) -> Iterator[SimulatorServer]:
    with SimulatorServer(DrivingLicenceApi(licences)) as server:
        yield server


@pytest.fixture(scope="module")
def api_url(api_server: SimulatorServer) -> str:
    return api_server.url


@pytest.fixture(scope="module")
def received_headers(api_server: SimulatorServer) -> Callable[[], Sequence[Mapping[str, str]]]:
    """The headers of every request the API received (for the kit's request-context check)."""
    return api_server.api.middleware.received.headers


@pytest.fixture(scope="module")
def hanging_api_url(licences: list[dict[str, Any]]) -> Iterator[str]:
    with SimulatorServer(DrivingLicenceApi(licences, misbehaviour=Misbehaviour(mode="hang"))) as server:
        yield server.url


@pytest.fixture(scope="module")
def fail_upstream(api_server: SimulatorServer) -> Callable[[UpstreamFailure | None], None]:
    """Makes the sector system fail as the conformance kit asks (its misbehaviour switch)."""
    return failing(api_server.api.switch)


@pytest.fixture(scope="module")
def config(api_url: str) -> dict[str, Any]:
    return {"base_url": api_url, "auth": AUTH}


@pytest.fixture(scope="module")
def unreachable() -> dict[str, Any]:
    return {"base_url": f"http://127.0.0.1:{free_port()}", "auth": AUTH, "timeout_seconds": 2}


@pytest.fixture(scope="module")
def slow(hanging_api_url: str) -> dict[str, Any]:
    return {"base_url": hanging_api_url, "auth": AUTH, "timeout_seconds": 0.5}


@pytest.fixture(scope="module")
def known_ids(licences: list[dict[str, Any]]) -> list[str]:
    """A licence with a car class, a revoked one, a suspended one and the last one."""
    return [
        next(lic["so_gplx"] for lic in licences if any(c["hang"] == "B" for c in lic["hang_gplx"])),
        next(lic["so_gplx"] for lic in licences if lic["trang_thai"] == "THU_HOI"),
        next(lic["so_gplx"] for lic in licences if lic["trang_thai"] == "TAM_GIU"),
        licences[-1]["so_gplx"],
    ]


@pytest.fixture(scope="module")
def searches(licences: list[dict[str, Any]]) -> list[SearchCase]:
    holder = licences[len(licences) // 2]["nguoi_lai"]["so_cccd"]
    many = licences[-1]["nguoi_lai"]["so_cccd"]
    held = sorted(lic["so_gplx"] for lic in licences if lic["nguoi_lai"]["so_cccd"] == many)
    assert len(held) == PLANTED + 1
    return [
        SearchCase(DrivingLicenceQuery(holder_personal_id=holder), [licences[len(licences) // 2]["so_gplx"]]),
        SearchCase(DrivingLicenceQuery(holder_personal_id=many), held),
        SearchCase(DrivingLicenceQuery(holder_personal_id="068099000000"), []),
    ]


TestDrivingLicencesConnector = connector_test_class(
    DrivingLicencesConnector,
    config=fixture("config"),
    known_ids=fixture("known_ids"),
    missing_id="680000000099",
    unreachable_config=fixture("unreachable"),
    slow_config=fixture("slow"),
    searches=fixture("searches"),
    invalid_configs=[{"base_url": "ftp://127.0.0.1/x", "auth": AUTH}, {"base_url": "http://127.0.0.1", "auth": {}}],
    entry_point="driving_licences",
    received_headers=fixture("received_headers"),
    fail_upstream=fixture("fail_upstream"),
)


@pytest.mark.anyio
async def test_records_the_api_garbles_are_refused(licences: list[dict[str, Any]]) -> None:
    """A licence with a class the law does not know is a contract violation; a truncated body an upstream error."""
    api = DrivingLicenceApi(licences)
    number = licences[0]["so_gplx"]
    with SimulatorServer(api) as server:
        connector = DrivingLicencesConnector(DrivingLicencesConnectorConfig(base_url=server.url, auth=AUTH))
        await connector.start()
        try:
            api.misbehave(mode="violation", times=1)
            with pytest.raises(ContractViolation):
                await connector.get(number)
            api.misbehave(mode="malformed", times=1)
            with pytest.raises(UpstreamError):
                await connector.get(number)
            assert (await connector.get(number)).licence_number == number
        finally:
            await connector.close()
