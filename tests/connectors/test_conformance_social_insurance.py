"""The conformance kit applied to the social insurance connector, against the simulated Vietnam Social Security
API served on 127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from sector_rest_fixtures import PLANTED_NAME, SEED, TODAY, plant_name, world
from support import free_port
from upstream_failures import failing

from connectors.social_insurance import SocialInsuranceConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.social_insurance import ParticipantQuery
from simulators.http import Misbehaviour, SimulatorServer
from simulators.vss_api.app import DEFAULT_AUTH, VssApi
from simulators.vss_api.records import VssRecords, build_vss_records


@pytest.fixture(scope="module")
def records() -> VssRecords:
    citizens, enterprises = world()
    built = build_vss_records(citizens, enterprises, seed=SEED, today=TODAY)
    women = [k for k, p in built.participants.items() if p["nguoiThamGia"]["gioiTinh"] == "Nữ"]
    year = max(
        sorted({built.participants[k]["nguoiThamGia"]["ngaySinh"][-4:] for k in women}),
        key=lambda y: sum(built.participants[k]["nguoiThamGia"]["ngaySinh"].endswith(y) for k in women),
    )
    chosen = [k for k in women if built.participants[k]["nguoiThamGia"]["ngaySinh"].endswith(year)][:9]
    plant_name(built.participants, chosen, "nguoiThamGia", "hoTen")
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
    by_status = {p["trangThai"]: code for code, p in records.participants.items()}
    assert {"DANG_DONG", "TAM_DUNG", "HUONG_LUONG_HUU", "DA_CHET"} <= set(by_status)
    return sorted(by_status.values())


@pytest.fixture(scope="module")
def searches(records: VssRecords) -> list[SearchCase]:
    planted = sorted(k for k, p in records.participants.items() if p["nguoiThamGia"]["hoTen"] == PLANTED_NAME)
    year = records.participants[planted[0]]["nguoiThamGia"]["ngaySinh"][-4:]
    someone = records.participants[sorted(records.participants)[-3]]["nguoiThamGia"]
    return [
        SearchCase(ParticipantQuery(full_name=PLANTED_NAME, date_of_birth=year), planted),
        SearchCase(ParticipantQuery(full_name="trần  thị mẫu", date_of_birth=f"{year}"), planted),
        SearchCase(ParticipantQuery(personal_id=someone["soDinhDanh"]), [sorted(records.participants)[-3]]),
        SearchCase(ParticipantQuery(personal_id="068099000000"), []),
    ]


TestSocialInsuranceConformance = connector_test_class(
    SocialInsuranceConnector,
    config=fixture("config"),
    known_ids=fixture("known_ids"),
    missing_id="9999999999",
    unreachable_config=fixture("unreachable"),
    slow_config=fixture("slow"),
    searches=fixture("searches"),
    invalid_configs=[
        {"base_url": "ftp://127.0.0.1/x"},
        {"base_url": "http://127.0.0.1", "fields": {"status": "trangThai"}},
        {"base_url": "http://127.0.0.1", "fields": {"social_insurance_code": "maSoBhxh", "no_such_field": "x"}},
    ],
    entry_point="social_insurance",
    received_headers=fixture("received_headers"),
    fail_upstream=fixture("fail_upstream"),
)
