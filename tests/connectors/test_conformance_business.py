"""The conformance kit applied to the business registration connector, against the simulated business registry API
served on 127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from sector_conformance import base_url_config, simulated_test_class
from sector_rest_fixtures import world

from connectors.business import BusinessConnector
from connectors.testing import SearchCase
from contracts.business import EnterpriseQuery
from contracts.names import normalize_name
from simulators.business_api import DEFAULT_AUTH, BusinessApi


@pytest.fixture(scope="module")
def enterprises() -> tuple[dict[str, Any], ...]:
    return world()[1]


@pytest.fixture(scope="module")
def simulated_api(enterprises: tuple[dict[str, Any], ...]) -> Callable[..., BusinessApi]:
    return functools.partial(BusinessApi, enterprises)


@pytest.fixture(scope="module")
def known_ids(enterprises: tuple[dict[str, Any], ...]) -> list[str]:
    by_status = {e["tinh_trang"]: e["ma_so_dn"] for e in enterprises}
    with_branches = next(e["ma_so_dn"] for e in enterprises if e["chi_nhanh"])
    assert len(by_status) >= 2
    return sorted({*by_status.values(), with_branches})


def _named(enterprises: tuple[dict[str, Any], ...], part: str) -> list[str]:
    wanted = normalize_name(part)
    return [
        e["ma_so_dn"]
        for e in enterprises
        if wanted in normalize_name(e["ten_tieng_viet"]) or wanted in normalize_name(e["ten_tieng_anh"] or "")
    ]


@pytest.fixture(scope="module")
def searches(enterprises: tuple[dict[str, Any], ...]) -> list[SearchCase]:
    companies = _named(enterprises, "công ty")
    assert len(companies) > 10
    representative = enterprises[3]["nguoi_dai_dien"]["so_dinh_danh"]
    theirs = [e["ma_so_dn"] for e in enterprises if e["nguoi_dai_dien"]["so_dinh_danh"] == representative]
    return [
        SearchCase(EnterpriseQuery(name="CÔNG TY"), companies),
        SearchCase(EnterpriseQuery(name="company limited"), _named(enterprises, "company limited")),
        SearchCase(EnterpriseQuery(representative_personal_id=representative), theirs),
        SearchCase(EnterpriseQuery(name="Không Có Tên Này"), []),
    ]


TestBusinessConformance = simulated_test_class(
    BusinessConnector,
    make_config=base_url_config(DEFAULT_AUTH.connector_auth()),
    missing_id="0100233488",
    invalid_configs=[
        {"base_url": "http://127.0.0.1", "auth": {"type": "api_key"}},
        {"base_url": "http://127.0.0.1", "fields": {"name": "TenTiengViet"}},
        {"base_url": "http://127.0.0.1", "search": {"path": "/x", "filters": {"tax_office": "x"}, "items": "@"}},
    ],
    entry_point="business",
)
