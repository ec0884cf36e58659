"""The conformance kit applied to the health insurance connector, against the simulated Vietnam Social Security API
served on 127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from sector_rest_fixtures import PLANTED_NAME, SEED, TODAY, plant_name, world
from support import free_port
from upstream_failures import failing

from connectors.health_insurance import HealthInsuranceConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.health_insurance import HealthInsuranceCardQuery
from simulators.http import Misbehaviour, SimulatorServer
from simulators.vss_api import DEFAULT_AUTH, VssApi, VssRecords, build_vss_records


@pytest.fixture(scope="module")
def records() -> VssRecords:
    citizens, enterprises = world()
    built = build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)
    children = sorted(k for k, c in built.cards.items() if c["maDoiTuong"] == "TE")
    year = built.cards[children[0]]["chuThe"]["ngaySinh"][-4:]
    chosen = [k for k in children if built.cards[k]["chuThe"]["ngaySinh"].endswith(year)][:8]
    plant_name(built.cards, chosen, "chuThe", "hoTen")
    return built


@pytest.fixture(scope="module")
def vss_server(records: VssRecords) -> Iterator[SimulatorServer]:
    with SimulatorServer(VssApi(records)) as server:
        yield server


@pytest.fixture(scope="module")
def vss_url(vss_server: SimulatorServer) -> str:
    return vss_server.url


@pytest.fixture(scope="module")
def received_headers(vss_server: SimulatorServer) -> Callable[[], Sequence[Mapping[str, str]]]:
    """The headers of every request the API received (for the kit's request-context check)."""
    return vss_server.api.middleware.received.headers


@pytest.fixture(scope="module")
def hanging_vss_url(records: VssRecords) -> Iterator[str]:
    with SimulatorServer(VssApi(records, misbehaviour=Misbehaviour(mode="hang"))) as server:
        yield server.url


@pytest.fixture(scope="module")
def fail_upstream(vss_server: SimulatorServer) -> Callable[[UpstreamFailure | None], None]:
    """Makes the sector system fail as the conformance kit asks (its misbehaviour switch)."""
    return failing(vss_server.api.switch)


def _config(url: str, **overrides: Any) -> dict[str, Any]:
    return {"base_url": url, "auth": DEFAULT_AUTH.connector_auth(), **overrides}


@pytest.fixture(scope="module")
def config(vss_url: str) -> dict[str, Any]:
    return _config(vss_url)


@pytest.fixture(scope="module")
def unreachable() -> dict[str, Any]:
    return _config(f"http://127.0.0.1:{free_port()}", timeout_seconds=2)


@pytest.fixture(scope="module")
def slow(hanging_vss_url: str) -> dict[str, Any]:
    return _config(hanging_vss_url, timeout_seconds=0.5)


@pytest.fixture(scope="module")
def known_ids(records: VssRecords) -> list[str]:
    by_group = {c["maDoiTuong"]: code for code, c in sorted(records.cards.items())}
    old = next(code for code in sorted(records.cards) if len(code) == 15)
    return [*(by_group[g] for g in ("TE", "DN", "HS", "GD")), old]


@pytest.fixture(scope="module")
def searches(records: VssRecords) -> list[SearchCase]:
    planted = sorted(k for k, c in records.cards.items() if c["chuThe"]["hoTen"] == PLANTED_NAME)
    year = records.cards[planted[0]]["chuThe"]["ngaySinh"][-4:]
    old = next(code for code in sorted(records.cards) if len(code) == 15)
    holder = records.cards[old]["chuThe"]["soDinhDanh"]
    return [
        SearchCase(HealthInsuranceCardQuery(full_name=PLANTED_NAME, date_of_birth=year), planted),
        SearchCase(HealthInsuranceCardQuery(personal_id=holder), [old]),
        SearchCase(HealthInsuranceCardQuery(social_insurance_code=records.cards[old]["maSoBhxh"]), [old]),
        SearchCase(HealthInsuranceCardQuery(social_insurance_code="9999999999"), []),
    ]


TestHealthInsuranceConformance = connector_test_class(
    HealthInsuranceConnector,
    config=fixture("config"),
    known_ids=fixture("known_ids"),
    missing_id="DN4999999999999",
    unreachable_config=fixture("unreachable"),
    slow_config=fixture("slow"),
    searches=fixture("searches"),
    invalid_configs=[
        {"base_url": "http://127.0.0.1", "get": {"path": "/the"}},
        {"base_url": "http://127.0.0.1", "value_maps": {"no_such_field": {"a": "b"}}},
        {"base_url": "http://127.0.0.1", "auth": {"type": "oauth2_client_credentials", "token_url": "ftp://x/t"}},
    ],
    entry_point="health_insurance",
    received_headers=fixture("received_headers"),
    fail_upstream=fixture("fail_upstream"),
)
