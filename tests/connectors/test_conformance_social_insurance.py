"""The conformance kit applied to the social insurance connector, against the simulated Vietnam Social Security
API served on 127.0.0.1 (and an instance of it that never answers)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from sector_conformance import base_url_config, simulated_test_class
from sector_rest_fixtures import PLANTED_NAME, SEED, TODAY, plant_name, world

from connectors.social_insurance import SocialInsuranceConnector
from connectors.testing import SearchCase
from contracts.social_insurance import ParticipantQuery
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
def simulated_api(records: VssRecords) -> Callable[..., VssApi]:
    return functools.partial(VssApi, records)


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


TestSocialInsuranceConformance = simulated_test_class(
    SocialInsuranceConnector,
    make_config=base_url_config(DEFAULT_AUTH.connector_auth()),
    missing_id="9999999999",
    invalid_configs=[
        {"base_url": "ftp://127.0.0.1/x"},
        {"base_url": "http://127.0.0.1", "fields": {"status": "trangThai"}},
        {"base_url": "http://127.0.0.1", "fields": {"social_insurance_code": "maSoBhxh", "no_such_field": "x"}},
    ],
    entry_point="social_insurance",
)
