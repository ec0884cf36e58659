"""The conformance kit applied to the taxpayer status connector, against the simulated tax authority API served on
127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from sector_conformance import base_url_config, simulated_test_class
from sector_rest_fixtures import PLANTED_NAME, SEED, TODAY, world

from connectors.tax import TaxConnector
from connectors.testing import SearchCase
from contracts.names import normalize_name
from contracts.tax import TaxpayerQuery, TaxpayerType
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
def simulated_api(taxpayers: dict[str, dict[str, Any]]) -> Callable[..., TaxApi]:
    return functools.partial(TaxApi, taxpayers)


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


TestTaxConformance = simulated_test_class(
    TaxConnector,
    make_config=base_url_config(DEFAULT_AUTH.connector_auth()),
    missing_id="068099000000",
    invalid_configs=[
        {"base_url": "http://127.0.0.1", "auth": {"type": "bearer"}},
        {"base_url": "http://127.0.0.1", "fields": {"name": "ten_nnt"}},
        {"base_url": "http://127.0.0.1", "value_maps": {"no_such_field": {"a": "b"}}},
    ],
    entry_point="tax",
)
