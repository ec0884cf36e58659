"""The conformance kit applied to the taxpayer status connector, against the simulated tax authority API served on
127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from sector_rest_fixtures import PLANTED_NAME, SEED, TODAY, world
from support import free_port
from upstream_failures import failing

from connectors.tax import TaxConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.names import normalize_name
from contracts.tax import TaxpayerQuery, TaxpayerType
from simulators.http import Misbehaviour, SimulatorServer
from simulators.tax_api import DEFAULT_AUTH, TaxApi, build_taxpayers
from simulators.vss_api import build_vss_records


@pytest.fixture(scope="module")
def taxpayers() -> dict[str, dict[str, Any]]:
    citizens, enterprises = world()
    built = build_taxpayers(
        citizens, enterprises, build_vss_records(citizens, enterprises, seed=SEED, today=TODAY), seed=SEED, today=TODAY
    )
    for code in [c for c, t in built.items() if t["loai_nnt"] == "CN"][:11]:
        built[code] = {
            **built[code],
            "ten_nnt": PLANTED_NAME,
            "ca_nhan": {**built[code]["ca_nhan"], "ho_ten": PLANTED_NAME},
        }
    return built


@pytest.fixture(scope="module")
def tax_server(taxpayers: dict[str, dict[str, Any]]) -> Iterator[SimulatorServer]:
    with SimulatorServer(TaxApi(taxpayers)) as server:
        yield server


@pytest.fixture(scope="module")
def tax_url(tax_server: SimulatorServer) -> str:
    return tax_server.url


@pytest.fixture(scope="module")
def received_headers(tax_server: SimulatorServer) -> Callable[[], Sequence[Mapping[str, str]]]:
    """The headers of every request the API received (for the kit's request-context check)."""
    return tax_server.api.middleware.received.headers


@pytest.fixture(scope="module")
def hanging_tax_url(taxpayers: dict[str, dict[str, Any]]) -> Iterator[str]:
    with SimulatorServer(TaxApi(taxpayers, misbehaviour=Misbehaviour(mode="hang"))) as server:
        yield server.url


@pytest.fixture(scope="module")
def fail_upstream(tax_server: SimulatorServer) -> Callable[[UpstreamFailure | None], None]:
    """Makes the sector system fail as the conformance kit asks (its misbehaviour switch)."""
    return failing(tax_server.api.switch)


def _config(url: str, **overrides: Any) -> dict[str, Any]:
    return {"base_url": url, "auth": DEFAULT_AUTH.connector_auth(), **overrides}


@pytest.fixture(scope="module")
def config(tax_url: str) -> dict[str, Any]:
    return _config(tax_url)


@pytest.fixture(scope="module")
def unreachable() -> dict[str, Any]:
    return _config(f"http://127.0.0.1:{free_port()}", timeout_seconds=2)


@pytest.fixture(scope="module")
def slow(hanging_tax_url: str) -> dict[str, Any]:
    return _config(hanging_tax_url, timeout_seconds=0.5)


@pytest.fixture(scope="module")
def known_ids(taxpayers: dict[str, dict[str, Any]]) -> list[str]:
    by_kind_and_status = {(t["loai_nnt"], t["trang_thai"]): code for code, t in taxpayers.items()}
    return sorted(set(by_kind_and_status.values()))


def _named(taxpayers: dict[str, dict[str, Any]], part: str, kind: str | None = None) -> list[str]:
    wanted = normalize_name(part)
    return [
        code
        for code, t in taxpayers.items()
        if wanted in normalize_name(t["ten_nnt"]) and (kind is None or t["loai_nnt"] == kind)
    ]


@pytest.fixture(scope="module")
def searches(taxpayers: dict[str, dict[str, Any]]) -> list[SearchCase]:
    return [
        SearchCase(TaxpayerQuery(name=PLANTED_NAME), _named(taxpayers, PLANTED_NAME)),
        SearchCase(
            TaxpayerQuery(name="công ty", taxpayer_type=TaxpayerType.ORGANISATION), _named(taxpayers, "công ty", "TC")
        ),
        SearchCase(
            TaxpayerQuery(name="nguyễn", taxpayer_type=TaxpayerType.INDIVIDUAL), _named(taxpayers, "nguyễn", "CN")
        ),
        SearchCase(TaxpayerQuery(name="Không Có Tên Này"), []),
    ]


TestTaxConformance = connector_test_class(
    TaxConnector,
    config=fixture("config"),
    known_ids=fixture("known_ids"),
    missing_id="068099000000",
    unreachable_config=fixture("unreachable"),
    slow_config=fixture("slow"),
    searches=fixture("searches"),
    invalid_configs=[
        {"base_url": "http://127.0.0.1", "auth": {"type": "bearer"}},
        {"base_url": "http://127.0.0.1", "fields": {"name": "ten_nnt"}},
        {"base_url": "http://127.0.0.1", "value_maps": {"no_such_field": {"a": "b"}}},
    ],
    entry_point="tax",
    received_headers=fixture("received_headers"),
    fail_upstream=fixture("fail_upstream"),
)
