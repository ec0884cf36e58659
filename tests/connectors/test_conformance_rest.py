"""The conformance kit applied to the generic REST connector, configured for the simulated population API.

Twice: numbered pages with AppName/AccessKey/SecretKey headers, and Link-header pages with OAuth 2.0 client
credentials. The slow case is another instance of the API that never answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from support import free_port
from upstream_failures import failing

from connectors.rest import RestConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.population import CitizenQuery
from simulators.population_api import ApiServer, rest_connector_config


@pytest.fixture(scope="module")
def fail_upstream(api_server: ApiServer) -> Callable[[UpstreamFailure | None], None]:
    """Makes the sector system fail as the conformance kit asks (its misbehaviour switch)."""
    return failing(api_server.api.switch)


@pytest.fixture(scope="module")
def known_ids(population_sector: Any) -> list[str]:
    rows = population_sector.rows
    return [rows[2]["so_dinh_danh"], rows[-2]["so_dinh_danh"], population_sector.planted_ids[5]]


@pytest.fixture(scope="module")
def searches(population_sector: Any) -> list[SearchCase]:
    with_card = next(r for r in population_sector.rows[100:] if r["so_cmnd"])
    name, year = population_sector.planted_name, population_sector.planted_year
    return [
        SearchCase(CitizenQuery(full_name=name, date_of_birth=str(year)), population_sector.planted_ids),
        SearchCase(CitizenQuery(old_id_number=with_card["so_cmnd"]), [with_card["so_dinh_danh"]]),
        SearchCase(CitizenQuery(full_name="Không Có Ai", date_of_birth="1990-01"), []),
    ]


@pytest.fixture(scope="module")
def api_url(api_server: ApiServer) -> str:
    return api_server.url


@pytest.fixture(scope="module")
def api_received(api_server: ApiServer) -> Callable[[], Sequence[Mapping[str, str]]]:
    """The headers of every request the API received (for the kit's request-context check)."""
    return api_server.api.middleware.received.headers


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _config(url: str, **options: Any) -> dict[str, Any]:
    return rest_connector_config(url, **options)


@pytest.fixture(scope="module")
def pages_config(api_url: str) -> dict[str, Any]:
    return _config(api_url, auth="access_key", pagination="page")


@pytest.fixture(scope="module")
def pages_unreachable(closed_port_url: str) -> dict[str, Any]:
    return _config(closed_port_url, auth="access_key", pagination="page", timeout_seconds=2)


@pytest.fixture(scope="module")
def pages_slow(hanging_api_url: str) -> dict[str, Any]:
    return _config(hanging_api_url, auth="access_key", pagination="page", timeout_seconds=0.5)


@pytest.fixture(scope="module")
def links_config(api_url: str) -> dict[str, Any]:
    return _config(api_url, auth="oauth2_client_credentials", pagination="link")


@pytest.fixture(scope="module")
def links_unreachable(closed_port_url: str) -> dict[str, Any]:
    return _config(closed_port_url, auth="oauth2_client_credentials", pagination="link", timeout_seconds=2)


@pytest.fixture(scope="module")
def links_slow(hanging_api_url: str) -> dict[str, Any]:
    return _config(hanging_api_url, auth="oauth2_client_credentials", pagination="link", timeout_seconds=0.5)


INVALID = [
    {"base_url": "ftp://127.0.0.1/x", "contract": "population.citizen", "get": {"path": "/{record_id}"}, "fields": {}},
    {"base_url": "http://127.0.0.1", "contract": "population.citizen", "get": {"path": "/no-placeholder"}},
    {
        "base_url": "http://127.0.0.1",
        "contract": "no.such.contract",
        "get": {"path": "/{record_id}"},
        "fields": {"personal_id": "id"},
    },
]

TestRestWithPages = connector_test_class(
    RestConnector,
    config=fixture("pages_config"),
    known_ids=fixture("known_ids"),
    missing_id="068099000000",
    unreachable_config=fixture("pages_unreachable"),
    slow_config=fixture("pages_slow"),
    searches=fixture("searches"),
    invalid_configs=INVALID,
    entry_point="rest",
    received_headers=fixture("api_received"),
    fail_upstream=fixture("fail_upstream"),
)

TestRestWithLinks = connector_test_class(
    RestConnector,
    config=fixture("links_config"),
    known_ids=fixture("known_ids"),
    missing_id="068099000000",
    unreachable_config=fixture("links_unreachable"),
    slow_config=fixture("links_slow"),
    searches=fixture("searches"),
    entry_point="rest",
    received_headers=fixture("api_received"),
    fail_upstream=fixture("fail_upstream"),
)
