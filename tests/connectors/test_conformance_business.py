"""The conformance kit applied to the business registration connector, against the simulated business registry API
served on 127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from sector_rest_fixtures import world
from support import free_port
from upstream_failures import failing

from connectors.business import BusinessConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.business import EnterpriseQuery
from contracts.names import normalize_name
from simulators.business_api import DEFAULT_AUTH, BusinessApi
from simulators.http import Misbehaviour, SimulatorServer


@pytest.fixture(scope="module")
def enterprises() -> tuple[dict[str, Any], ...]:
    return world()[1]


@pytest.fixture(scope="module")
def business_server(enterprises: tuple[dict[str, Any], ...]) -> Iterator[SimulatorServer]:
    with SimulatorServer(BusinessApi(enterprises)) as server:
        yield server


@pytest.fixture(scope="module")
def business_url(business_server: SimulatorServer) -> str:
    return business_server.url


@pytest.fixture(scope="module")
def received_headers(business_server: SimulatorServer) -> Callable[[], Sequence[Mapping[str, str]]]:
    """The headers of every request the API received (for the kit's request-context check)."""
    return business_server.api.middleware.received.headers


@pytest.fixture(scope="module")
def hanging_business_url(enterprises: tuple[dict[str, Any], ...]) -> Iterator[str]:
    with SimulatorServer(BusinessApi(enterprises, misbehaviour=Misbehaviour(mode="hang"))) as server:
        yield server.url


@pytest.fixture(scope="module")
def fail_upstream(business_server: SimulatorServer) -> Callable[[UpstreamFailure | None], None]:
    """Makes the sector system fail as the conformance kit asks (its misbehaviour switch)."""
    return failing(business_server.api.switch)


def _config(url: str, **overrides: Any) -> dict[str, Any]:
    return {"base_url": url, "auth": DEFAULT_AUTH.connector_auth(), **overrides}


@pytest.fixture(scope="module")
def config(business_url: str) -> dict[str, Any]:
    return _config(business_url)


@pytest.fixture(scope="module")
def unreachable() -> dict[str, Any]:
    return _config(f"http://127.0.0.1:{free_port()}", timeout_seconds=2)


@pytest.fixture(scope="module")
def slow(hanging_business_url: str) -> dict[str, Any]:
    return _config(hanging_business_url, timeout_seconds=0.5)


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


TestBusinessConformance = connector_test_class(
    BusinessConnector,
    config=fixture("config"),
    known_ids=fixture("known_ids"),
    missing_id="0100233488",
    unreachable_config=fixture("unreachable"),
    slow_config=fixture("slow"),
    searches=fixture("searches"),
    invalid_configs=[
        {"base_url": "http://127.0.0.1", "auth": {"type": "api_key"}},
        {"base_url": "http://127.0.0.1", "fields": {"name": "TenTiengViet"}},
        {"base_url": "http://127.0.0.1", "search": {"path": "/x", "filters": {"tax_office": "x"}, "items": "@"}},
    ],
    entry_point="business",
    received_headers=fixture("received_headers"),
    fail_upstream=fixture("fail_upstream"),
)
