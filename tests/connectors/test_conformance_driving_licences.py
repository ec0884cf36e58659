"""The conformance kit applied to the driving licence connector, against the simulated licence API served on
127.0.0.1; the slow case is another instance of the API that never answers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sector_conformance import base_url_config, simulated_test_class

from connectors.base import ContractViolation, UpstreamError
from connectors.driving_licences import DrivingLicencesConnector, DrivingLicencesConnectorConfig
from connectors.testing import SearchCase
from contracts.driving_licences import DrivingLicenceQuery
from simulators.driving_licence_api import DEFAULT_AUTH, DrivingLicenceApi, generate_licences
from simulators.http import SimulatorServer
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
def simulated_api(licences: list[dict[str, Any]]) -> Callable[..., DrivingLicenceApi]:
    return functools.partial(DrivingLicenceApi, licences)


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


TestDrivingLicencesConnector = simulated_test_class(
    DrivingLicencesConnector,
    make_config=base_url_config(AUTH),
    missing_id="680000000099",
    invalid_configs=[{"base_url": "ftp://127.0.0.1/x", "auth": AUTH}, {"base_url": "http://127.0.0.1", "auth": {}}],
    entry_point="driving_licences",
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
