"""The conformance kit applied to connectors with an axis profile: the business registry (REST) and the judicial
records service (SOAP) reached through the simulated national platform (:mod:`simulators.ndxp_hub`), its
authentication, metadata and envelope in the way. The kit runs outside any request: the profile's fallback
procedure and agency codes are what the platform receives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from judicial_records_fixtures import planted_requests
from sector_rest_fixtures import world
from support import free_port
from upstream_failures import failing

from connectors.business import BusinessConnector
from connectors.judicial_records import JudicialRecordsConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.business import EnterpriseQuery
from contracts.judicial_records import CertificateRequestQuery
from simulators.business_api import DEFAULT_AUTH, BusinessApi
from simulators.http import Misbehaviour, SimulatorServer
from simulators.judicial_records_soap import JudicialRecordsService, judicial_records_config
from simulators.ndxp_hub import NdxpHub, via_hub


@pytest.fixture(scope="module")
def enterprises() -> tuple[dict[str, Any], ...]:
    return world()[1]


@pytest.fixture(scope="module")
def sector_urls(enterprises: tuple[dict[str, Any], ...]) -> Iterator[dict[str, str]]:
    rows, _ = planted_requests()
    with (
        SimulatorServer(BusinessApi(enterprises)) as business,
        SimulatorServer(JudicialRecordsService(rows)) as judicial,
    ):
        yield {"business": business.url, "judicial_records": judicial.url}


@pytest.fixture(scope="module")
def hubs() -> Iterator[tuple[tuple[NdxpHub, str], tuple[NdxpHub, str]]]:
    """A hub, and one whose calls hang."""
    hanging = NdxpHub()
    hanging.switch.set(Misbehaviour(mode="hang"))
    first, second = NdxpHub(), hanging
    with SimulatorServer(first) as server, SimulatorServer(second) as hanging_server:
        yield (first, server.url), (second, hanging_server.url)


@pytest.fixture(scope="module")
def fail_upstream(hubs: tuple[tuple[NdxpHub, str], tuple[NdxpHub, str]]) -> Callable[[UpstreamFailure | None], None]:
    """Makes the platform fail as the conformance kit asks (the hub's misbehaviour switch): what the connector
    reaches is the hub."""
    (hub, _), _ = hubs
    return failing(hub.switch)


def _direct(database: str, url: str) -> dict[str, Any]:
    if database == "business":
        return {"base_url": url, "auth": DEFAULT_AUTH.connector_auth()}
    return judicial_records_config(url)


def _routed(database: str, hub: NdxpHub, hub_url: str, url: str, **options: Any) -> dict[str, Any]:
    protocol = "rest" if database == "business" else "soap"
    return via_hub(hub, hub_url, database.upper(), _direct(database, url), protocol=protocol) | options


@pytest.fixture(scope="module")
def configs(
    sector_urls: dict[str, str], hubs: tuple[tuple[NdxpHub, str], tuple[NdxpHub, str]]
) -> dict[str, dict[str, Any]]:
    (hub, hub_url), (hanging, hanging_url) = hubs
    found: dict[str, dict[str, Any]] = {}
    for database, url in sector_urls.items():
        found[database] = _routed(database, hub, hub_url, url)
        found[f"{database}_slow"] = _routed(database, hanging, hanging_url, url, timeout_seconds=0.5)
        closed = f"http://127.0.0.1:{free_port()}"
        found[f"{database}_unreachable"] = _routed(database, NdxpHub(), closed, url, timeout_seconds=2)
    return found


@pytest.fixture(scope="module")
def business_config(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["business"]


@pytest.fixture(scope="module")
def business_slow(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["business_slow"]


@pytest.fixture(scope="module")
def business_unreachable(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["business_unreachable"]


@pytest.fixture(scope="module")
def judicial_config(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["judicial_records"]


@pytest.fixture(scope="module")
def judicial_slow(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["judicial_records_slow"]


@pytest.fixture(scope="module")
def judicial_unreachable(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["judicial_records_unreachable"]


@pytest.fixture(scope="module")
def business_ids(enterprises: tuple[dict[str, Any], ...]) -> list[str]:
    return sorted({e["ma_so_dn"] for e in enterprises[:3]})


@pytest.fixture(scope="module")
def business_searches(enterprises: tuple[dict[str, Any], ...]) -> list[SearchCase]:
    representative = enterprises[3]["nguoi_dai_dien"]["so_dinh_danh"]
    theirs = [e["ma_so_dn"] for e in enterprises if e["nguoi_dai_dien"]["so_dinh_danh"] == representative]
    return [
        SearchCase(EnterpriseQuery(name="CÔNG TY")),
        SearchCase(EnterpriseQuery(representative_personal_id=representative), theirs),
    ]


@pytest.fixture(scope="module")
def judicial_ids() -> list[str]:
    rows, _ = planted_requests()
    return [rows[0]["so_ho_so"], rows[1]["so_ho_so"]]


@pytest.fixture(scope="module")
def judicial_searches() -> list[SearchCase]:
    rows, planted = planted_requests()
    mine = [r["so_ho_so"] for r in rows if r["so_dinh_danh"] == planted]
    return [SearchCase(CertificateRequestQuery(applicant_personal_id=planted), mine)]


TestBusinessThroughThePlatform = connector_test_class(
    BusinessConnector,
    config=fixture("business_config"),
    known_ids=fixture("business_ids"),
    missing_id="0100233488",
    unreachable_config=fixture("business_unreachable"),
    slow_config=fixture("business_slow"),
    searches=fixture("business_searches"),
    entry_point="business",
    fail_upstream=fixture("fail_upstream"),
)

TestJudicialRecordsThroughThePlatform = connector_test_class(
    JudicialRecordsConnector,
    config=fixture("judicial_config"),
    known_ids=fixture("judicial_ids"),
    missing_id="LLTP-68-2020-999999",
    unreachable_config=fixture("judicial_unreachable"),
    slow_config=fixture("judicial_slow"),
    searches=fixture("judicial_searches"),
    entry_point="judicial_records",
    fail_upstream=fixture("fail_upstream"),
)
