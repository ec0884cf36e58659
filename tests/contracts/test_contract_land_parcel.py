"""The contract ``land.parcel`` v1: parcel ids, land use types, certificate and holders."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.land import LandParcel, LandParcelQuery, parcel_id


def example() -> dict[str, Any]:
    return copy.deepcopy(LandParcel.model_json_schema()["examples"][0])


def errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        LandParcel.model_validate(data)
    return [(e["loc"], e["type"]) for e in caught.value.errors()]


def test_registered_under_its_name() -> None:
    assert get_contract("land.parcel") is LandParcel
    record = LandParcel.model_validate(example())
    assert record.record_id() == parcel_id("24781", 12, 345) == "24781-12-345"
    assert record.location.ward_name == "Phường Xuân Hương - Đà Lạt"


def test_the_id_agrees_with_ward_sheet_and_number() -> None:
    assert errors(example() | {"parcel_number": 346}) == [(("parcel_id",), "parcel_id_mismatch")]
    data = example()
    data["location"]["ward_code"] = "24820"
    assert errors(data) == [(("parcel_id",), "parcel_id_mismatch")]


@pytest.mark.parametrize("value", ["24781-0-345", "24781-12-0", "2478-12-345", "24781-12345-1", "24781_12_345"])
def test_malformed_ids(value: str) -> None:
    assert errors(example() | {"parcel_id": value})[0][0] == ("parcel_id",)


def test_land_use_in_list_or_cadastral_notation() -> None:
    assert LandParcel.model_validate(example() | {"land_use": "ONT+CLN"}).land_use == ["ONT", "CLN"]
    assert LandParcel.model_validate(example() | {"land_use": ["LUC"]}).model_dump(mode="json")["land_use"] == ["LUC"]
    assert errors(example() | {"land_use": "ONT+ONT"}) == [(("land_use",), "duplicate_land_use")]
    assert errors(example() | {"land_use": "XYZ"})[0][0] == ("land_use", 0)
    assert errors(example() | {"land_use": []})[0][0] == ("land_use",)


@pytest.mark.parametrize(
    "serial", ["AA01234567", "aa 01234567", "AA 1234567", "A 01234567", "AA 12345", "AA 123456789"]
)
def test_certificate_serials(serial: str) -> None:
    assert errors(example() | {"certificate_serial": serial})[0][0] == ("certificate_serial",)


def test_certificate_date_and_holders() -> None:
    assert errors(example() | {"certificate_issue_date": "2999-01-01"}) == [
        (("certificate_issue_date",), "date_in_future")
    ]
    # A minor may hold land use rights (inherited, through a legal representative): only a certificate issued
    # before a holder was born is refused.
    assert LandParcel.model_validate(example() | {"certificate_issue_date": "1999-12-31"})
    assert errors(example() | {"certificate_issue_date": "1981-12-31"}) == [
        (("co_owner", "date_of_birth"), "holder_born_after_issue")
    ]
    data = example()
    data["co_owner"] = data["owner"]
    assert errors(data) == [(("co_owner", "personal_id"), "co_owner_is_owner")]
    alone = example()
    del alone["co_owner"]
    assert LandParcel.model_validate(alone).co_owner is None


def test_area_is_positive() -> None:
    assert errors(example() | {"area_m2": 0})[0][0] == ("area_m2",)


def test_queries() -> None:
    record = LandParcel.model_validate(example())
    assert LandParcelQuery(owner_personal_id="068080000456").matches(record)
    assert LandParcelQuery(owner_personal_id="068182000789").matches(record)  # the second holder
    assert LandParcelQuery(certificate_serial="AA 01234567").matches(record)
    assert not LandParcelQuery(owner_personal_id="068182000789", certificate_serial="AA 01234568").matches(record)
    with pytest.raises(ValidationError, match="needs owner_personal_id or certificate_serial"):
        LandParcelQuery()
