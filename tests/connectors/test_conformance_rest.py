"""The conformance kit applied to the generic REST connector, configured for the simulated population API.

Twice: numbered pages with AppName/AccessKey/SecretKey headers, and Link-header pages with OAuth 2.0 client
credentials. The slow case is another instance of the API that never answers.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from sector_conformance import simulated_test_class

from connectors.rest import RestConnector
from connectors.testing import SearchCase
from contracts.population import CitizenQuery
from simulators.population_api import ApiServer, rest_connector_config


@pytest.fixture(scope="module")
def simulated_server(api_server: ApiServer) -> ApiServer:
    """The shared population API (``api_server``: the kit switches each failure back off after it)."""
    return api_server


@pytest.fixture(scope="module")
def simulated_hanging_url(hanging_api_url: str) -> str:
    return hanging_api_url


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

TestRestWithPages = simulated_test_class(
    RestConnector,
    make_config=functools.partial(rest_connector_config, auth="access_key", pagination="page"),
    missing_id="068099000000",
    invalid_configs=INVALID,
    entry_point="rest",
)

TestRestWithLinks = simulated_test_class(
    RestConnector,
    make_config=functools.partial(rest_connector_config, auth="oauth2_client_credentials", pagination="link"),
    missing_id="068099000000",
    entry_point="rest",
)
