"""The conformance kit applied to the health insurance connector, against the simulated Vietnam Social Security API
served on 127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from sector_conformance import base_url_config, simulated_test_class
from sector_rest_fixtures import PLANTED_NAME, SEED, TODAY, plant_name, world

from connectors.health_insurance import HealthInsuranceConnector
from connectors.testing import SearchCase
from contracts.health_insurance import HealthInsuranceCardQuery
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
def simulated_api(records: VssRecords) -> Callable[..., VssApi]:
    return functools.partial(VssApi, records)


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


TestHealthInsuranceConformance = simulated_test_class(
    HealthInsuranceConnector,
    make_config=base_url_config(DEFAULT_AUTH.connector_auth()),
    missing_id="DN4999999999999",
    invalid_configs=[
        {"base_url": "http://127.0.0.1", "get": {"path": "/the"}},
        {"base_url": "http://127.0.0.1", "value_maps": {"no_such_field": {"a": "b"}}},
        {"base_url": "http://127.0.0.1", "auth": {"type": "oauth2_client_credentials", "token_url": "ftp://x/t"}},
    ],
    entry_point="health_insurance",
)
